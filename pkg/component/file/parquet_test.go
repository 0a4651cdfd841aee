package file

import (
	"context"
	"math"
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

// everyTypeTable has one column per type the drivers produce, extremes and
// a NULL row. Not duration: pqarrow cannot write it ("not implemented").
func everyTypeTable(t testing.TB) *componenttest.MemTable {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "tsz", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "t64", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	maxDec, _ := decimal128.FromString("9999999999999999999999999999.9999999999", 38, 10)
	ts := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
	b.Field(0).(*array.Int8Builder).AppendValues([]int8{math.MinInt8, math.MaxInt8}, nil)
	b.Field(1).(*array.Int16Builder).AppendValues([]int16{math.MinInt16, math.MaxInt16}, nil)
	b.Field(2).(*array.Int32Builder).AppendValues([]int32{math.MinInt32, math.MaxInt32}, nil)
	b.Field(3).(*array.Int64Builder).AppendValues([]int64{math.MinInt64, math.MaxInt64}, nil)
	b.Field(4).(*array.Uint8Builder).AppendValues([]uint8{0, math.MaxUint8}, nil)
	b.Field(5).(*array.Uint64Builder).AppendValues([]uint64{0, math.MaxUint64}, nil)
	b.Field(6).(*array.Float32Builder).AppendValues([]float32{-1.5, math.MaxFloat32}, nil)
	b.Field(7).(*array.Float64Builder).AppendValues([]float64{math.SmallestNonzeroFloat64, math.Inf(1)}, nil)
	b.Field(8).(*array.Decimal128Builder).AppendValues([]decimal128.Num{maxDec.Negate(), maxDec}, nil)
	b.Field(9).(*array.StringBuilder).AppendValues([]string{"", "héllo 👋 שלום"}, nil)
	b.Field(10).(*array.LargeStringBuilder).AppendValues([]string{strings.Repeat("x", 1<<20), "y"}, nil)
	b.Field(11).(*array.BinaryBuilder).AppendValues([][]byte{{}, {0, 0xff}}, nil)
	b.Field(12).(*array.Date32Builder).AppendValues([]arrow.Date32{arrow.Date32FromTime(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)), arrow.Date32FromTime(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))}, nil)
	b.Field(13).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{0, arrow.Timestamp(ts)}, nil)
	b.Field(14).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{-1, arrow.Timestamp(ts)}, nil)
	b.Field(15).(*array.Time64Builder).AppendValues([]arrow.Time64{0, 86399999999}, nil)
	b.Field(16).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	for _, f := range b.Fields() {
		f.AppendNull()
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return componenttest.NewMemTable("every", schema, rec)
}

func extractParquet(t *testing.T, root string, cfg component.Config) (arrow.RecordBatch, error) {
	t.Helper()
	req := componenttest.Request(t, cfg, nil, root)
	rr, err := ParquetExtractor{}.Extract(context.Background(), req)
	if err != nil {
		return nil, err
	}
	schema := rr.Schema()
	recs, _ := componenttest.Drain(t, rr)
	defer release(recs)
	tbl := array.NewTableFromRecords(schema, recs)
	defer tbl.Release()
	return concatTable(t, tbl), nil
}

func TestParquetRoundTripEveryType(t *testing.T) {
	for _, codec := range []string{"zstd", "snappy", "gzip", "none"} {
		t.Run(codec, func(t *testing.T) {
			root := t.TempDir()
			in := everyTypeTable(t)
			req := componenttest.Request(t, component.Config{"path": "out/x.parquet", "compression": codec}, nil, root)
			res, err := ParquetWriter{}.Write(context.Background(), req, in)
			if err != nil {
				t.Fatal(err)
			}
			if res.RowsWritten != 3 || res.Files[0] != "out/x.parquet" {
				t.Fatalf("result %+v", res)
			}
			got, err := extractParquet(t, root, component.Config{"path": "out/x.parquet"})
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			want := in.Records[0]
			for i, f := range want.Schema().Fields() {
				gf := got.Schema().Field(i)
				if gf.Name != f.Name || !arrow.TypeEqual(gf.Type, f.Type) {
					t.Errorf("column %s %s came back as %s %s", f.Name, f.Type, gf.Name, gf.Type)
					continue
				}
				if !array.Equal(want.Column(i), got.Column(i)) {
					t.Errorf("column %s: values differ", f.Name)
				}
			}
		})
	}
}

func TestParquetGlobAndProjection(t *testing.T) {
	root := t.TempDir()
	write := func(path string, in component.Table) {
		req := componenttest.Request(t, component.Config{"path": path}, nil, root)
		if _, err := (ParquetWriter{}).Write(context.Background(), req, in); err != nil {
			t.Fatal(err)
		}
	}
	write("parts/a.parquet", everyTypeTable(t))
	write("parts/b.parquet", everyTypeTable(t))
	write("odd/a.parquet", everyTypeTable(t))
	write("odd/b.parquet", mixedTable(t))

	rec, err := extractParquet(t, root, component.Config{"path": "parts/*.parquet", "columns": []any{"s", "i64"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != 6 || rec.NumCols() != 2 || rec.Schema().Field(0).Name != "s" || rec.Schema().Field(1).Name != "i64" {
		t.Fatalf("got %v", rec.Schema())
	}
	if v := rec.Column(1).(*array.Int64).Value(4); v != math.MaxInt64 {
		t.Fatalf("i64 row 5: %d", v)
	}

	_, err = extractParquet(t, root, component.Config{"path": "odd/*.parquet"})
	if err == nil || !strings.Contains(err.Error(), "odd/b.parquet has columns") {
		t.Fatalf("mismatched schemas: %v", err)
	}
	_, err = extractParquet(t, root, component.Config{"path": "parts/a.parquet", "columns": []any{"nope"}})
	if err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Fatalf("unknown column: %v", err)
	}
}
