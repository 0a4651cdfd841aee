// Package componenttest helps driver tests call drivers directly, without
// the engine: an in-memory Table, a Request with sensible defaults and a
// reader drain. It is test support only; the engine has its own Table.
package componenttest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/rs/zerolog"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// Request returns a request for step "test" with the given config and
// connection, files rooted at a temp dir (or root if given).
func Request(t testing.TB, cfg component.Config, conn *workspace.Connection, root string) *component.Request {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	files, err := workspace.NewFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	return &component.Request{
		StepID:    "test",
		Config:    cfg,
		Conn:      conn,
		Files:     files,
		BatchRows: 1024,
		Alloc:     memory.DefaultAllocator,
		Log:       zerolog.New(zerolog.NewTestWriter(t)),
		Warn: func(code, msg string) {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("warning %s: %s", code, msg)
		},
		TempDir: t.TempDir(),
	}
}

// MemTable is a component.Table over records held in memory. It also writes
// a parquet copy on demand so drivers that read ParquetPath can be tested.
type MemTable struct {
	ID      string
	Sch     *arrow.Schema
	Records []arrow.RecordBatch
	path    string
}

// NewMemTable builds a table; records are retained.
func NewMemTable(id string, schema *arrow.Schema, recs ...arrow.RecordBatch) *MemTable {
	for _, r := range recs {
		r.Retain()
	}
	return &MemTable{ID: id, Sch: schema, Records: recs}
}

func (m *MemTable) StepID() string        { return m.ID }
func (m *MemTable) Schema() *arrow.Schema { return m.Sch }
func (m *MemTable) Rows() int64 {
	var n int64
	for _, r := range m.Records {
		n += r.NumRows()
	}
	return n
}
func (m *MemTable) Open(ctx context.Context) (array.RecordReader, error) {
	return array.NewRecordReader(m.Sch, m.Records)
}

// ParquetPath writes the table to a temp parquet file the first time.
func (m *MemTable) ParquetPath() string {
	if m.path != "" {
		return m.path
	}
	dir, err := os.MkdirTemp("", "memtable")
	if err != nil {
		panic(err)
	}
	p := filepath.Join(dir, "output.parquet")
	f, err := os.Create(p)
	if err != nil {
		panic(err)
	}
	w, err := pqarrow.NewFileWriter(m.Sch, f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		panic(err)
	}
	for _, r := range m.Records {
		if err := w.Write(r); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	m.path = p
	return p
}

// Drain reads every batch of r, returning them retained (caller releases)
// and the row count. It releases r.
func Drain(t testing.TB, r array.RecordReader) ([]arrow.RecordBatch, int64) {
	t.Helper()
	defer r.Release()
	var out []arrow.RecordBatch
	var n int64
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		out = append(out, rec)
		n += rec.NumRows()
	}
	if err := r.Err(); err != nil {
		t.Fatalf("reading stream: %v", err)
	}
	return out, n
}
