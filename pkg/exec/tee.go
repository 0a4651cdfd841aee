package exec

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// minRowGroupRows keeps row groups reasonably large when batches are small;
// a row group is buffered (encoded) in memory until it is complete, so it is
// also bounded by bytes (the run's batch bytes, see batchBytesFor).
const minRowGroupRows = 128 * 1024

// compressionCodec maps Options.Compression to a parquet codec.
func compressionCodec(name string) (compress.Compression, error) {
	switch strings.ToLower(name) {
	case "", "zstd":
		return compress.Codecs.Zstd, nil
	case "snappy":
		return compress.Codecs.Snappy, nil
	case "gzip":
		return compress.Codecs.Gzip, nil
	case "none", "uncompressed":
		return compress.Codecs.Uncompressed, nil
	}
	return compress.Codecs.Uncompressed, fmt.Errorf("unknown parquet compression %q (use zstd, snappy, gzip or none)", name)
}

// artifactWriter writes one parquet artifact under a temporary name and
// renames it into place only when complete, hashing the bytes on the way.
type artifactWriter struct {
	finalPath string
	tmpPath   string
	f         *os.File
	buf       *bufio.Writer
	sha       hash.Hash
	n         atomic.Int64 // bytes written so far; read by progress events
	pw        *pqarrow.FileWriter
	done      bool
	// rgBytes is the Arrow payload written into the current row group;
	// a new one starts before it would pass rgLimit.
	rgBytes, rgLimit int64
}

// Write implements io.Writer for the parquet writer. artifactWriter has no
// Close method on purpose: pqarrow would close the file before the fsync.
func (w *artifactWriter) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	w.sha.Write(p[:n])
	w.n.Add(int64(n))
	return n, err
}

func newArtifactWriter(path string, schema *arrow.Schema, codec compress.Compression, batchRows int, rowGroupBytes int64) (*artifactWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating artifact directory: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating artifact: %w", err)
	}
	w := &artifactWriter{finalPath: path, tmpPath: tmp, f: f, buf: bufio.NewWriterSize(f, 1<<20), sha: sha256.New(), rgLimit: rowGroupBytes}
	rg := int64(max(batchRows, minRowGroupRows))
	props := parquet.NewWriterProperties(
		parquet.WithCompression(codec),
		parquet.WithMaxRowGroupLength(rg),
		parquet.WithCreatedBy("osiris"),
		// Dictionary encoding hashes every value of every column until the
		// dictionary overflows; on extract-shaped data (ids, amounts,
		// timestamps) that made the tee 4-6x slower (BenchmarkTee) for a
		// file zstd already shrinks well.
		parquet.WithDictionaryDefault(false),
	)
	pw, err := pqarrow.NewFileWriter(schema, w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("starting parquet writer: %w", err)
	}
	w.pw = pw
	return w, nil
}

func (w *artifactWriter) write(rec arrow.RecordBatch) error {
	size := recordBytes(rec)
	if w.rgLimit > 0 && w.rgBytes > 0 && w.rgBytes+size > w.rgLimit {
		if err := w.pw.NewBufferedRowGroupChecked(); err != nil {
			return fmt.Errorf("writing artifact: %w", err)
		}
		w.rgBytes = 0
	}
	w.rgBytes += size
	if err := w.pw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("writing artifact: %w", err)
	}
	return nil
}

// commit finishes the file, fsyncs it and renames it to its final name.
func (w *artifactWriter) commit() (bytes int64, sum string, err error) {
	w.done = true
	fail := func(e error) (int64, string, error) {
		w.f.Close()
		os.Remove(w.tmpPath)
		return 0, "", e
	}
	if err := w.pw.Close(); err != nil {
		return fail(fmt.Errorf("finishing artifact: %w", err))
	}
	if err := w.buf.Flush(); err != nil {
		return fail(fmt.Errorf("writing artifact: %w", err))
	}
	if err := w.f.Sync(); err != nil {
		return fail(fmt.Errorf("syncing artifact: %w", err))
	}
	if err := w.f.Close(); err != nil {
		return fail(fmt.Errorf("closing artifact: %w", err))
	}
	if err := os.Rename(w.tmpPath, w.finalPath); err != nil {
		return fail(fmt.Errorf("renaming artifact: %w", err))
	}
	syncDir(filepath.Dir(w.finalPath))
	return w.n.Load(), "sha256:" + hex.EncodeToString(w.sha.Sum(nil)), nil
}

// abort drops the temporary file; nothing appears under the final name.
// After a panic in the encoder its state is unknown: closing it may panic
// again, which must not hide the first failure.
func (w *artifactWriter) abort() {
	if w.done {
		return
	}
	w.done = true
	func() {
		defer func() { _ = recover() }()
		w.pw.Close()
	}()
	w.f.Close()
	os.Remove(w.tmpPath)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// teeStats is what the tee measured.
type teeStats struct {
	rows     int64
	artifact *Artifact
}

// tee drains a step's output stream: every batch goes to the parquet
// artifact, to the memory cache while the budget allows, to the row counter
// and to the table digest (on its own goroutine, overlapping the parquet
// encoding). This is the only place outputs are stored; drivers never write
// artifacts.
func (r *run) tee(ctx context.Context, step string, out *stepOutput, rdr array.RecordReader) (_ teeStats, err error) {
	defer func() {
		if sp := (*stagePanic)(nil); errors.As(err, &sp) {
			r.env.Log.Error().Str("step", step).Str("stack", r.mask(string(sp.stack))).Msg(sp.Error())
		}
	}()
	schema := rdr.Schema()
	if schema == nil {
		return teeStats{}, errors.New("driver returned a stream without a schema")
	}
	if err := checkParquetTypes(schema); err != nil {
		return teeStats{}, err
	}
	if out.openStream(schema) {
		r.wakeScheduler()
	}

	aw, err := newArtifactWriter(out.path, schema, r.codec, r.batchRows, r.batchBytes)
	if err != nil {
		return teeStats{}, err
	}
	defer aw.abort()

	// The parquet encoder and the digest each run on their own goroutine,
	// so reading the next batch from the driver (network, DuckDB) overlaps
	// with encoding the previous one.
	digest := NewDigestBuilder(schema)
	digestStage := startBatchStage("table digest", digest.Add)
	defer digestStage.close()
	parquetStage := startBatchStage("parquet encoder", aw.write)
	defer parquetStage.close()

	var notNull []int // fields declared non-nullable
	for i, f := range schema.Fields() {
		if !f.Nullable {
			notNull = append(notNull, i)
		}
	}

	var rows, memBytes int64
	lastProgress := time.Now()
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			return teeStats{}, err
		}
		rec := rdr.RecordBatch()
		if rec.NumRows() == 0 {
			continue
		}
		if !rec.Schema().Equal(schema) {
			return teeStats{}, fmt.Errorf("batch %d rows in: its schema %s differs from the stream's %s", rows, rec.Schema(), schema)
		}
		for _, i := range notNull {
			if n := rec.Column(i).NullN(); n > 0 {
				// parquet would store "" or 0 where memory holds NULL.
				return teeStats{}, fmt.Errorf("output column %q is declared non-nullable but holds %d NULLs in the batch at row %d; the driver must declare it nullable", schema.Field(i).Name, n, rows+1)
			}
		}
		// Null counts are computed lazily and cached in the batch: count
		// them here, once, before two stages read the batch at the same
		// time (a slice arrives with its count unknown).
		for _, c := range rec.Columns() {
			countNulls(c.Data())
		}
		if err := parquetStage.send(rec); err != nil {
			return teeStats{}, err
		}
		if err := digestStage.send(rec); err != nil {
			return teeStats{}, err
		}
		if out.streaming {
			if err := out.publish(ctx, rec, recordBytes(rec)); err != nil {
				return teeStats{}, err
			}
		} else {
			out.hold(rec, recordBytes(rec))
		}
		rows += rec.NumRows()
		if now := time.Now(); now.Sub(lastProgress) >= progressInterval {
			lastProgress = now
			_, memBytes = out.inMemoryBytes()
			r.em.emit(EventStepProgress, step, map[string]any{"rows": rows, "bytes": aw.n.Load(), "memory_bytes": memBytes})
		}
	}
	if err := rdr.Err(); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return teeStats{}, cerr
		}
		return teeStats{}, fmt.Errorf("reading output stream: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return teeStats{}, err
	}
	if err := parquetStage.close(); err != nil {
		return teeStats{}, err
	}
	if err := digestStage.close(); err != nil {
		return teeStats{}, err
	}
	n, sum, err := aw.commit()
	if err != nil {
		return teeStats{}, err
	}
	rel := out.relPath
	art := &Artifact{
		Path:        rel,
		Rows:        rows,
		Bytes:       n,
		SHA256:      sum,
		TableDigest: digest.Sum(),
		Schema:      schemaColumns(schema),
	}
	return teeStats{rows: rows, artifact: art}, nil
}

// countNulls fills in the cached null counts of d and its children.
func countNulls(d arrow.ArrayData) {
	a := array.MakeFromData(d) // shares d: the count is cached there
	a.NullN()
	a.Release()
	for _, c := range d.Children() {
		countNulls(c)
	}
	if d.DataType().ID() == arrow.DICTIONARY {
		countNulls(d.Dictionary())
	}
}

// recordBytes is the memory a batch holds: the length of every buffer it
// references (a slice of a shared buffer counts the whole buffer, which errs
// on the safe side of the budget).
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	if d.DataType().ID() == arrow.DICTIONARY { // Dictionary() is a typed nil otherwise
		n += dataBytes(d.Dictionary())
	}
	return n
}

// checkParquetTypes refuses, up front and by column, the Arrow types the
// parquet writer cannot store, instead of its "not implemented" deep in the
// first batch. Every output must have its parquet floor (spec 03).
func checkParquetTypes(schema *arrow.Schema) error {
	for _, f := range schema.Fields() {
		if bad := unsupportedParquetType(f.Type); bad != nil {
			return fmt.Errorf("output column %q has Arrow type %s, which parquet artifacts cannot hold; cast it in the step (to a string, an integer or a timestamp)", f.Name, bad)
		}
	}
	return nil
}

func unsupportedParquetType(dt arrow.DataType) arrow.DataType {
	switch dt.ID() {
	case arrow.DURATION, arrow.INTERVAL_MONTHS, arrow.INTERVAL_DAY_TIME, arrow.INTERVAL_MONTH_DAY_NANO,
		arrow.STRING_VIEW, arrow.BINARY_VIEW, arrow.LIST_VIEW, arrow.LARGE_LIST_VIEW,
		arrow.SPARSE_UNION, arrow.DENSE_UNION, arrow.RUN_END_ENCODED:
		return dt
	}
	if nested, ok := dt.(arrow.NestedType); ok {
		for _, f := range nested.Fields() {
			if bad := unsupportedParquetType(f.Type); bad != nil {
				return bad
			}
		}
	}
	return nil
}

// batchStage runs fn over batches on its own goroutine. send retains the
// batch (the stage releases it); after fn fails, send and close return that
// error and the remaining batches are dropped. A panic in fn (an encoder or
// digest bug, a malformed batch from a driver) becomes the stage's error,
// a *stagePanic, instead of crashing the process: no other goroutine could
// recover it.
type batchStage struct {
	name   string
	ch     chan arrow.RecordBatch
	failed chan struct{}
	done   chan struct{}
	err    error
	closed bool
}

// stagePanic is a panic recovered on a stage's goroutine.
type stagePanic struct {
	stage string
	value any
	stack []byte
}

func (p *stagePanic) Error() string { return fmt.Sprintf("the %s panicked: %v", p.stage, p.value) }

func startBatchStage(name string, fn func(arrow.RecordBatch) error) *batchStage {
	s := &batchStage{name: name, ch: make(chan arrow.RecordBatch, 4), failed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for rec := range s.ch {
			if s.err == nil {
				if err := s.call(fn, rec); err != nil {
					s.err = err
					close(s.failed)
				}
			}
			rec.Release()
		}
	}()
	return s
}

func (s *batchStage) call(fn func(arrow.RecordBatch) error, rec arrow.RecordBatch) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &stagePanic{stage: s.name, value: v, stack: debug.Stack()}
		}
	}()
	return fn(rec)
}

func (s *batchStage) send(rec arrow.RecordBatch) error {
	rec.Retain()
	select {
	case s.ch <- rec:
		return nil
	case <-s.failed:
		rec.Release()
		return s.err // set before failed was closed
	}
}

// close waits for the stage to finish and returns its first error.
func (s *batchStage) close() error {
	if !s.closed {
		s.closed = true
		close(s.ch)
		<-s.done
	}
	return s.err
}
