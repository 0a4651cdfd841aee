package duckdb

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
)

// BenchmarkDuckDBGroupBy: 1M rows (key utf8, int64, float64) in → group by
// 1000 keys → out. MB/s counts the input's Arrow buffers.
func BenchmarkDuckDBGroupBy(b *testing.B) {
	const rows, batch = 1_000_000, 65536
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	var recs []arrow.RecordBatch
	var bytes int64
	for off := 0; off < rows; off += batch {
		bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := off; i < min(rows, off+batch); i++ {
			bld.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("key%d", i%1000))
			bld.Field(1).(*array.Int64Builder).Append(int64(i))
			bld.Field(2).(*array.Float64Builder).Append(float64(i) / 3)
		}
		rec := bld.NewRecordBatch()
		bld.Release()
		for _, c := range rec.Columns() {
			for _, buf := range c.Data().Buffers() {
				if buf != nil {
					bytes += int64(buf.Len())
				}
			}
		}
		recs = append(recs, rec)
	}
	tbl := componenttest.NewMemTable("src", schema, recs...)
	in := component.Inputs{{Names: []string{"input_df"}, Table: tbl}}
	req := componenttest.Request(b, component.Config{"query": "SELECT k, count(*) AS n, sum(v) AS s, avg(f) AS a FROM input_df GROUP BY k"}, nil, "")
	req.BatchRows = 65536
	b.SetBytes(bytes)
	b.ResetTimer()
	for b.Loop() {
		rr, err := Processor{}.Transform(context.Background(), req, in)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for rr.Next() {
			n += rr.RecordBatch().NumRows()
		}
		if err := rr.Err(); err != nil {
			b.Fatal(err)
		}
		rr.Release()
		if n != 1000 {
			b.Fatalf("%d groups", n)
		}
	}
}
