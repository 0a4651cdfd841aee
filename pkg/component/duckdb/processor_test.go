package duckdb

import (
	"context"
	"errors"
	"fmt"
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

// idValueTable is a table (id int64, name utf8) with n rows split into
// batches of batch rows; name is "name<id>".
func idValueTable(t testing.TB, stepID string, n, batch int) *componenttest.MemTable {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	var recs []arrow.RecordBatch
	for off := 0; off < n; off += batch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := off; i < min(n, off+batch); i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("name%d", i))
		}
		recs = append(recs, b.NewRecordBatch())
		b.Release()
	}
	tbl := componenttest.NewMemTable(stepID, schema, recs...)
	for _, r := range recs {
		r.Release()
	}
	return tbl
}

func transform(t *testing.T, query string, batchRows int, in component.Inputs) (array.RecordReader, error) {
	t.Helper()
	req := componenttest.Request(t, component.Config{"query": query}, nil, "")
	if batchRows > 0 {
		req.BatchRows = batchRows
	}
	return Processor{}.Transform(context.Background(), req, in)
}

// firstInt64 returns column 0 of the first row.
func firstInt64(t *testing.T, recs []arrow.RecordBatch) int64 {
	t.Helper()
	if len(recs) == 0 || recs[0].NumRows() == 0 {
		t.Fatal("no rows")
	}
	return recs[0].Column(0).(*array.Int64).Value(0)
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

func TestProcessorQueries(t *testing.T) {
	movies := idValueTable(t, "extract_movies", 50, 7)
	directors := idValueTable(t, "extract_directors", 10, 3)
	single := component.Inputs{{Names: []string{"input_df", "df_extract_movies", "movies"}, Table: movies}}
	two := component.Inputs{
		{Names: []string{"df_extract_movies", "movies"}, Table: movies},
		{Names: []string{"df_extract_directors", "directors"}, Table: directors},
	}
	tests := []struct {
		name  string
		query string
		in    component.Inputs
		want  int64 // first column of the first row
	}{
		{"single input as input_df", "SELECT count(*) FROM input_df WHERE id >= 10", single, 40},
		{"df_ name", "SELECT count(*) FROM df_extract_movies", single, 50},
		{"inputs: name, any case", "SELECT count(*) FROM MOVIES", single, 50},
		{"join by df_ names", "SELECT count(*) FROM df_extract_movies m JOIN df_extract_directors d ON m.id = d.id", two, 10},
		{"join by inputs: names", "SELECT sum(d.id)::BIGINT FROM movies m JOIN directors d USING (id)", two, 45},
		{"filter on a view", "SELECT count(*) FROM movies WHERE name = 'name3' OR id IN (7, 8) OR id > 47", single, 5},
		{"projection of the second column", "SELECT count(*) FROM (SELECT name FROM movies) WHERE name LIKE 'name1%'", single, 11},
		{"self-join", "SELECT count(*) FROM input_df a JOIN input_df b ON a.id = b.id", single, 50},
		{"self-join through two names", "SELECT (SELECT count(*) FROM movies) + (SELECT count(*) FROM df_extract_movies)", single, 100},
		{"cte inlined twice (seen by EXPLAIN)", "WITH c AS NOT MATERIALIZED (SELECT * FROM input_df) SELECT count(*) FROM c a JOIN c b ON a.id = b.id", single, 50},
		{"cross join count", "SELECT count(*) FROM input_df a, input_df b", single, 2500},
		{"several statements", "SELECT 1; SELECT count(*) FROM input_df a JOIN input_df USING (id)", single, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr, err := transform(t, tt.query, 0, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			recs, _ := componenttest.Drain(t, rr)
			defer release(recs)
			if got := firstInt64(t, recs); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestProcessorErrors(t *testing.T) {
	movies := idValueTable(t, "extract_movies", 5, 5)
	in := component.Inputs{{Names: []string{"input_df", "df_extract_movies", "movies"}, Table: movies}}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"unknown table", "SELECT * FROM foo", []string{`step "test": table "foo" is not an input; available: input_df, df_extract_movies, movies`}},
		{"unknown table in a join", "SELECT * FROM movies JOIN directors USING (id)", []string{`table "directors" is not an input`}},
		{"sql error keeps duckdb's message", "SELECT nam FROM input_df", []string{`step "test"`, `"nam" not found`, `Candidate bindings: "name"`, "LINE 1: SELECT nam"}},
		{"syntax error", "SELEC 1", []string{"syntax error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr, err := transform(t, tt.query, 0, in)
			if err == nil {
				rr.Release()
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	_, err := transform(t, "SELECT * FROM foo", 0, in)
	var ute *UnknownTableError
	if !errors.As(err, &ute) || ute.Table != "foo" {
		t.Fatalf("want *UnknownTableError for foo, got %#v", err)
	}
}

func TestProcessorBatchBoundaries(t *testing.T) {
	const batchRows = 100
	for _, n := range []int{0, 1, batchRows - 1, batchRows, batchRows + 1, 5000} {
		for _, inBatch := range []int{1, 33, batchRows, 4096} {
			t.Run(fmt.Sprintf("rows=%d/in_batch=%d", n, inBatch), func(t *testing.T) {
				tbl := idValueTable(t, "src", n, inBatch)
				rr, err := transform(t, "SELECT * FROM input_df", batchRows, component.Inputs{{Names: []string{"input_df"}, Table: tbl}})
				if err != nil {
					t.Fatal(err)
				}
				if rr.Schema().NumFields() != 2 || rr.Schema().Field(1).Name != "name" {
					t.Fatalf("schema lost: %v", rr.Schema())
				}
				recs, got := componenttest.Drain(t, rr)
				defer release(recs)
				if got != int64(n) {
					t.Fatalf("rows: got %d, want %d", got, n)
				}
				var sum int64
				for i, r := range recs {
					if r.NumRows() > batchRows || (i < len(recs)-1 && r.NumRows() != batchRows) {
						t.Errorf("batch %d has %d rows (batch_rows %d)", i, r.NumRows(), batchRows)
					}
					ids := r.Column(0).(*array.Int64)
					for j := 0; j < ids.Len(); j++ {
						sum += ids.Value(j)
					}
				}
				if want := int64(n) * int64(n-1) / 2; sum != want {
					t.Errorf("sum of ids %d, want %d", sum, want)
				}
			})
		}
	}
}

func TestProcessorEmptyInputKeepsSchema(t *testing.T) {
	tbl := idValueTable(t, "src", 0, 1)
	rr, err := transform(t, "SELECT id, name, id * 2 AS twice FROM input_df", 0, component.Inputs{{Names: []string{"input_df"}, Table: tbl}})
	if err != nil {
		t.Fatal(err)
	}
	schema := rr.Schema()
	recs, n := componenttest.Drain(t, rr)
	release(recs)
	if n != 0 {
		t.Fatalf("%d rows", n)
	}
	if schema.NumFields() != 3 || schema.Field(2).Name != "twice" || schema.Field(1).Type.ID() != arrow.STRING {
		t.Fatalf("schema: %v", schema)
	}
}

// typedTable has one column per type that must survive DuckDB unchanged,
// with extreme values and a NULL row.
func typedTable(t testing.TB) *componenttest.MemTable {
	t.Helper()
	dec38 := &arrow.Decimal128Type{Precision: 38, Scale: 10}
	dec10 := &arrow.Decimal128Type{Precision: 10, Scale: 2}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "d38", Type: dec38, Nullable: true},
		{Name: "d10", Type: dec10, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "tsz", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	maxDec, _ := decimal128.FromString("9999999999999999999999999999.9999999999", 38, 10)
	minDec, _ := decimal128.FromString("-9999999999999999999999999999.9999999999", 38, 10)
	ts := time.Date(2024, 3, 31, 2, 30, 0, 123456000, time.UTC)
	bld.Field(0).(*array.Int8Builder).AppendValues([]int8{math.MinInt8, math.MaxInt8}, nil)
	bld.Field(1).(*array.Int64Builder).AppendValues([]int64{math.MinInt64, math.MaxInt64}, nil)
	bld.Field(2).(*array.Uint64Builder).AppendValues([]uint64{0, math.MaxUint64}, nil)
	bld.Field(3).(*array.Float64Builder).AppendValues([]float64{-0.1, 1e300}, nil)
	bld.Field(4).(*array.Decimal128Builder).AppendValues([]decimal128.Num{minDec, maxDec}, nil)
	bld.Field(5).(*array.Decimal128Builder).AppendValues([]decimal128.Num{decimal128.FromI64(-12345), decimal128.FromI64(99999999)}, nil)
	bld.Field(6).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(ts.UnixMicro()), arrow.Timestamp(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro())}, nil)
	bld.Field(7).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(ts.UnixMicro()), arrow.Timestamp(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())}, nil)
	bld.Field(8).(*array.Date32Builder).AppendValues([]arrow.Date32{arrow.Date32FromTime(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)), arrow.Date32FromTime(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))}, nil)
	bld.Field(9).(*array.StringBuilder).AppendValues([]string{"", "héllo 👋 שלום"}, nil)
	bld.Field(10).(*array.BinaryBuilder).AppendValues([][]byte{{}, {0, 1, 0xff}}, nil)
	bld.Field(11).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	for _, f := range bld.Fields() {
		f.AppendNull()
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	return componenttest.NewMemTable("typed", schema, rec)
}

func TestProcessorTypesSurviveSelectStar(t *testing.T) {
	tbl := typedTable(t)
	rr, err := transform(t, "SELECT * FROM input_df", 0, component.Inputs{{Names: []string{"input_df"}, Table: tbl}})
	if err != nil {
		t.Fatal(err)
	}
	recs, n := componenttest.Drain(t, rr)
	defer release(recs)
	if n != 3 || len(recs) != 1 {
		t.Fatalf("rows %d in %d batches", n, len(recs))
	}
	want := tbl.Records[0]
	got := recs[0]
	for i, f := range want.Schema().Fields() {
		gf := got.Schema().Field(i)
		if gf.Name != f.Name || !arrow.TypeEqual(gf.Type, f.Type) {
			t.Errorf("column %s: type %s came back as %s %s", f.Name, f.Type, gf.Name, gf.Type)
			continue
		}
		if !array.Equal(want.Column(i), got.Column(i)) {
			t.Errorf("column %s: values %v came back as %v", f.Name, want.Column(i), got.Column(i))
		}
	}
}

// TestProcessorFilters covers the filter shapes DuckDB pushes into scans
// (lost or crashing on a plain Arrow view, see Processor): each must give
// the count computed by hand.
func TestProcessorFilters(t *testing.T) {
	movies := idValueTable(t, "extract_movies", 3000, 1000)
	directors := idValueTable(t, "extract_directors", 100, 30)
	in := component.Inputs{
		{Names: []string{"df_extract_movies", "movies"}, Table: movies},
		{Names: []string{"df_extract_directors", "directors"}, Table: directors},
	}
	tests := []struct {
		query string
		want  int64
	}{
		{"SELECT count(*) FROM movies WHERE id > 100", 2899},
		{"SELECT count(*) FROM movies WHERE name = 'name5'", 1},
		{"SELECT count(*) FROM movies WHERE id IN (1, 2, 3000, 2999)", 3},
		{"SELECT count(*) FROM movies WHERE id BETWEEN 10 AND 20 AND name <> 'name15'", 10},
		{"SELECT count(*) FROM movies WHERE name IS NULL", 0},
		{"SELECT count(*) FROM movies WHERE name IS NOT NULL", 3000},
		{"SELECT count(*) FROM movies m JOIN directors d USING (id) WHERE d.id < 50", 50},
		{"SELECT count(*) FROM (SELECT * FROM movies ORDER BY id DESC LIMIT 7) WHERE id > 2995", 4},
		{"SELECT count(*) FROM movies WHERE name LIKE 'name29%'", 111},
		{"SELECT sum(id)::BIGINT FROM movies WHERE id % 1000 = 0", 3000},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rr, err := transform(t, tt.query, 0, in)
			if err != nil {
				t.Fatal(err)
			}
			recs, _ := componenttest.Drain(t, rr)
			defer release(recs)
			if got := firstInt64(t, recs); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestLibraryVersion(t *testing.T) {
	if v := LibraryVersion(); !strings.HasPrefix(v, "v1.") {
		t.Fatalf("LibraryVersion() = %q", v)
	}
}
