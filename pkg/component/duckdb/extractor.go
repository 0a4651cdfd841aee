package duckdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/osiris-go/osiris/pkg/component"
)

// Extractor is the duckdb.extractor driver: a query against a database
// file, opened read-only, streamed as Arrow.
type Extractor struct{}

var _ component.Extractor = Extractor{}

// Extract runs the configured query.
func (Extractor) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	dbPath, err := databasePath(req)
	if err != nil {
		return nil, err
	}
	query := strings.TrimSpace(req.Config.String("query"))
	if query == "" {
		return nil, fmt.Errorf("step %q: duckdb.extractor needs a query", req.StepID)
	}
	if err := checkQuery(req, query); err != nil {
		return nil, err
	}
	rel, access := MemoryPath, WorkspaceAccess(req)
	var s *Session
	if dbPath == "" {
		// An empty in-memory database: the query reads workspace files.
		if s, err = Open(ctx, ""); err == nil {
			if cerr := s.Confine(ctx, access); cerr != nil {
				err, s = errors.Join(cerr, s.Close()), nil
			}
		}
	} else {
		rel = req.Files.Rel(dbPath)
		if _, err := os.Stat(dbPath); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("step %q: duckdb database %s does not exist", req.StepID, rel)
			}
			return nil, fmt.Errorf("step %q: %w", req.StepID, err)
		}
		s, err = OpenConfined(ctx, dbPath, true, databaseAccess(access, dbPath))
	}
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	if err := s.LimitMemory(ctx, req.WorkingMemoryNow()); err != nil {
		return nil, errors.Join(fmt.Errorf("step %q: %w", req.StepID, err), s.Close())
	}
	rr, err := s.QueryAndClose(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("step %q: duckdb %s: %w", req.StepID, rel, err)
	}
	if err := component.CheckSchemaColumnNames(rr.Schema()); err != nil {
		rr.Release()
		return nil, fmt.Errorf("step %q: the query's result: %w", req.StepID, err)
	}
	return Rebatch(rr, req.BatchRows, req.MaxBatchBytes(), req.Alloc), nil
}

// rowCounter counts the rows DuckDB pulls from an input stream.
type rowCounter struct {
	array.RecordReader
	rows atomic.Int64
}

func (c *rowCounter) Next() bool {
	if !c.RecordReader.Next() {
		return false
	}
	c.rows.Add(c.RecordReader.RecordBatch().NumRows())
	return true
}
