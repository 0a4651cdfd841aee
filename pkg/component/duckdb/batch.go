package duckdb

import (
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/component"
)

// Rebatch returns a reader that yields batches of exactly rows rows (the
// last one may be shorter) from src, whatever sizes src produces. DuckDB
// hands results over in chunks of 2048 rows; the engine wants
// run.batch_rows per batch (one parquet row group, fewer events), so small
// chunks are concatenated (one copy) and large ones sliced (no copy).
// Empty batches are dropped. Rebatch takes over the caller's reference to
// src. rows <= 0 returns src unchanged.
//
// Every field of the batches it yields is nullable
// (component.NullableSchema): DuckDB, CSV and parquet sources may declare
// NOT NULL, and the engine trusts no source's nullability.
//
// A batch also ends once it holds maxBytes (component.Request.MaxBatchBytes):
// concatenating chunks of wide values must not overflow Arrow's 32-bit
// offsets; a single chunk larger than that is sliced.
func Rebatch(src array.RecordReader, rows int, maxBytes int64, alloc memory.Allocator) array.RecordReader {
	if rows <= 0 {
		return src
	}
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	if maxBytes <= 0 {
		maxBytes = component.DefaultBatchBytes
	}
	return &rebatcher{src: src, schema: component.NullableSchema(src.Schema()), rows: int64(rows), maxBytes: maxBytes, alloc: alloc, refs: 1}
}

type rebatcher struct {
	src    array.RecordReader
	schema *arrow.Schema // src's, every field nullable
	rows   int64
	// maxBytes bounds a batch's payload; pendingBytes is pending's (a
	// slice counts its whole buffers: it errs towards smaller batches).
	maxBytes, pendingBytes int64
	alloc                  memory.Allocator
	refs                   int64

	pending     []arrow.RecordBatch // retained, in order
	pendingRows int64
	cur         arrow.RecordBatch
	err         error
	srcDone     bool
}

func (r *rebatcher) Retain() { atomic.AddInt64(&r.refs, 1) }

func (r *rebatcher) Release() {
	if atomic.AddInt64(&r.refs, -1) != 0 {
		return
	}
	r.releaseCurrent()
	for _, p := range r.pending {
		p.Release()
	}
	r.pending = nil
	r.src.Release()
}

func (r *rebatcher) Schema() *arrow.Schema { return r.schema }

func (r *rebatcher) Err() error { return r.err }

func (r *rebatcher) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is the deprecated name of RecordBatch.
func (r *rebatcher) Record() arrow.RecordBatch { return r.cur }

func (r *rebatcher) releaseCurrent() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}

func (r *rebatcher) Next() bool {
	r.releaseCurrent()
	if r.err != nil {
		return false
	}
	for !r.srcDone && r.pendingRows < r.rows && r.pendingBytes < r.maxBytes {
		if !r.src.Next() {
			r.srcDone = true
			if err := r.src.Err(); err != nil {
				r.err = err
				return false
			}
			break
		}
		rec := r.src.RecordBatch()
		if rec.NumRows() == 0 {
			continue
		}
		rec.Retain()
		r.pending = append(r.pending, rec)
		r.pendingRows += rec.NumRows()
		r.pendingBytes += bufferBytes(rec)
	}
	if r.pendingRows == 0 {
		return false
	}
	out, err := r.take(r.rowsWithin(min(r.rows, r.pendingRows)))
	r.pendingBytes = 0
	for _, p := range r.pending {
		r.pendingBytes += bufferBytes(p)
	}
	if err != nil {
		r.err = err
		return false
	}
	r.cur = component.WithSchema(out, r.schema)
	out.Release()
	return true
}

// rowsWithin is how many rows from the front of pending (at most limit, at
// least 1) fit in maxBytes; a first chunk larger than that alone gives a
// share of its rows proportional to maxBytes.
func (r *rebatcher) rowsWithin(limit int64) int64 {
	var n, size int64
	for _, p := range r.pending {
		b, k := bufferBytes(p), p.NumRows()
		if size+b > r.maxBytes {
			if n == 0 {
				n = max(1, k*r.maxBytes/max(b, 1))
			}
			break
		}
		size += b
		n += k
		if n >= limit {
			break
		}
	}
	return min(max(n, 1), limit)
}

// bufferBytes is the length of every buffer rec references.
func bufferBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBufferBytes(c.Data())
	}
	return n
}

func dataBufferBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBufferBytes(c)
	}
	return n
}

// take removes n rows from the front of pending and returns them as one batch.
func (r *rebatcher) take(n int64) (arrow.RecordBatch, error) {
	first := r.pending[0]
	if first.NumRows() >= n {
		// One source batch covers the output: slice, no copy.
		var out arrow.RecordBatch
		if first.NumRows() == n {
			out = first
			r.pending = r.pending[1:]
		} else {
			out = first.NewSlice(0, n)
			rest := first.NewSlice(n, first.NumRows())
			first.Release()
			r.pending[0] = rest
		}
		r.pendingRows -= n
		return out, nil
	}
	var parts []arrow.RecordBatch
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	need := n
	for need > 0 {
		p := r.pending[0]
		if p.NumRows() <= need {
			parts = append(parts, p)
			r.pending = r.pending[1:]
			need -= p.NumRows()
			continue
		}
		parts = append(parts, p.NewSlice(0, need))
		rest := p.NewSlice(need, p.NumRows())
		p.Release()
		r.pending[0] = rest
		need = 0
	}
	r.pendingRows -= n
	schema := r.src.Schema()
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	chunks := make([]arrow.Array, len(parts))
	for i := range cols {
		for j, p := range parts {
			chunks[j] = p.Column(i)
		}
		c, err := array.Concatenate(chunks, r.alloc)
		if err != nil {
			return nil, fmt.Errorf("joining batches of column %q: %w", schema.Field(i).Name, err)
		}
		cols[i] = c
	}
	return array.NewRecordBatch(schema, cols, n), nil
}
