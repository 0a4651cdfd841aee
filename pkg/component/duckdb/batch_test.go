package duckdb

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Rebatch ends a batch at rows rows or maxBytes bytes, whichever comes
// first, slices a chunk larger than maxBytes, delivers every row once in
// order, and declares every field nullable.
func TestRebatchBoundsRowsAndBytes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "body", Type: arrow.BinaryTypes.String}}, nil)
	wide := strings.Repeat("x", 1000)
	chunk := func(from, n int, body string) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		for i := from; i < from+n; i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append(body)
		}
		return b.NewRecordBatch()
	}
	for _, tc := range []struct {
		name     string
		chunks   [][2]int // start, rows
		body     string
		rows     int
		maxBytes int64
		maxOut   int64 // most rows a batch may have
	}{
		{"narrow rows: the row bound", [][2]int{{0, 100}, {100, 100}, {200, 50}}, "a", 64, 1 << 20, 64},
		{"wide rows: the byte bound", [][2]int{{0, 10}, {10, 10}, {20, 10}, {30, 10}}, wide, 1000, 25_000, 20},
		{"a chunk wider than the bound is sliced", [][2]int{{0, 100}}, wide, 1000, 10_000, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recs []arrow.RecordBatch
			for _, c := range tc.chunks {
				recs = append(recs, chunk(c[0], c[1], tc.body))
			}
			src, err := array.NewRecordReader(schema, recs)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				r.Release()
			}
			rr := Rebatch(src, tc.rows, tc.maxBytes, mem)
			defer rr.Release()
			for _, f := range rr.Schema().Fields() {
				if !f.Nullable {
					t.Errorf("field %s is not nullable", f.Name)
				}
			}
			next, batches := int64(0), 0
			for rr.Next() {
				rec := rr.RecordBatch()
				batches++
				if !rec.Schema().Equal(rr.Schema()) {
					t.Errorf("batch schema %s differs from the reader's", rec.Schema())
				}
				if rec.NumRows() > tc.maxOut {
					t.Errorf("batch of %d rows, want ≤ %d", rec.NumRows(), tc.maxOut)
				}
				ids := rec.Column(0).(*array.Int64)
				for i := 0; i < ids.Len(); i++ {
					if ids.Value(i) != next {
						t.Fatalf("row %d has id %d", next, ids.Value(i))
					}
					next++
				}
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			last := tc.chunks[len(tc.chunks)-1]
			if next != int64(last[0]+last[1]) {
				t.Errorf("%d rows delivered, want %d", next, last[0]+last[1])
			}
			t.Logf("%d batches", batches)
		})
	}
}
