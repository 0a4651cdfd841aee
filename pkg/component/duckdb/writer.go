package duckdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/oklog/ulid/v2"

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
//   - merge (upsert) inserts with ON CONFLICT (primary_key) DO UPDATE; the
//     table must have a primary key or unique constraint on those columns
//     (it gets one when created by create_if_missing).
//   - delete+insert deletes the rows whose delete_key values appear in the
//     input, then inserts the input.
//   - append, merge and delete+insert into an existing table first apply
//     schema_evolution (evolve.go) in the same transaction.
//
// The rows the statement reports are compared with the rows read from the
// input before commit; a mismatch rolls back.
type Writer struct{}

var _ component.Writer = Writer{}

// inputViewPrefix names the writer's view over its input stream; a random
// suffix keeps it clear of any user table.
const inputViewPrefix = "osiris_write_input_"

// legacyInputView is the view every write left in the file before it was
// dropped before commit; reading it crashed the reader.
const legacyInputView = "osiris_write_input"

// dropLegacyInputView drops the view an earlier osiris left behind (it
// points at an Arrow stream that no longer exists), so that an old
// warehouse.duckdb heals on its next write.
func dropLegacyInputView(ctx context.Context, s *Session) error {
	rr, err := s.Query(ctx, "SELECT count(*) FROM duckdb_views() WHERE schema_name = 'main' AND view_name = "+QuoteString(legacyInputView)+" AND NOT temporary")
	if err != nil {
		return err
	}
	n := int64(0)
	for rr.Next() {
		if c, ok := rr.RecordBatch().Column(0).(*array.Int64); ok && c.Len() > 0 {
			n = c.Value(0)
		}
	}
	err = rr.Err()
	rr.Release()
	if err != nil || n == 0 {
		return err
	}
	return s.Exec(ctx, "DROP VIEW main."+QuoteIdent(legacyInputView))
}

// Write loads in into the configured table.
func (Writer) Write(ctx context.Context, req *component.Request, in component.Table) (res component.WriteResult, err error) {
	dbPath, err := databasePath(req)
	if err != nil {
		return res, err
	}
	if dbPath == "" {
		return res, fmt.Errorf("step %q: %w", req.StepID, errMemoryWriter)
	}
	if req.Config.String("path") == "" && req.Conn.Get("read_only") == "true" {
		return res, fmt.Errorf("step %q: connection %s is read_only; write through another connection", req.StepID, req.Conn.Ref())
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
	deleteKey := req.Config.Strings("delete_key")
	createIfMissing := req.Config.Bool("create_if_missing", false)
	switch mode {
	case "append", "replace", "upsert", "merge", "delete+insert":
	default:
		return res, fmt.Errorf("step %q: unknown write_mode %q (append, replace, merge (upsert), delete+insert)", req.StepID, mode)
	}
	if (mode == "upsert" || mode == "merge") && len(pk) == 0 {
		return res, fmt.Errorf("step %q: write_mode %s needs primary_key", req.StepID, mode)
	}
	if mode == "delete+insert" && len(deleteKey) == 0 {
		return res, fmt.Errorf("step %q: write_mode delete+insert needs delete_key", req.StepID)
	}
	for _, k := range deleteKey {
		if in.Schema().FieldIndices(k) == nil {
			return res, fmt.Errorf("step %q: delete_key column %q is not an input column", req.StepID, k)
		}
	}
	evolution, err := component.SchemaEvolution(req.Config)
	if err != nil {
		return res, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	if err := component.CheckSchemaColumnNames(in.Schema()); err != nil {
		return res, fmt.Errorf("step %q: input %s: %w", req.StepID, in.StepID(), err)
	}
	if err := checkInputTypes(in.Schema()); err != nil {
		return res, fmt.Errorf("step %q: input %s: %w", req.StepID, in.StepID(), err)
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o755); err != nil {
		return res, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	rel := req.Files.Rel(dbPath)
	where := fmt.Sprintf("step %q: duckdb %s table %s", req.StepID, rel, table)

	// The writer's own SQL names only its table; the session may touch
	// the database file and its spill folder, nothing else.
	s, err := OpenConfined(ctx, dbPath, false, databaseAccess(Access{}, dbPath))
	if err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	if err := s.LimitMemory(ctx, req.WorkingMemoryNow()); err != nil {
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
	if err := dropLegacyInputView(ctx, s); err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}
	// DuckDB's Arrow scan registers a persistent view. Created inside the
	// transaction and dropped before the commit, it never reaches the file:
	// a view over a stream that is gone crashes whoever reads it later.
	view := inputViewPrefix + strings.ToLower(ulid.Make().String()[16:])
	// Read once, into the file: the engine may hand the batches over.
	src, err := component.OpenOnce(ctx, in)
	if err != nil {
		return res, fmt.Errorf("step %q: opening input %s: %w", req.StepID, in.StepID(), err)
	}
	counter := &rowCounter{RecordReader: src}
	if err := s.RegisterView(counter, view); err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}

	exists, err := tableExists(ctx, s, table)
	if err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}
	var written int64
	var changes component.SchemaChanges
	switch mode {
	case "replace":
		if err := createTable(ctx, s, view, target, pk, true); err != nil {
			return res, fmt.Errorf("%s: %w", where, err)
		}
		written, err = s.ExecCount(ctx, "INSERT INTO "+target+" BY NAME SELECT * FROM "+QuoteIdent(view))
	case "append", "upsert", "merge", "delete+insert":
		if !exists {
			if !createIfMissing {
				return res, fmt.Errorf("%s: the table does not exist; set create_if_missing: true or use write_mode: replace", where)
			}
			if err := createTable(ctx, s, view, target, pk, false); err != nil {
				return res, fmt.Errorf("%s: %w", where, err)
			}
		} else if changes, err = evolveTable(ctx, s, view, target, evolution); err != nil {
			return res, fmt.Errorf("%s: %w", where, err)
		}
		if mode == "delete+insert" {
			written, err = deleteInsert(ctx, s, view, target, deleteKey)
			break
		}
		insert := "INSERT INTO " + target + " BY NAME SELECT * FROM " + view
		if mode == "upsert" || mode == "merge" {
			insert += upsertClause(in, pk)
		}
		written, err = s.ExecCount(ctx, insert)
	default:
		return res, fmt.Errorf("%s: unknown write_mode %q (append, replace, merge (upsert), delete+insert)", where, mode)
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}
	if read := counter.rows.Load(); written != read {
		return res, fmt.Errorf("%s: wrote %d rows but read %d from the input; rolled back", where, written, read)
	}
	if err := s.DropView(ctx, view); err != nil {
		return res, fmt.Errorf("%s: dropping the input view: %w", where, err)
	}
	if err := s.Exec(ctx, "COMMIT"); err != nil {
		return res, fmt.Errorf("%s: commit: %w", where, err)
	}
	committed = true
	changes.Emit(req, table)
	return component.WriteResult{RowsWritten: written, Files: []string{rel}}, nil
}

// databasePath is the config's path, else the connection's, resolved in the
// workspace; "" means in memory (MemoryPath). An existing file that is not
// a DuckDB database is refused (CheckDatabaseFile).
func databasePath(req *component.Request) (string, error) {
	p := req.Config.String("path")
	if p == "" {
		p = req.Conn.Get("path")
	}
	if p == "" && req.Conn.Get("memory") == "true" {
		p = MemoryPath // Osiris-Python's in-memory connection
	}
	if p == "" {
		return "", fmt.Errorf("step %q: no database file: set path, or a duckdb connection with a path", req.StepID)
	}
	if p == MemoryPath {
		return "", nil
	}
	abs, err := req.Files.Resolve(p)
	if err != nil {
		return "", fmt.Errorf("step %q: %w", req.StepID, err)
	}
	// A file without its header yet is being created by another run.
	waitCreated(abs, magicOffset+int64(len(magic)))
	if err := CheckDatabaseFile(abs); err != nil {
		return "", fmt.Errorf("step %q: duckdb %s %w", req.StepID, req.Files.Rel(abs), err)
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
func createTable(ctx context.Context, s *Session, view, target string, pk []string, replace bool) error {
	rr, err := s.Query(ctx, "DESCRIBE SELECT * FROM "+view)
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
