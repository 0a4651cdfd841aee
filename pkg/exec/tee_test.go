package exec

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkTee measures the hot path every extract/transform output takes:
// batches → parquet (zstd) + table digest + memory holder + row counter.
// 10 columns of mixed types, 65,536-row batches, like W1's shape.
func BenchmarkTee(b *testing.B) {
	for _, tc := range []struct {
		name   string
		budget int64
		codec  string
	}{
		{"zstd_memory", -1, "zstd"},
		{"zstd_parquet_only", 0, "zstd"},
		{"snappy_memory", -1, "snappy"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const batchRows, batches = 65536, 8
			mem := memory.DefaultAllocator
			recs := make([]arrow.RecordBatch, batches)
			var bytes int64
			for i := range recs {
				recs[i] = genBatch(mem, int64(i*batchRows), int64((i+1)*batchRows), 0, false, batchRows*batches)
				bytes += recordBytes(recs[i])
			}
			defer func() {
				for _, r := range recs {
					r.Release()
				}
			}()
			codec, _ := compressionCodec(tc.codec)
			dir := b.TempDir()
			b.SetBytes(bytes)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := &run{codec: codec, batchRows: batchRows, cache: newHybridCache(tc.budget),
					em: &emitter{mask: func(s string) string { return s }, now: time.Now}}
				out := &stepOutput{cache: r.cache, stepID: "bench", path: filepath.Join(dir, "output.parquet"),
					relPath: "artifacts/bench/output.parquet", holding: tc.budget != 0, consumersLeft: 1}
				rdr, _ := array.NewRecordReader(genSchema, recs)
				st, err := r.tee(context.Background(), "bench", out, rdr)
				rdr.Release()
				if err != nil {
					b.Fatal(err)
				}
				if st.rows != batchRows*batches {
					b.Fatalf("rows %d", st.rows)
				}
				out.releaseMemory()
			}
			b.ReportMetric(float64(batchRows*batches)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func TestUnsupportedParquetTypeIsAClearError(t *testing.T) {
	for _, tc := range []struct {
		dt arrow.DataType
		ok bool
	}{
		{arrow.FixedWidthTypes.Duration_us, false},
		{arrow.FixedWidthTypes.MonthDayNanoInterval, false},
		{arrow.BinaryTypes.StringView, false},
		{arrow.ListOf(arrow.FixedWidthTypes.Duration_s), false},
		{arrow.ListOf(arrow.PrimitiveTypes.Int32), true},
		{arrow.BinaryTypes.LargeString, true},
		{&arrow.Decimal256Type{Precision: 65, Scale: 30}, true},
	} {
		t.Run(tc.dt.String(), func(t *testing.T) {
			sc := arrow.NewSchema([]arrow.Field{{Name: "elapsed", Type: tc.dt, Nullable: true}}, nil)
			err := checkParquetTypes(sc)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), `column "elapsed"`) {
				t.Errorf("error does not name the column: %v", err)
			}
			if !tc.ok {
				return
			}
			// Whatever the check lets through, the parquet writer takes.
			b := array.NewBuilder(memory.DefaultAllocator, tc.dt)
			b.AppendNull()
			arr := b.NewArray()
			defer arr.Release()
			rec := array.NewRecordBatch(sc, []arrow.Array{arr}, 1)
			defer rec.Release()
			codec, _ := compressionCodec("zstd")
			aw, err := newArtifactWriter(filepath.Join(t.TempDir(), "output.parquet"), sc, codec, 10, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := aw.write(rec); err != nil {
				t.Fatal(err)
			}
			if _, _, err := aw.commit(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
