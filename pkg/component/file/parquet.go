package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/duckdb"
)

// ParquetExtractor is filesystem.parquet_extractor: one file or a glob,
// read with pqarrow in batches of req.BatchRows. Every file must have the
// same columns and types as the first (after the `columns` projection).
type ParquetExtractor struct{}

var _ component.Extractor = ParquetExtractor{}

// Extract streams the matched files in name order.
func (ParquetExtractor) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	files, err := inputFiles(req)
	if err != nil {
		return nil, err
	}
	alloc := req.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	r := &parquetFilesReader{ctx: ctx, req: req, files: files, columns: req.Config.Strings("columns"), alloc: alloc, refs: 1}
	// The first file fixes the schema; the others are checked now, from
	// their footers, so a mismatch fails before any row flows.
	if err := r.openNext(); err != nil {
		r.Release()
		return nil, err
	}
	for _, path := range files[1:] {
		if err := r.checkSchema(path); err != nil {
			r.Release()
			return nil, err
		}
	}
	return duckdb.Rebatch(r, req.BatchRows, req.MaxBatchBytes(), alloc), nil
}

// checkSchema compares the projected schema of path with the first file's.
func (r *parquetFilesReader) checkSchema(path string) error {
	rel := r.req.Files.Rel(path)
	pf, err := pqfile.OpenParquetFile(path, false)
	if err != nil {
		return fmt.Errorf("step %q: %s is not a readable parquet file: %w", r.req.StepID, rel, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, r.alloc)
	if err != nil {
		return fmt.Errorf("step %q: %s: %w", r.req.StepID, rel, err)
	}
	full, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("step %q: %s: %w", r.req.StepID, rel, err)
	}
	schema := arrow.NewSchema(full.Fields(), nil)
	if len(r.columns) > 0 {
		var fields []arrow.Field
		for _, c := range r.columns {
			idx := full.FieldIndices(c)
			if len(idx) == 0 {
				return fmt.Errorf("step %q: %s: no column %q", r.req.StepID, rel, c)
			}
			fields = append(fields, full.Field(idx[0]))
		}
		schema = arrow.NewSchema(fields, nil)
	}
	if !sameColumns(r.schema, schema) {
		return fmt.Errorf("step %q: %s has columns %s but %s has %s; all files of a glob must match",
			r.req.StepID, rel, describeColumns(schema), r.req.Files.Rel(r.files[0]), describeColumns(r.schema))
	}
	return nil
}

// parquetFilesReader chains the files' record readers.
type parquetFilesReader struct {
	ctx     context.Context
	req     *component.Request
	files   []string
	columns []string
	alloc   memory.Allocator
	refs    int64

	next    int // index of the next file to open
	schema  *arrow.Schema
	order   []int // output column i = reader column order[i]
	cur     pqarrow.RecordReader
	curFile *os.File
	rec     arrow.RecordBatch
	err     error
}

func (r *parquetFilesReader) openNext() error {
	path := r.files[r.next]
	rel := r.req.Files.Rel(path)
	r.next++
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("step %q: %w", r.req.StepID, err)
	}
	pf, err := pqfile.NewParquetReader(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("step %q: %s is not a readable parquet file: %w", r.req.StepID, rel, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: component.ParquetBatchRows(pf.MetaData(), max(r.req.BatchRows, 1024), r.req.MaxBatchBytes())}, r.alloc)
	if err != nil {
		pf.Close()
		return fmt.Errorf("step %q: %s: %w", r.req.StepID, rel, err)
	}
	leaves, order, err := projectColumns(fr, r.columns)
	if err != nil {
		pf.Close()
		return fmt.Errorf("step %q: %s: %w", r.req.StepID, rel, err)
	}
	rr, err := fr.GetRecordReader(r.ctx, leaves, nil)
	if err != nil {
		pf.Close()
		return fmt.Errorf("step %q: %s: %w", r.req.StepID, rel, err)
	}
	schema := reorderSchema(rr.Schema(), order)
	if r.schema == nil {
		r.schema = schema
	} else if !sameColumns(r.schema, schema) {
		rr.Release()
		pf.Close()
		return fmt.Errorf("step %q: %s has columns %s but %s has %s; all files of a glob must match",
			r.req.StepID, rel, describeColumns(schema), r.req.Files.Rel(r.files[0]), describeColumns(r.schema))
	}
	r.cur, r.curFile, r.order = rr, f, order
	return nil
}

// projectColumns maps `columns` to leaf indices (nil: all) and the order
// that puts the reader's columns (file order) into the requested order.
func projectColumns(fr *pqarrow.FileReader, columns []string) (leaves, order []int, err error) {
	if len(columns) == 0 {
		return nil, nil, nil
	}
	byName := map[string]int{}
	var names []string
	for i, f := range fr.Manifest.Fields {
		byName[f.Field.Name] = i
		names = append(names, f.Field.Name)
	}
	var picked []int
	for _, c := range columns {
		i, ok := byName[c]
		if !ok {
			return nil, nil, fmt.Errorf("no column %q; the file has %s", c, strings.Join(names, ", "))
		}
		picked = append(picked, i)
	}
	// The reader returns fields in file order; compute where each requested
	// column lands.
	inFileOrder := append([]int(nil), picked...)
	slices.Sort(inFileOrder)
	pos := map[int]int{}
	for i, fi := range inFileOrder {
		pos[fi] = i
		leaves = appendLeaves(leaves, fr.Manifest.Fields[fi])
	}
	for _, fi := range picked {
		order = append(order, pos[fi])
	}
	return leaves, order, nil
}

func appendLeaves(dst []int, f pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(dst, f.ColIndex)
	}
	for _, c := range f.Children {
		dst = appendLeaves(dst, c)
	}
	return dst
}

func reorderSchema(s *arrow.Schema, order []int) *arrow.Schema {
	if order == nil {
		return arrow.NewSchema(s.Fields(), nil) // drop file metadata: it differs between files
	}
	fields := make([]arrow.Field, len(order))
	for i, o := range order {
		fields[i] = s.Field(o)
	}
	return arrow.NewSchema(fields, nil)
}

func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.Fields() {
		if a.Field(i).Name != b.Field(i).Name || !arrow.TypeEqual(a.Field(i).Type, b.Field(i).Type) {
			return false
		}
	}
	return true
}

func describeColumns(s *arrow.Schema) string {
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = f.Name + " " + f.Type.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (r *parquetFilesReader) Schema() *arrow.Schema { return r.schema }
func (r *parquetFilesReader) Err() error            { return r.err }

func (r *parquetFilesReader) RecordBatch() arrow.RecordBatch { return r.rec }

// Record is the deprecated name of RecordBatch.
func (r *parquetFilesReader) Record() arrow.RecordBatch { return r.rec }

func (r *parquetFilesReader) Retain() { atomic.AddInt64(&r.refs, 1) }

func (r *parquetFilesReader) Release() {
	if atomic.AddInt64(&r.refs, -1) != 0 {
		return
	}
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	r.closeCurrent()
}

func (r *parquetFilesReader) closeCurrent() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.curFile != nil {
		r.curFile.Close()
		r.curFile = nil
	}
}

func (r *parquetFilesReader) Next() bool {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	for r.err == nil && r.cur != nil {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return false
		}
		if r.cur.Next() {
			rec := r.cur.RecordBatch()
			cols := rec.Columns()
			if r.order != nil {
				cols = make([]arrow.Array, len(r.order))
				for i, o := range r.order {
					cols[i] = rec.Column(o)
				}
			}
			r.rec = array.NewRecordBatch(r.schema, cols, rec.NumRows())
			return true
		}
		if err := r.cur.Err(); err != nil && !errors.Is(err, io.EOF) {
			r.err = fmt.Errorf("step %q: reading %s: %w", r.req.StepID, r.req.Files.Rel(r.files[r.next-1]), err)
			return false
		}
		r.closeCurrent()
		if r.next < len(r.files) {
			if err := r.openNext(); err != nil {
				r.err = err
				return false
			}
		}
	}
	return false
}

// ParquetWriter is filesystem.parquet_writer: pqarrow with the configured
// compression, the Arrow schema stored in the file (so uint64, time zones
// and the like read back as written), row groups of up to 1Mi rows; a
// temporary file renamed when complete.
type ParquetWriter struct{}

var _ component.Writer = ParquetWriter{}

var parquetCodecs = map[string]compress.Compression{
	"zstd": compress.Codecs.Zstd, "snappy": compress.Codecs.Snappy,
	"gzip": compress.Codecs.Gzip, "none": compress.Codecs.Uncompressed, "": compress.Codecs.Zstd,
}

// Write writes in to the configured path.
func (ParquetWriter) Write(ctx context.Context, req *component.Request, in component.Table) (res component.WriteResult, err error) {
	codec, ok := parquetCodecs[req.Config.String("compression")]
	if !ok {
		return res, fmt.Errorf("step %q: compression %q: use zstd, snappy, gzip or none", req.StepID, req.Config.String("compression"))
	}
	target, err := outputFile(req)
	if err != nil {
		return res, err
	}
	rel := req.Files.Rel(target)
	src, err := component.OpenOnce(ctx, in)
	if err != nil {
		return res, fmt.Errorf("step %q: opening input %s: %w", req.StepID, in.StepID(), err)
	}
	defer src.Release()
	f, err := createAtomic(target)
	if err != nil {
		return res, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	defer f.Abort()
	rows, err := writeParquet(ctx, struct{ io.Writer }{f}, src, codec, req.Alloc)
	if err == nil && in.Rows() >= 0 && rows != in.Rows() {
		err = fmt.Errorf("wrote %d rows but the input has %d", rows, in.Rows())
	}
	if err == nil {
		err = f.Commit()
	}
	if err != nil {
		return res, fmt.Errorf("step %q: writing %s: %w", req.StepID, rel, err)
	}
	return component.WriteResult{RowsWritten: rows, Files: []string{rel}}, nil
}

// writeParquet writes src to w (which the parquet writer must not close:
// the caller still fsyncs the file).
func writeParquet(ctx context.Context, w io.Writer, src array.RecordReader, codec compress.Compression, alloc memory.Allocator) (int64, error) {
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(codec), parquet.WithAllocator(alloc),
		parquet.WithMaxRowGroupLength(1<<20))
	fw, err := pqarrow.NewFileWriter(src.Schema(), w, props,
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(alloc)))
	if err != nil {
		return 0, err
	}
	var rows int64
	for src.Next() {
		if err := ctx.Err(); err != nil {
			fw.Close()
			return rows, err
		}
		rec := src.RecordBatch()
		if err := fw.WriteBuffered(rec); err != nil {
			fw.Close()
			return rows, err
		}
		rows += rec.NumRows()
	}
	if err := src.Err(); err != nil {
		fw.Close()
		return rows, err
	}
	return rows, fw.Close()
}
