package file

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/klauspost/compress/zstd"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
)

// Osiris-Python's CSV keys: real-world files (latin-1, compressed, with
// comments) and the writer's quotechar/delimiter/encoding.

func gzipBytes(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func zstdBytes(t *testing.T, s string) string {
	var b bytes.Buffer
	w, err := zstd.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCSVExtractorPythonKeys(t *testing.T) {
	root := t.TempDir()
	const plain = "id,name\n1,a\n2,b\n"
	writeFile(t, root, "latin1.csv", "id,city\n1,Orl\xe9ans\n2,K\xf8benhavn\n") // latin-1 bytes: é, ø
	writeFile(t, root, "data.csv.gz", gzipBytes(t, plain))
	writeFile(t, root, "data.gz.bin", gzipBytes(t, plain))
	writeFile(t, root, "data.csv.zst", zstdBytes(t, plain))
	writeFile(t, root, "comments.csv", "# exported 2024-01-01\nid,name\n# a comment line\n1,a\n2,b\n")
	writeFile(t, root, "blank.csv", "id,name\n1,a\n\n2,b\n\n")
	writeFile(t, root, "types.csv", "id,code,amount,day\n1,007,1.50,31.12.2024\n2,010,2.25,01.02.2023\n3,011,3,15.06.2022\n")
	writeFile(t, root, "junk_header.csv", "exported by a tool\nid,name\n1,a\n2,b\n")
	writeFile(t, root, "iso_dates.csv", "id,day\n1,2024-01-31\n2,2023-02-01\n")
	writeFile(t, root, "ascii.csv", "id,name\n1,plain\n2,caf\xc3\xa9\n")

	tests := []struct {
		name string
		cfg  component.Config
		want map[string]string // column → values joined by |
		typ  map[string]arrow.Type
	}{
		{"latin-1 with é", component.Config{"path": "latin1.csv", "encoding": "latin-1"},
			map[string]string{"city": "Orléans|København"}, nil},
		{"iso-8859-1 is latin-1", component.Config{"path": "latin1.csv", "encoding": "iso-8859-1"},
			map[string]string{"city": "Orléans|København"}, nil},
		{"gzip inferred from .gz", component.Config{"path": "data.csv.gz"},
			map[string]string{"name": "a|b"}, nil},
		{"gzip written", component.Config{"path": "data.gz.bin", "compression": "gzip"},
			map[string]string{"name": "a|b"}, nil},
		{"zstd inferred from .zst", component.Config{"path": "data.csv.zst"},
			map[string]string{"name": "a|b"}, nil},
		{"comment lines", component.Config{"path": "comments.csv", "comment": "#"},
			map[string]string{"id": "1|2", "name": "a|b"}, nil},
		{"blank lines skipped", component.Config{"path": "blank.csv", "skip_blank_lines": true},
			map[string]string{"id": "1|2"}, nil},
		{"limit", component.Config{"path": "types.csv", "limit": 2},
			map[string]string{"id": "1|2"}, nil},
		{"dtype and parse_dates", component.Config{"path": "types.csv", "date_format": "%d.%m.%Y",
			"dtype": map[string]any{"code": "str", "amount": "DECIMAL(10,2)", "id": "int32"}, "parse_dates": []any{"day"}},
			map[string]string{"code": "007|010|011", "amount": "1.5|2.25|3"},
			map[string]arrow.Type{"code": arrow.STRING, "amount": arrow.DECIMAL128, "id": arrow.INT32, "day": arrow.TIMESTAMP}},
		{"header as a row number", component.Config{"path": "junk_header.csv", "header": int64(1)},
			map[string]string{"id": "1|2", "name": "a|b"}, nil},
		{"parse_dates false keeps dates as text", component.Config{"path": "iso_dates.csv", "parse_dates": false},
			map[string]string{"day": "2024-01-31|2023-02-01"}, map[string]arrow.Type{"day": arrow.STRING, "id": arrow.INT64}},
		{"parse_dates true sniffs them", component.Config{"path": "iso_dates.csv", "parse_dates": true, "compression": "infer", "chunk_size": int64(10000)},
			nil, map[string]arrow.Type{"day": arrow.DATE32}},
		{"ascii file that is ascii", component.Config{"path": "comments.csv", "comment": "#", "encoding": "ascii"},
			map[string]string{"name": "a|b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := extractCSV(t, root, tt.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			for col, want := range tt.want {
				if got := strings.Join(colText(t, rec, col), "|"); got != want {
					t.Errorf("%s: %q, want %q", col, got, want)
				}
			}
			for col, want := range tt.typ {
				if got := colType(t, rec, col); got.ID() != want {
					t.Errorf("%s is %s, want %s", col, got, want)
				}
			}
		})
	}
	t.Run("parse_dates value", func(t *testing.T) {
		rec, err := extractCSV(t, root, component.Config{"path": "types.csv", "date_format": "%d.%m.%Y", "parse_dates": []any{"day"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Release()
		col := rec.Column(rec.Schema().FieldIndices("day")[0]).(*array.Timestamp)
		unit := col.DataType().(*arrow.TimestampType).Unit
		if got := col.Value(0).ToTime(unit).Format("2006-01-02 15:04"); got != "2024-12-31 00:00" {
			t.Errorf("day[0] = %s", got)
		}
	})
	t.Run("ascii refuses é naming row and column", func(t *testing.T) {
		req := componenttest.Request(t, component.Config{"path": "ascii.csv", "encoding": "ascii"}, nil, root)
		rr, err := CSVExtractor{}.Extract(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		for rr.Next() {
		}
		err = rr.Err()
		if err == nil || !strings.Contains(err.Error(), `row 2, column "name"`) || !strings.Contains(err.Error(), "é") {
			t.Fatalf("error %v", err)
		}
	})
}

// csvTable builds a table of id int64, name string (nullable), amount float64.
func csvTable(t *testing.T, names []string) *componenttest.MemTable {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i, n := range names {
		b.Field(0).(*array.Int64Builder).Append(int64(i + 1))
		if n == "<NULL>" {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(n)
		}
		b.Field(2).(*array.Float64Builder).Append(float64(i) + 0.5)
	}
	rec := b.NewRecordBatch()
	return componenttest.NewMemTable("in", schema, rec)
}

// TestCSVWriterQuoteDelimiterEncodingRoundTrip: written with quotechar ',
// delimiter ; and latin-1, the file reads back equal.
func TestCSVWriterQuoteDelimiterEncodingRoundTrip(t *testing.T) {
	names := []string{"Orléans", "it's; quoted", "plain", "<NULL>", "", `double "quotes"`, "line\nbreak"}
	for _, enc := range []string{"latin-1", "utf-16", "utf-8"} {
		t.Run(enc, func(t *testing.T) {
			root := t.TempDir()
			in := csvTable(t, names)
			_, err := writeCSV(t, root, component.Config{"path": "out.csv", "quotechar": "'", "delimiter": ";", "encoding": enc, "newline": "crlf"}, in)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := os.ReadFile(filepath.Join(root, "out.csv"))
			switch enc {
			case "latin-1":
				if !bytes.Contains(raw, []byte("Orl\xe9ans")) || !bytes.Contains(raw, []byte("'it''s; quoted'")) || !bytes.HasPrefix(raw, []byte("id;name;amount\r\n")) {
					t.Fatalf("latin-1 bytes: %q", raw)
				}
			case "utf-16":
				if !bytes.HasPrefix(raw, []byte{0xFF, 0xFE, 'i', 0}) {
					t.Fatalf("utf-16 must start with a little-endian BOM: % x", raw[:8])
				}
			}
			rec, err := extractCSV(t, root, component.Config{"path": "out.csv", "quote": "'", "delimiter": ";", "encoding": enc}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			want := strings.Join(names, "|")
			want = strings.ReplaceAll(want, "<NULL>", "NULL")
			if got := strings.Join(colText(t, rec, "name"), "|"); got != want {
				t.Errorf("names read back:\n got %q\nwant %q", got, want)
			}
			if got := strings.Join(colText(t, rec, "amount"), "|"); got != "0.5|1.5|2.5|3.5|4.5|5.5|6.5" {
				t.Errorf("amounts %s", got)
			}
		})
	}
}

func TestCSVWriterEncodingRefusals(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "keep.csv", "old content\n")
	tests := []struct {
		enc   string
		names []string
		want  string
	}{
		{"ascii", []string{"plain", "Orléans"}, `row 2, column "name": ascii cannot encode 'é' (U+00E9) in "Orléans"`},
		{"latin-1", []string{"ok", "é is fine", "snow ☃"}, `row 3, column "name": latin-1 cannot encode '☃' (U+2603)`},
	}
	for _, tt := range tests {
		t.Run(tt.enc, func(t *testing.T) {
			_, err := writeCSV(t, root, component.Config{"path": "keep.csv", "encoding": tt.enc}, csvTable(t, tt.names))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if got := readText(t, filepath.Join(root, "keep.csv")); got != "old content\n" {
				t.Errorf("target changed by a failed write: %q", got)
			}
		})
	}
}

// TestCSVSpecChecks: the spec's checks, which the validator runs.
func TestCSVSpecChecks(t *testing.T) {
	field := func(spec component.Spec, name string) component.Field {
		f, ok := spec.Field(name)
		if !ok || f.Check == nil {
			t.Fatalf("%s.%s has no check", spec.Name, name)
		}
		return f
	}
	tests := []struct {
		spec  component.Spec
		key   string
		value any
		ok    bool
	}{
		{CSVWriterSpec, "quotechar", "'", true},
		{CSVWriterSpec, "quotechar", "''", false},
		{CSVWriterSpec, "quotechar", "«", false},
		{CSVWriterSpec, "delimiter", "\t", true},
		{CSVWriterSpec, "delimiter", "\n", false},
		{CSVExtractorSpec, "comment", "#", true},
		{CSVExtractorSpec, "comment", "//", false},
		{CSVExtractorSpec, "skip_blank_lines", false, false},
		{CSVExtractorSpec, "header", int64(2), true},
		{CSVExtractorSpec, "header", int64(-1), false},
		{CSVExtractorSpec, "header", "yes", false},
		{CSVExtractorSpec, "parse_dates", []any{"a", "b"}, true},
		{CSVExtractorSpec, "parse_dates", []any{"a", int64(1)}, false},
		{CSVExtractorSpec, "dtype", map[string]any{"a": "int64", "b": "DECIMAL(12, 2)", "c": "varchar"}, true},
		{CSVExtractorSpec, "dtype", map[string]any{"a": "int64", "b": "category"}, false},
		{CSVExtractorSpec, "dtype", map[string]any{"a": "INT); DROP TABLE x; --"}, false},
	}
	for _, tt := range tests {
		err := field(tt.spec, tt.key).Check(tt.value)
		if (err == nil) != tt.ok {
			t.Errorf("%s %s=%v: error %v, want ok=%v", tt.spec.Name, tt.key, tt.value, err, tt.ok)
		}
	}
}
