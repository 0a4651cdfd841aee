package duckdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/osiris-go/osiris/pkg/component"
)

// Writer is the duckdb.writer driver: it loads the input into a table of a
// DuckDB database file, in one transaction.
//
//   - append inserts the rows (matched by column name); a missing table is an
//     error unless create_if_missing.
//   - replace creates the table anew from the input (CREATE OR REPLACE), so a
//     reader sees the old table or the new one. primary_key, when given,
//     becomes the new table's primary key.
//   - upsert inserts with ON CONFLICT (primary_key) DO UPDATE; the table must
//     have a primary key or unique constraint on those columns (it gets one
//     when created by create_if_missing).
//
// The rows the statement reports are compared with the rows read from the
// input before commit; a mismatch rolls back.
type Writer struct{}

var _ component.Writer = Writer{}

const inputView = "osiris_write_input"

// Write loads in into the configured table.
func (Writer) Write(ctx context.Context, req *component.Request, in component.Table) (res component.WriteResult, err error) {
	dbPath, err := databasePath(req)
	if err != nil {
		return res, err
	}
	table := req.Config.String("table")
	if table == "" {
		return res, fmt.Errorf("step %q: duckdb.writer needs a table", req.StepID)
	}
	mode := req.Config.String("write_mode")
	if mode == "" {
		mode = "append"
	}
	pk := req.Config.Strings("primary_key")
	createIfMissing := req.Config.Bool("create_if_missing", false)
	if mode == "upsert" && len(pk) == 0 {
		return res, fmt.Errorf("step %q: write_mode upsert needs primary_key", req.StepID)
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o755); err != nil {
		return res, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	rel := req.Files.Rel(dbPath)
	where := fmt.Sprintf("step %q: duckdb %s table %s", req.StepID, rel, table)

	s, err := Open(ctx, dbPath)
	if err != nil {
		return res, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	defer func() { err = errors.Join(err, s.Close()) }()

	src, err := in.Open(ctx)
	if err != nil {
		return res, fmt.Errorf("step %q: opening input %s: %w", req.StepID, in.StepID(), err)
	}
	counter := &rowCounter{RecordReader: src}
	if err := s.RegisterView(counter, inputView); err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}
	target := qualifiedIdent(table)

	if err := s.Exec(ctx, "BEGIN TRANSACTION"); err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}
	committed := false
	defer func() {
		if !committed {
			// The connection closes right after; a failed rollback only
			// means the transaction is already gone.
			_ = s.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()

	exists, err := tableExists(ctx, s, table)
	if err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}
	var written int64
	switch mode {
	case "replace":
		if err := createTable(ctx, s, target, pk, true); err != nil {
			return res, fmt.Errorf("%s: %w", where, err)
		}
		written, err = s.ExecCount(ctx, "INSERT INTO "+target+" BY NAME SELECT * FROM "+inputView)
	case "append", "upsert":
		if !exists {
			if !createIfMissing {
				return res, fmt.Errorf("%s: the table does not exist; set create_if_missing: true or use write_mode: replace", where)
			}
			if err := createTable(ctx, s, target, pk, false); err != nil {
				return res, fmt.Errorf("%s: %w", where, err)
			}
		}
		insert := "INSERT INTO " + target + " BY NAME SELECT * FROM " + inputView
		if mode == "upsert" {
			insert += upsertClause(in, pk)
		}
		written, err = s.ExecCount(ctx, insert)
	default:
		return res, fmt.Errorf("%s: unknown write_mode %q (append, replace, upsert)", where, mode)
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}
	if read := counter.rows.Load(); written != read {
		return res, fmt.Errorf("%s: wrote %d rows but read %d from the input; rolled back", where, written, read)
	}
	if err := s.Exec(ctx, "COMMIT"); err != nil {
		return res, fmt.Errorf("%s: commit: %w", where, err)
	}
	committed = true
	return component.WriteResult{RowsWritten: written, Files: []string{rel}}, nil
}

// databasePath is the config's path, else the connection's, resolved in the
// workspace.
func databasePath(req *component.Request) (string, error) {
	p := req.Config.String("path")
	if p == "" {
		p = req.Conn.Get("path")
	}
	if p == "" {
		return "", fmt.Errorf("step %q: no database file: set path, or a duckdb connection with a path", req.StepID)
	}
	abs, err := req.Files.Resolve(p)
	if err != nil {
		return "", fmt.Errorf("step %q: %w", req.StepID, err)
	}
	return abs, nil
}

// qualifiedIdent quotes "table" or "schema.table".
func qualifiedIdent(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = QuoteIdent(p)
	}
	return strings.Join(parts, ".")
}

func tableExists(ctx context.Context, s *Session, table string) (bool, error) {
	schema, name := "main", table
	if i := strings.LastIndexByte(table, '.'); i >= 0 {
		schema, name = table[:i], table[i+1:]
	}
	rr, err := s.Query(ctx, "SELECT count(*) FROM duckdb_tables() WHERE lower(schema_name) = lower("+
		QuoteString(schema)+") AND lower(table_name) = lower("+QuoteString(name)+") AND NOT temporary")
	if err != nil {
		return false, err
	}
	defer rr.Release()
	n := int64(0)
	for rr.Next() {
		if c, ok := rr.RecordBatch().Column(0).(*array.Int64); ok && c.Len() > 0 {
			n = c.Value(0)
		}
	}
	return n > 0, rr.Err()
}

// createTable creates target with the input's columns (types as DuckDB sees
// the Arrow schema) and the primary key.
func createTable(ctx context.Context, s *Session, target string, pk []string, replace bool) error {
	rr, err := s.Query(ctx, "DESCRIBE SELECT * FROM "+inputView)
	if err != nil {
		return err
	}
	var cols []string
	for rr.Next() {
		rec := rr.RecordBatch()
		names, ok1 := rec.Column(0).(*array.String)
		types, ok2 := rec.Column(1).(*array.String)
		if !ok1 || !ok2 {
			rr.Release()
			return errors.New("unexpected DESCRIBE result")
		}
		for i := 0; i < names.Len(); i++ {
			cols = append(cols, QuoteIdent(names.Value(i))+" "+types.Value(i))
		}
	}
	err = rr.Err()
	rr.Release()
	if err != nil {
		return err
	}
	if len(pk) > 0 {
		quoted := make([]string, len(pk))
		for i, k := range pk {
			quoted[i] = QuoteIdent(k)
		}
		cols = append(cols, "PRIMARY KEY ("+strings.Join(quoted, ", ")+")")
	}
	verb := "CREATE TABLE "
	if replace {
		verb = "CREATE OR REPLACE TABLE "
	}
	return s.Exec(ctx, verb+target+" ("+strings.Join(cols, ", ")+")")
}

func upsertClause(in component.Table, pk []string) string {
	isKey := map[string]bool{}
	quoted := make([]string, len(pk))
	for i, k := range pk {
		quoted[i] = QuoteIdent(k)
		isKey[strings.ToLower(k)] = true
	}
	var sets []string
	for _, f := range in.Schema().Fields() {
		if !isKey[strings.ToLower(f.Name)] {
			sets = append(sets, QuoteIdent(f.Name)+" = excluded."+QuoteIdent(f.Name))
		}
	}
	clause := " ON CONFLICT (" + strings.Join(quoted, ", ") + ") DO "
	if len(sets) == 0 {
		return clause + "NOTHING"
	}
	return clause + "UPDATE SET " + strings.Join(sets, ", ")
}
