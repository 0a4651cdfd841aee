package exec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/osiris-go/osiris/pkg/component"
)

// hybridCache holds step outputs: always a parquet file, plus the Arrow
// batches in memory while the run's shared budget allows.
type hybridCache struct {
	budget int64 // bytes; 0 = nothing in memory; <0 = unlimited
	used   atomic.Int64

	mu      sync.Mutex
	outputs map[string]*stepOutput
}

func newHybridCache(budget int64) *hybridCache {
	return &hybridCache{budget: budget, outputs: map[string]*stepOutput{}}
}

// reserve takes n bytes of the budget, or reports that they do not fit.
func (c *hybridCache) reserve(n int64) bool {
	if c.budget < 0 {
		c.used.Add(n)
		return true
	}
	for {
		cur := c.used.Load()
		if cur+n > c.budget {
			return false
		}
		if c.used.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

func (c *hybridCache) unreserve(n int64) { c.used.Add(-n) }

func (c *hybridCache) add(o *stepOutput) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outputs[o.stepID] = o
}

func (c *hybridCache) get(id string) *stepOutput {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outputs[id]
}

// releaseAll drops every memory copy (end of run).
func (c *hybridCache) releaseAll() {
	c.mu.Lock()
	outs := make([]*stepOutput, 0, len(c.outputs))
	for _, o := range c.outputs {
		outs = append(outs, o)
	}
	c.mu.Unlock()
	for _, o := range outs {
		o.releaseMemory()
		o.releaseStream()
	}
}

// stepOutput is one step's output table in the cache.
type stepOutput struct {
	cache   *hybridCache
	stepID  string
	path    string // absolute path of output.parquet
	relPath string // relative to the run directory

	mu       sync.Mutex
	schema   *arrow.Schema
	holding  bool // still collecting batches in memory
	batches  []arrow.RecordBatch
	held     int64 // bytes of batches
	peak     int64
	rows     int64
	complete bool
	artifact *Artifact
	// consumersLeft counts consumers that have not finished; the memory copy
	// is released when it reaches 0.
	consumersLeft int
	finished      map[string]bool // consumers counted off (consumerFinished)

	// The stream (stream.go), when the run streams.
	streaming  bool
	open       bool // the tee runs: consumers may subscribe
	ended      bool // the step ended (endStream)
	failErr    error
	gap        bool // a published batch is no longer in memory
	base       int  // absolute index of entries[0]
	entries    []streamEntry
	streamHeld int64 // budget bytes of reserved entries
	subs       map[string]*subscriber
	changed    chan struct{} // closed and replaced on every change
	endedCh    chan struct{} // closed by endStream
}

// hold keeps rec in memory when the budget allows; otherwise it releases
// what the step held so far and stops holding (parquet-only from then on).
func (o *stepOutput) hold(rec arrow.RecordBatch, size int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.holding {
		return
	}
	if !o.cache.reserve(size) {
		o.dropLocked()
		o.holding = false
		return
	}
	rec.Retain()
	o.batches = append(o.batches, rec)
	o.held += size
	if o.held > o.peak {
		o.peak = o.held
	}
}

func (o *stepOutput) dropLocked() {
	for _, r := range o.batches {
		r.Release()
	}
	o.batches = nil
	o.cache.unreserve(o.held)
	o.held = 0
}

func (o *stepOutput) releaseMemory() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dropLocked()
	o.holding = false
}

// consumerDone is called once per consumer when it finishes (or is skipped).
func (o *stepOutput) consumerDone() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.consumersLeft--
	if o.consumersLeft <= 0 {
		o.dropLocked()
		o.holding = false
	}
}

// inMemoryBytes reports whether the step is still holding, and the bytes held.
func (o *stepOutput) inMemoryBytes() (bool, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.holding, o.held
}

// inMemory reports whether the complete table is held, and its bytes.
func (o *stepOutput) inMemory() (bool, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.complete && o.holding, o.held
}

// inputTable is a consumer's view of an upstream output (component.Table).
// The source is fixed when the consumer starts, so inputs_resolved tells the
// truth; the memory copy cannot go away while the consumer runs because the
// consumer holds a reference until it finishes.
type inputTable struct {
	out        *stepOutput
	source     string
	batchRows  int
	batchBytes int64
	alloc      memory.Allocator
	// delivered counts rows handed out through Open readers (for writers'
	// progress); may be nil.
	delivered *atomic.Int64
	consumer  string // the consuming step's id (DoneReading)
	opened    bool   // a stream input's subscription was opened
}

var _ component.Table = (*inputTable)(nil)

func (t *inputTable) StepID() string        { return t.out.stepID }
func (t *inputTable) Schema() *arrow.Schema { return t.out.schema }
func (t *inputTable) Rows() int64 {
	t.out.mu.Lock()
	defer t.out.mu.Unlock()
	return t.out.rows
}
func (t *inputTable) ParquetPath() string { return t.out.path }

// ParquetSource reports whether Open reads the committed parquet artifact
// (the output is neither held in memory nor streamed to this consumer);
// see component.FromParquet.
func (t *inputTable) ParquetSource() bool { return t.source == SourceParquet }

// Open returns a new reader over all rows.
func (t *inputTable) Open(ctx context.Context) (array.RecordReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if t.source == SourceStream {
		return t.openStreamed(ctx)
	}
	var rdr array.RecordReader
	if t.source == SourceMemory {
		t.out.mu.Lock()
		if t.out.holding && t.out.complete {
			r, err := array.NewRecordReader(t.out.schema, t.out.batches)
			if err != nil {
				t.out.mu.Unlock()
				return nil, fmt.Errorf("input from step %q: %w", t.out.stepID, err)
			}
			rdr = r
		}
		t.out.mu.Unlock()
	}
	if rdr == nil {
		r, err := openParquet(ctx, t.out.stepID, t.out.path, t.out.schema, t.batchRows, t.batchBytes, t.alloc)
		if err != nil {
			return nil, err
		}
		rdr = r
	}
	if t.delivered != nil {
		return &countingReader{RecordReader: rdr, n: t.delivered}, nil
	}
	return rdr, nil
}

// missingArtifactError names the upstream step and the path a consumer
// could not read.
func missingArtifactError(step, path string, err error) error {
	return fmt.Errorf("input from step %q is not in memory and its artifact %s cannot be read: %w", step, path, err)
}

// openParquet reads an artifact back in batches of batchRows rows or fewer,
// so that a batch holds about batchBytes at most,
// presenting the producer's schema when the types round-tripped unchanged.
func openParquet(ctx context.Context, step, path string, want *arrow.Schema, batchRows int, batchBytes int64, alloc memory.Allocator) (array.RecordReader, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, missingArtifactError(step, path, fs.ErrNotExist)
		}
		return nil, missingArtifactError(step, path, err)
	}
	pf, err := file.OpenParquetFile(path, false, file.WithReadProps(parquet.NewReaderProperties(alloc)))
	if err != nil {
		return nil, missingArtifactError(step, path, err)
	}
	rows := component.ParquetBatchRows(pf.MetaData(), batchRows, batchBytes)
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: rows}, alloc)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("input from step %q: reading %s: %w", step, path, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("input from step %q: reading %s: %w", step, path, err)
	}
	pr := &parquetReader{RecordReader: rr, file: pf}
	if want != nil && sameTypes(want, rr.Schema()) {
		pr.schema = want
	}
	return pr, nil
}

func sameTypes(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.Fields() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || !arrow.TypeEqual(fa.Type, fb.Type) {
			return false
		}
	}
	return true
}

// parquetReader closes the file with the reader and, when set, relabels
// batches with the producer's schema (parquet adds field metadata).
type parquetReader struct {
	array.RecordReader
	file   *file.Reader
	schema *arrow.Schema
	cur    arrow.RecordBatch
	refs   atomic.Int64 // extra references taken by Retain
}

func (p *parquetReader) Schema() *arrow.Schema {
	if p.schema != nil {
		return p.schema
	}
	return p.RecordReader.Schema()
}

func (p *parquetReader) Next() bool {
	if p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
	if !p.RecordReader.Next() {
		return false
	}
	if p.schema != nil {
		rec := p.RecordReader.RecordBatch()
		p.cur = array.NewRecordBatch(p.schema, rec.Columns(), rec.NumRows())
	}
	return true
}

func (p *parquetReader) RecordBatch() arrow.RecordBatch {
	if p.cur != nil {
		return p.cur
	}
	return p.RecordReader.RecordBatch()
}

// Record is the deprecated name of RecordBatch, still part of the interface.
func (p *parquetReader) Record() arrow.RecordBatch { return p.RecordBatch() }

func (p *parquetReader) Retain() { p.refs.Add(1) }

func (p *parquetReader) Release() {
	if p.refs.Add(-1) >= 0 {
		return
	}
	if p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
	p.RecordReader.Release()
	p.file.Close()
}

// countingReader counts rows as a consumer reads them.
type countingReader struct {
	array.RecordReader
	n *atomic.Int64
}

func (c *countingReader) Next() bool {
	if !c.RecordReader.Next() {
		return false
	}
	c.n.Add(c.RecordReader.RecordBatch().NumRows())
	return true
}
