package file

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
)

func writeCSV(t *testing.T, root string, cfg component.Config, in component.Table) (component.WriteResult, error) {
	t.Helper()
	req := componenttest.Request(t, cfg, nil, root)
	return CSVWriter{}.Write(context.Background(), req, in)
}

func readText(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCSVRoundTrip: CSV → csv_extractor → csv_writer gives the same bytes.
func TestCSVRoundTrip(t *testing.T) {
	const original = `id,price,day,ts,name,flag,code
1,1.5,2024-03-31,2024-03-31 02:30:00,"hello, world",true,007
2,-0.25,1999-12-01,2024-03-31 02:30:00.5,"say ""hi""",false,010
3,,1000-01-01,2000-01-01 00:00:00.123456,"line
break",true,
4,100,9999-12-31,,"",,x1
5,1e+20,,1970-01-01 00:00:00,héllo 👋 שלום,false,""
`
	root := t.TempDir()
	writeFile(t, root, "in.csv", original)
	req := componenttest.Request(t, component.Config{"path": "in.csv"}, nil, root)
	rr, err := CSVExtractor{}.Extract(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	schema := rr.Schema()
	recs, _ := componenttest.Drain(t, rr)
	defer release(recs)
	t.Logf("sniffed schema: %v", schema)
	res, err := writeCSV(t, root, component.Config{"path": "out/out.csv"}, componenttest.NewMemTable("x", schema, recs...))
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 5 || len(res.Files) != 1 || res.Files[0] != "out/out.csv" {
		t.Fatalf("result %+v", res)
	}
	if got := readText(t, filepath.Join(root, "out/out.csv")); got != original {
		t.Fatalf("round trip differs:\n got: %q\nwant: %q", got, original)
	}
}

func mixedTable(t testing.TB) *componenttest.MemTable {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
		{Name: "tz", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "Europe/Paris"}, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	big, _ := decimal128.FromString("-9999999999999999999999999999.9999999999", 38, 10)
	small, _ := decimal128.FromString("0.0000000001", 38, 10)
	ts := time.Date(2024, 3, 31, 2, 30, 0, 0, time.UTC).UnixMicro()
	bld.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, []bool{true, true, false})
	bld.Field(1).(*array.StringBuilder).AppendValues([]string{"a;b", "", "x"}, []bool{true, true, false})
	bld.Field(2).(*array.Decimal128Builder).AppendValues([]decimal128.Num{big, small, {}}, []bool{true, true, false})
	bld.Field(3).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(ts), arrow.Timestamp(ts + 1), 0}, []bool{true, true, false})
	bld.Field(4).(*array.BinaryBuilder).AppendValues([][]byte{{0xde, 0xad}, {}, nil}, []bool{true, true, false})
	bld.Field(5).(*array.Float64Builder).AppendValues([]float64{math.Inf(-1), 1e-7, 0}, []bool{true, true, false})
	rec := bld.NewRecordBatch()
	defer rec.Release()
	return componenttest.NewMemTable("mixed", schema, rec)
}

func TestCSVWriterOptions(t *testing.T) {
	tests := []struct {
		name string
		cfg  component.Config
		want string
	}{
		{"minimal", component.Config{},
			"id,s,d,tz,b,f\n" +
				"1,a;b,-9999999999999999999999999999.9999999999,2024-03-31 02:30:00Z,dead,-Infinity\n" +
				`2,"",0.0000000001,2024-03-31 02:30:00.000001Z,"",1e-07` + "\n" +
				",,,,,\n"},
		{"all, crlf, ';'", component.Config{"quoting": "all", "newline": "crlf", "delimiter": ";"},
			`"id";"s";"d";"tz";"b";"f"` + "\r\n" +
				`"1";"a;b";"-9999999999999999999999999999.9999999999";"2024-03-31 02:30:00Z";"dead";"-Infinity"` + "\r\n" +
				`"2";"";"0.0000000001";"2024-03-31 02:30:00.000001Z";"";"1e-07"` + "\r\n" +
				";;;;;\r\n"},
		{"nonnumeric, no header", component.Config{"quoting": "nonnumeric", "header": false},
			`1,"a;b",-9999999999999999999999999999.9999999999,"2024-03-31 02:30:00Z","dead",-Infinity` + "\n" +
				`2,"",0.0000000001,"2024-03-31 02:30:00.000001Z","",1e-07` + "\n" +
				",,,,,\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.cfg["path"] = "x.csv"
			if _, err := writeCSV(t, root, tt.cfg, mixedTable(t)); err != nil {
				t.Fatal(err)
			}
			if got := readText(t, filepath.Join(root, "x.csv")); got != tt.want {
				t.Fatalf("\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
	if _, err := writeCSV(t, t.TempDir(), component.Config{"path": "x.csv", "delimiter": "ab"}, mixedTable(t)); err == nil {
		t.Fatal("two-character delimiter accepted")
	}
	if _, err := writeCSV(t, t.TempDir(), component.Config{"path": "no/dir/x.csv", "create_dirs": false}, mixedTable(t)); err == nil {
		t.Fatal("missing directory accepted without create_dirs")
	}
}

// failingTable yields its first batch, then an error.
type failingTable struct{ *componenttest.MemTable }

func (f failingTable) Open(ctx context.Context) (array.RecordReader, error) {
	return &failingReader{rec: f.Records[0], schema: f.Sch}, nil
}

type failingReader struct {
	rec    arrow.RecordBatch
	schema *arrow.Schema
	calls  int
}

func (r *failingReader) Retain()                        {}
func (r *failingReader) Release()                       {}
func (r *failingReader) Schema() *arrow.Schema          { return r.schema }
func (r *failingReader) RecordBatch() arrow.RecordBatch { return r.rec }
func (r *failingReader) Record() arrow.RecordBatch      { return r.rec }
func (r *failingReader) Next() bool                     { r.calls++; return r.calls == 1 }
func (r *failingReader) Err() error {
	if r.calls > 1 {
		return errors.New("upstream broke")
	}
	return nil
}

// TestWritersAtomic: a writer whose input fails midway leaves the previous
// file exactly as it was and no temporary file.
func TestWritersAtomic(t *testing.T) {
	writers := map[string]component.Writer{"csv": CSVWriter{}, "parquet": ParquetWriter{}}
	for name, w := range writers {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			target := filepath.Join(root, "out", "data."+name)
			writeFile(t, root, "out/data."+name, "previous content")
			req := componenttest.Request(t, component.Config{"path": "out/data." + name}, nil, root)
			_, err := w.Write(context.Background(), req, failingTable{mixedTable(t)})
			if err == nil || !strings.Contains(err.Error(), "upstream broke") {
				t.Fatalf("error %v", err)
			}
			if got := readText(t, target); got != "previous content" {
				t.Fatalf("previous file changed: %q", got)
			}
			entries, _ := os.ReadDir(filepath.Dir(target))
			if len(entries) != 1 {
				t.Fatalf("left behind: %v", entries)
			}
		})
	}
}

func BenchmarkCSVWriter(b *testing.B) {
	const rows, batch = 1_000_000, 65536
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "price", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	var recs []arrow.RecordBatch
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for off := 0; off < rows; off += batch {
		bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := off; i < min(rows, off+batch); i++ {
			bld.Field(0).(*array.Int64Builder).Append(int64(i))
			bld.Field(1).(*array.StringBuilder).Append("movie title, part " + string(rune('A'+i%26)))
			bld.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i % 100000)))
			bld.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(base + int64(i)*1_000_000))
			bld.Field(4).(*array.Float64Builder).Append(float64(i) / 7)
		}
		recs = append(recs, bld.NewRecordBatch())
		bld.Release()
	}
	tbl := componenttest.NewMemTable("src", schema, recs...)
	root := b.TempDir()
	req := componenttest.Request(b, component.Config{"path": "bench.csv"}, nil, root)
	var size int64
	for b.Loop() {
		if _, err := (CSVWriter{}).Write(context.Background(), req, tbl); err != nil {
			b.Fatal(err)
		}
		st, _ := os.Stat(filepath.Join(root, "bench.csv"))
		size = st.Size()
	}
	b.SetBytes(size)
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
