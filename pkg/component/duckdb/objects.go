package duckdb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// Object is one user object of a DuckDB database (a table or a view).
type Object struct {
	Schema string
	Name   string
	Kind   string // "table" or "view"
	SQL    string // the view's definition; empty for tables
}

// ListObjects opens the database file at path read-only and lists its
// tables and views, system objects left out. It reads only the catalog:
// no view is scanned.
func ListObjects(ctx context.Context, path string) (objs []Object, err error) {
	s, err := OpenReadOnly(ctx, path)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	rr, err := s.Query(ctx, `SELECT schema_name, table_name, 'table', '' FROM duckdb_tables() WHERE NOT internal AND NOT temporary
		UNION ALL SELECT schema_name, view_name, 'view', sql FROM duckdb_views() WHERE NOT internal AND NOT temporary
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("listing the objects of duckdb %s: %w", describePath(path), err)
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		cols := make([]*array.String, 4)
		for i := range cols {
			c, ok := rec.Column(i).(*array.String)
			if !ok {
				return nil, fmt.Errorf("listing the objects of duckdb %s: unexpected column type %s", describePath(path), rec.Column(i).DataType())
			}
			cols[i] = c
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			// Value points into DuckDB's buffer, which goes with the reader.
			objs = append(objs, Object{Schema: strings.Clone(cols[0].Value(i)), Name: strings.Clone(cols[1].Value(i)),
				Kind: strings.Clone(cols[2].Value(i)), SQL: strings.Clone(cols[3].Value(i))})
		}
	}
	return objs, rr.Err()
}
