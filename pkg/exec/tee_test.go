package exec

import (
	"context"
	"path/filepath"
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
