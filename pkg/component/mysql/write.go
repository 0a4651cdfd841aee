package mysql

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/oklog/ulid/v2"

	"github.com/osiris-go/osiris/pkg/component"
)

// Writer is the mysql.writer driver.
type Writer struct {
	// forceInsert skips LOAD DATA LOCAL INFILE and loads with multi-row
	// INSERTs, the path taken when the server forbids local infile; tests
	// use it to cover that path.
	forceInsert bool
	// insertBytes caps one INSERT statement (0: 4 MiB or max_allowed_packet).
	insertBytes int
}

var _ component.Writer = (*Writer)(nil)

// writerSession is the writer's session: UTC for TIMESTAMP columns (as the
// extractor), strict errors instead of silent truncation, backslash escapes
// on (the INSERT literals use them), zeros kept in AUTO_INCREMENT columns,
// and notes not recorded, so @@warning_count counts only real problems.
var writerSession = []string{
	"SET time_zone = '+00:00'",
	"SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO'",
	"SET SESSION sql_notes = 0",
}

// sqlExecer is what loading needs from a *sql.Conn or a *sql.Tx.
type sqlExecer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// targetColumn is one column of the table being loaded.
type targetColumn struct {
	Name     string // as the table spells it
	DataType string // information_schema DATA_TYPE, lower case
}

// loadColumn pairs an input column with its target column.
type loadColumn struct {
	input  int // field index in the input schema
	target targetColumn
}

// wrap returns the SQL around a loaded value before it reaches the column
// (empty when none): BIT and GEOMETRY columns do not take their value's
// text as is.
func (c loadColumn) wrap(dt arrow.DataType) (prefix, suffix string) {
	switch c.target.DataType {
	case "bit":
		if isNumeric(dt) {
			return "CAST(", " AS UNSIGNED)"
		}
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		if isBinary(dt) {
			// MariaDB refuses a LOAD DATA variable (a BLOB) without the cast.
			return "ST_GeomFromWKB(CAST(", " AS BINARY))"
		}
	}
	return "", ""
}

func isNumeric(dt arrow.DataType) bool {
	return arrow.IsInteger(dt.ID()) || dt.ID() == arrow.BOOL
}

func isBinary(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW, arrow.FIXED_SIZE_BINARY:
		return true
	}
	return false
}

// writeOptions is the step config of a write.
type writeOptions struct {
	schema, table   string
	mode            string
	primaryKey      []string
	deleteKey       []string
	createIfMissing bool
	evolution       string // schema_evolution: add or fail
}

func parseWriteOptions(cfg component.Config, in *arrow.Schema) (writeOptions, error) {
	o := writeOptions{mode: strings.ToLower(cfg.String("write_mode")), primaryKey: cfg.Strings("primary_key"),
		deleteKey: cfg.Strings("delete_key"), createIfMissing: cfg.Bool("create_if_missing", false)}
	var err error
	if o.evolution, err = component.SchemaEvolution(cfg); err != nil {
		return o, err
	}
	o.schema, o.table = splitTable(cfg.String("schema"), strings.TrimSpace(cfg.String("table")))
	if o.table == "" {
		return o, errors.New("table is required")
	}
	if o.mode == "" {
		o.mode = "append"
	}
	switch o.mode {
	case "append", "replace", "upsert", "merge", "delete+insert":
	default:
		return o, fmt.Errorf("write_mode %q is not one of append, replace, merge (upsert), delete+insert", o.mode)
	}
	if (o.mode == "upsert" || o.mode == "merge") && len(o.primaryKey) == 0 {
		return o, fmt.Errorf("write_mode %s needs primary_key", o.mode)
	}
	if o.mode == "delete+insert" && len(o.deleteKey) == 0 {
		return o, errors.New("write_mode delete+insert needs delete_key")
	}
	for _, k := range o.primaryKey {
		if fieldIndex(in, k) < 0 {
			return o, fmt.Errorf("primary_key column %q is not in the input (columns: %s)", k, fieldNames(in))
		}
	}
	for _, k := range o.deleteKey {
		if fieldIndex(in, k) < 0 {
			return o, fmt.Errorf("delete_key column %q is not in the input (columns: %s)", k, fieldNames(in))
		}
	}
	if len(in.Fields()) == 0 {
		return o, errors.New("the input has no columns")
	}
	if err := component.CheckSchemaColumnNames(in); err != nil {
		return o, fmt.Errorf("input: %w", err)
	}
	return o, nil
}

func fieldIndex(s *arrow.Schema, name string) int {
	for i, f := range s.Fields() {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

func fieldNames(s *arrow.Schema) string {
	names := make([]string, len(s.Fields()))
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// Write loads in into the target table.
func (w *Writer) Write(ctx context.Context, req *component.Request, in component.Table) (component.WriteResult, error) {
	n, err := w.write(ctx, req, in)
	if err != nil {
		return component.WriteResult{}, fmt.Errorf("mysql.writer step %q: %w", req.StepID, err)
	}
	return component.WriteResult{RowsWritten: n}, nil
}

func (w *Writer) write(ctx context.Context, req *component.Request, in component.Table) (int64, error) {
	inSchema := in.Schema()
	o, err := parseWriteOptions(req.Config, inSchema)
	if err != nil {
		return 0, err
	}
	cfg, err := configFor(req.Conn)
	if err != nil {
		return 0, err
	}
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		return 0, err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("connecting with %s: %w", connRef(req.Conn), err)
	}
	defer conn.Close()
	for _, q := range writerSession {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("%s: %w", q, err)
		}
	}
	var connID int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&connID); err != nil {
		return 0, fmt.Errorf("reading the connection id: %w", err)
	}
	stopKill := killOnCancel(ctx, cfg, connID, func(err error) {
		req.Log.Warn().Err(err).Msg("mysql.writer: stopping the cancelled statement on the server failed")
	})
	defer stopKill()
	if o.schema == "" {
		var cur sql.NullString
		if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&cur); err != nil {
			return 0, err
		}
		if !cur.Valid || cur.String == "" {
			return 0, fmt.Errorf("no database for table %q: set database in connection %s or write table as db.table", o.table, connRef(req.Conn))
		}
		o.schema = cur.String
	}
	l := &loader{w: w, req: req, db: db, conn: conn, in: in, opts: o, tag: strings.ToLower(ulid.Make().String()[20:])}
	target := qualified(o.schema, o.table)
	// This load's lock marks its staging tables as alive; staging tables
	// whose lock is free were left by a load that is gone (killed run).
	unlockLoad, err := l.namedLockName(ctx, loadLockName(o.schema, o.table, l.tag), "this load")
	if err != nil {
		return 0, err
	}
	defer unlockLoad()
	l.dropStaleStaging(ctx)
	cols, err := l.targetColumns(ctx, o.table)
	if err != nil {
		return 0, err
	}
	if len(cols) == 0 {
		if !o.createIfMissing {
			return 0, fmt.Errorf("table %s does not exist (set create_if_missing: true to create it from the input's schema)", target)
		}
		// Two runs creating the same table at once would both see it
		// missing and the second RENAME fail ("already exists"). Creating
		// is serialised with a named lock; whoever waited finds the table
		// made and loads into it like any existing table.
		unlock, err := l.namedLock(ctx, "create "+o.schema+"."+o.table)
		if err != nil {
			return 0, err
		}
		defer unlock()
		if cols, err = l.targetColumns(ctx, o.table); err != nil {
			return 0, err
		}
		if len(cols) == 0 {
			return l.createAndLoad(ctx)
		}
	}
	var changes component.SchemaChanges
	if o.mode != "replace" {
		// The table existed: let it follow the input (schema_evolution),
		// or fail before anything is written.
		if changes, err = l.evolve(ctx, target); err != nil {
			return 0, err
		}
		if changes.Changed() {
			if cols, err = l.targetColumns(ctx, o.table); err != nil {
				return 0, err
			}
		}
	}
	l.cols, err = matchColumns(inSchema, cols, target)
	if err != nil {
		return 0, err
	}
	var n int64
	switch o.mode {
	case "replace":
		n, err = l.replace(ctx)
	case "upsert", "merge", "delete+insert":
		n, err = l.upsert(ctx)
	default:
		n, err = l.appendRows(ctx)
	}
	if err == nil {
		changes.Emit(req, target)
	}
	return n, err
}

// matchColumns maps every input column to a target column by name.
func matchColumns(in *arrow.Schema, target []targetColumn, targetName string) ([]loadColumn, error) {
	byName := map[string]targetColumn{}
	names := make([]string, len(target))
	for i, c := range target {
		byName[strings.ToLower(c.Name)] = c
		names[i] = c.Name
	}
	var out []loadColumn
	var missing []string
	for i, f := range in.Fields() {
		c, ok := byName[strings.ToLower(f.Name)]
		if !ok {
			missing = append(missing, f.Name)
			continue
		}
		out = append(out, loadColumn{input: i, target: c})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("table %s has no column %s (its columns: %s)", targetName, strings.Join(missing, ", "), strings.Join(names, ", "))
	}
	return out, nil
}

// loader carries one write.
type loader struct {
	w    *Writer
	req  *component.Request
	db   *sql.DB
	conn *sql.Conn
	in   component.Table
	opts writeOptions
	cols []loadColumn
	// tag makes this load's staging table names unique, so that two runs
	// replacing the same table at once never touch each other's tables.
	tag string
}

// staging returns this load's staging name for the target, e.g.
// movies__osiris_new_7k2m9q.
func (l *loader) staging(kind string) string {
	return stagingName(l.opts.table, "__osiris_"+kind+"_"+l.tag)
}

func (l *loader) qualified(table string) string { return qualified(l.opts.schema, table) }

func (l *loader) targetColumns(ctx context.Context, table string) ([]targetColumn, error) {
	rows, err := l.conn.QueryContext(ctx,
		"SELECT COLUMN_NAME, LOWER(DATA_TYPE) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
		l.opts.schema, table)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", l.qualified(table), err)
	}
	defer rows.Close()
	var out []targetColumn
	for rows.Next() {
		var c targetColumn
		if err := rows.Scan(&c.Name, &c.DataType); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// stagingName derives a helper table name that fits MySQL's 64 characters.
func stagingName(table, suffix string) string {
	if len(table)+len(suffix) <= 64 {
		return table + suffix
	}
	sum := sha1.Sum([]byte(table))
	tag := "_" + hex.EncodeToString(sum[:4])
	return table[:64-len(suffix)-len(tag)] + tag + suffix
}

// lockWaitSeconds bounds how long a load waits for another run's named lock.
const lockWaitSeconds = 600

// namedLock takes the server-wide named lock for what (GET_LOCK, held by
// this session) and returns its release. Lock names are at most 64
// characters: what is hashed.
func (l *loader) namedLock(ctx context.Context, what string) (func(), error) {
	sum := sha1.Sum([]byte(what))
	return l.namedLockName(ctx, "osiris:"+hex.EncodeToString(sum[:16]), what)
}

func (l *loader) namedLockName(ctx context.Context, name, what string) (func(), error) {
	var got sql.NullInt64
	if err := l.conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, lockWaitSeconds).Scan(&got); err != nil {
		return nil, fmt.Errorf("taking the lock that serialises %s (GET_LOCK): %w", what, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return nil, fmt.Errorf("another osiris run has held the lock for %s for %d s (GET_LOCK %q); it is still creating or loading the table: run again when it has finished", what, lockWaitSeconds, name)
	}
	// name is hex: safe in a literal. A lost session releases it too.
	return func() { l.cleanup("DO RELEASE_LOCK('" + name + "')") }, nil
}

// cleanup runs a statement that must run even when ctx is cancelled (drop
// a staging table); on a fresh pooled connection if ours is broken.
func (l *loader) cleanup(query string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(context.Background()), 30*time.Second)
	defer cancel()
	if _, err := l.conn.ExecContext(ctx, query); err != nil {
		if _, err2 := l.db.ExecContext(ctx, query); err2 != nil {
			l.req.Log.Warn().Err(err2).Str("sql", query).Msg("mysql.writer: cleanup failed")
		}
	}
}

// appendRows loads into the target inside one transaction.
func (l *loader) appendRows(ctx context.Context) (int64, error) {
	tx, err := l.conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	n, err := l.load(ctx, tx, l.qualified(l.opts.table))
	if err != nil {
		tx.Rollback()
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}

// replace loads <table>__osiris_new and swaps it in with one RENAME TABLE,
// which MySQL performs atomically: readers see the old table or the new one.
func (l *loader) replace(ctx context.Context) (int64, error) {
	stage, old := l.staging("new"), l.staging("old")
	if _, err := l.conn.ExecContext(ctx, "CREATE TABLE "+l.qualified(stage)+" LIKE "+l.qualified(l.opts.table)); err != nil {
		return 0, fmt.Errorf("creating staging table: %w", err)
	}
	n, err := l.load(ctx, l.conn, l.qualified(stage))
	if err != nil {
		l.cleanup("DROP TABLE IF EXISTS " + l.qualified(stage))
		return 0, err
	}
	hasFK, err := l.hasForeignKeys(ctx)
	if err != nil {
		l.cleanup("DROP TABLE IF EXISTS " + l.qualified(stage))
		return 0, err
	}
	if hasFK {
		// CREATE TABLE LIKE drops foreign keys, and a RENAME would leave the
		// referencing tables pointing at the old table: swap the rows instead,
		// in one transaction (readers see the old rows or the new ones).
		err := l.swapRows(ctx, stage)
		l.cleanup("DROP TABLE IF EXISTS " + l.qualified(stage))
		if err != nil {
			return 0, err
		}
		return n, nil
	}
	swap := "RENAME TABLE " + l.qualified(l.opts.table) + " TO " + l.qualified(old) + ", " + l.qualified(stage) + " TO " + l.qualified(l.opts.table)
	if _, err := l.conn.ExecContext(ctx, swap); err != nil {
		l.cleanup("DROP TABLE IF EXISTS " + l.qualified(stage))
		return 0, fmt.Errorf("swapping in the new table: %w", err)
	}
	if _, err := l.conn.ExecContext(ctx, "DROP TABLE "+l.qualified(old)); err != nil {
		l.req.Log.Warn().Err(err).Str("table", old).Msg("mysql.writer: the replaced table could not be dropped")
	}
	return n, nil
}

// hasForeignKeys reports whether the target has or is the target of a
// foreign key.
func (l *loader) hasForeignKeys(ctx context.Context) (bool, error) {
	var n int
	err := l.conn.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS
		 WHERE (CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?) OR (UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?)`,
		l.opts.schema, l.opts.table, l.opts.schema, l.opts.table).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("reading foreign keys of %s: %w", l.qualified(l.opts.table), err)
	}
	return n > 0, nil
}

// swapRows replaces the target's rows by the staging table's in one
// transaction.
func (l *loader) swapRows(ctx context.Context, stage string) error {
	names := make([]string, len(l.cols))
	for i, c := range l.cols {
		names[i] = quoteIdent(c.target.Name)
	}
	list := strings.Join(names, ", ")
	tx, err := l.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, q := range []string{
		"DELETE FROM " + l.qualified(l.opts.table),
		"INSERT INTO " + l.qualified(l.opts.table) + " (" + list + ") SELECT " + list + " FROM " + l.qualified(stage),
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			return fmt.Errorf("replacing the rows of %s: %w", l.qualified(l.opts.table), err)
		}
		if err := checkWarnings(ctx, tx, "replacing the rows of "+l.qualified(l.opts.table)); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// createAndLoad creates the missing target under a staging name, loads it
// and renames it into place, so a failed load never leaves a half table.
func (l *loader) createAndLoad(ctx context.Context) (int64, error) {
	schema := l.in.Schema()
	stage := l.staging("new")
	ddl, err := createTableSQL(l.qualified(stage), schema, l.opts.primaryKey)
	if err != nil {
		return 0, fmt.Errorf("create_if_missing: %w", err)
	}
	if _, err := l.conn.ExecContext(ctx, ddl); err != nil {
		return 0, fmt.Errorf("create_if_missing: %w", err)
	}
	cols, err := l.targetColumns(ctx, stage)
	if err == nil {
		l.cols, err = matchColumns(schema, cols, l.qualified(stage))
	}
	var n int64
	if err == nil {
		n, err = l.load(ctx, l.conn, l.qualified(stage))
	}
	if err == nil {
		_, err = l.conn.ExecContext(ctx, "RENAME TABLE "+l.qualified(stage)+" TO "+l.qualified(l.opts.table))
		if mysqlErrorNumber(err) == 1050 { // ER_TABLE_EXISTS_ERROR
			err = fmt.Errorf("another session created %s at the same moment; osiris runs serialise creating a table with GET_LOCK, so the other session did not (another tool, or an older osiris); run again to load into the table it made: %w", l.qualified(l.opts.table), err)
		}
	}
	if err != nil {
		l.cleanup("DROP TABLE IF EXISTS " + l.qualified(stage))
		return 0, err
	}
	l.req.Log.Info().Str("table", l.opts.table).Msg("mysql.writer: created table")
	return n, nil
}

// upsert loads a temporary staging table, then, in one transaction,
// merges it into the target with INSERT … SELECT … ON DUPLICATE KEY UPDATE
// (merge, upsert), or deletes the target rows whose delete_key values it
// holds and inserts it (delete+insert).
func (l *loader) upsert(ctx context.Context) (int64, error) {
	if l.opts.mode != "delete+insert" {
		if err := l.checkUniqueKey(ctx); err != nil {
			return 0, err
		}
	}
	stage := "__osiris_upsert_" + strings.ToLower(ulid.Make().String())
	if _, err := l.conn.ExecContext(ctx, "CREATE TEMPORARY TABLE "+l.qualified(stage)+" LIKE "+l.qualified(l.opts.table)); err != nil {
		return 0, fmt.Errorf("creating staging table: %w", err)
	}
	defer l.cleanup("DROP TEMPORARY TABLE IF EXISTS " + l.qualified(stage))
	n, err := l.load(ctx, l.conn, l.qualified(stage))
	if err != nil {
		return 0, err
	}
	isKey := map[string]bool{}
	for _, k := range l.opts.primaryKey {
		isKey[strings.ToLower(k)] = true
	}
	names := make([]string, len(l.cols))
	var updates []string
	for i, c := range l.cols {
		names[i] = quoteIdent(c.target.Name)
		if !isKey[strings.ToLower(c.target.Name)] {
			updates = append(updates, names[i]+" = VALUES("+names[i]+")")
		}
	}
	if len(updates) == 0 { // every column is a key column: keep the row
		updates = append(updates, names[0]+" = "+names[0])
	}
	list := strings.Join(names, ", ")
	stmts := []string{"INSERT INTO " + l.qualified(l.opts.table) + " (" + list + ") SELECT " + list + " FROM " + l.qualified(stage) +
		" ON DUPLICATE KEY UPDATE " + strings.Join(updates, ", ")}
	if l.opts.mode == "delete+insert" {
		keys := make([]string, len(l.opts.deleteKey))
		conds := make([]string, len(l.opts.deleteKey))
		for i, k := range l.opts.deleteKey {
			for _, c := range l.cols {
				if strings.EqualFold(c.target.Name, k) {
					k = c.target.Name
				}
			}
			keys[i] = quoteIdent(k)
			conds[i] = "t." + keys[i] + " = s." + keys[i]
		}
		stmts = []string{
			"DELETE t FROM " + l.qualified(l.opts.table) + " t JOIN (SELECT DISTINCT " + strings.Join(keys, ", ") + " FROM " + l.qualified(stage) + ") s ON " + strings.Join(conds, " AND "),
			"INSERT INTO " + l.qualified(l.opts.table) + " (" + list + ") SELECT " + list + " FROM " + l.qualified(stage),
		}
	}
	tx, err := l.conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			return 0, fmt.Errorf("%s into %s: %w", l.opts.mode, l.qualified(l.opts.table), err)
		}
		if err := checkWarnings(ctx, tx, l.opts.mode); err != nil {
			tx.Rollback()
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}

// checkUniqueKey makes sure the target has a PRIMARY KEY or UNIQUE index on
// exactly the primary_key columns: ON DUPLICATE KEY would otherwise insert
// duplicates or match on another key.
func (l *loader) checkUniqueKey(ctx context.Context) error {
	rows, err := l.conn.QueryContext(ctx,
		"SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX",
		l.opts.schema, l.opts.table)
	if err != nil {
		return err
	}
	defer rows.Close()
	indexes := map[string][]string{}
	for rows.Next() {
		var idx, col string
		if err := rows.Scan(&idx, &col); err != nil {
			return err
		}
		indexes[idx] = append(indexes[idx], strings.ToLower(col))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, k := range l.opts.primaryKey {
		want[strings.ToLower(k)] = true
	}
	for _, cols := range indexes {
		if len(cols) != len(want) {
			continue
		}
		all := true
		for _, c := range cols {
			all = all && want[c]
		}
		if all {
			return nil
		}
	}
	return fmt.Errorf("upsert: table %s has no PRIMARY KEY or UNIQUE index on (%s)", l.qualified(l.opts.table), strings.Join(l.opts.primaryKey, ", "))
}

// load streams the input into table and checks that every row arrived
// unchanged: the server's warnings (LOAD DATA LOCAL downgrades errors to
// warnings and skips rows) and rows written against rows received.
func (l *loader) load(ctx context.Context, ex sqlExecer, table string) (int64, error) {
	var written, received int64
	var err error
	if !l.w.forceInsert {
		written, received, err = l.loadData(ctx, ex, table)
		if err != nil && localInfileForbidden(err) {
			l.req.Log.Info().Err(err).Msg("mysql.writer: LOAD DATA LOCAL INFILE refused, using multi-row INSERT")
			written, received, err = l.insertRows(ctx, ex, table)
		}
	} else {
		written, received, err = l.insertRows(ctx, ex, table)
	}
	if err != nil {
		return 0, err
	}
	if written != received {
		return 0, fmt.Errorf("wrote %d rows into %s but received %d (rows skipped or duplicated by the server)", written, table, received)
	}
	return written, nil
}

// checkWarnings fails when the last statement left warnings or errors
// (notes are off for the session).
func checkWarnings(ctx context.Context, ex sqlExecer, what string) error {
	var count int64
	if err := ex.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&count); err != nil {
		return fmt.Errorf("reading warnings of %s: %w", what, err)
	}
	if count == 0 {
		return nil
	}
	rows, err := ex.QueryContext(ctx, "SHOW WARNINGS LIMIT 3")
	if err != nil {
		return fmt.Errorf("%s: the server reported %d warnings", what, count)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var level, msg string
		var code int
		if rows.Scan(&level, &code, &msg) == nil {
			msgs = append(msgs, fmt.Sprintf("%s %d: %s", level, code, msg))
		}
	}
	return fmt.Errorf("%s: the server rejected or changed values (%d warnings: %s)", what, count, strings.Join(msgs, "; "))
}

// columnList returns the LOAD DATA column list (user variables for columns
// that need a conversion) and the SET clause.
func (l *loader) loadDataColumns(schema *arrow.Schema) (string, string) {
	var list, sets []string
	for i, c := range l.cols {
		dt := schema.Field(c.input).Type
		if pre, suf := c.wrap(dt); pre != "" {
			v := fmt.Sprintf("@osiris_c%d", i)
			list = append(list, v)
			sets = append(sets, quoteIdent(c.target.Name)+" = "+pre+v+suf)
			continue
		}
		list = append(list, quoteIdent(c.target.Name))
	}
	set := ""
	if len(sets) > 0 {
		set = " SET " + strings.Join(sets, ", ")
	}
	return "(" + strings.Join(list, ", ") + ")", set
}

func (l *loader) loadData(ctx context.Context, ex sqlExecer, table string) (written, received int64, err error) {
	rr, err := component.OpenOnce(ctx, l.in)
	if err != nil {
		return 0, 0, fmt.Errorf("opening input %q: %w", l.in.StepID(), err)
	}
	defer rr.Release()
	stream := &tsvStream{ctx: ctx, rr: rr, cols: l.cols}
	name := "osiris_" + ulid.Make().String()
	gomysql.RegisterReaderHandler(name, func() io.Reader { return stream })
	defer gomysql.DeregisterReaderHandler(name)
	cols, set := l.loadDataColumns(rr.Schema())
	q := "LOAD DATA LOCAL INFILE 'Reader::" + name + "' INTO TABLE " + table +
		` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' ` + cols + set
	res, err := ex.ExecContext(ctx, q)
	if stream.failure != nil {
		// The input broke off: what the server got is partial.
		return 0, 0, stream.failure
	}
	if err != nil {
		if localInfileForbidden(err) {
			return 0, 0, err
		}
		return 0, 0, fmt.Errorf("LOAD DATA into %s: %w", table, err)
	}
	if err := checkWarnings(ctx, ex, "LOAD DATA into "+table); err != nil {
		return 0, 0, err
	}
	written, err = res.RowsAffected()
	return written, stream.rows, err
}

// tsvStream is the io.Reader LOAD DATA LOCAL pulls from: it encodes the
// Arrow batches into TSV a slice of rows at a time, never the whole table.
type tsvStream struct {
	ctx  context.Context
	rr   array.RecordReader
	cols []loadColumn

	rec   arrow.RecordBatch
	row   int
	encs  []cellEncoder
	kinds []valueKind

	buf     []byte
	off     int
	scratch []byte
	rows    int64
	eof     bool
	failure error
}

const tsvChunk = 256 << 10

func (s *tsvStream) Read(p []byte) (int, error) {
	for s.off == len(s.buf) {
		if s.failure != nil {
			return 0, s.failure
		}
		if s.eof {
			return 0, io.EOF
		}
		if err := s.fill(); err != nil {
			s.failure = err
			return 0, err
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// nextBatch moves to the next non-empty batch; false at the end.
func (s *tsvStream) nextBatch() (bool, error) {
	for {
		if err := s.ctx.Err(); err != nil {
			return false, err
		}
		if !s.rr.Next() {
			if err := s.rr.Err(); err != nil {
				return false, fmt.Errorf("reading input: %w", err)
			}
			return false, nil
		}
		rec := s.rr.RecordBatch()
		if rec.NumRows() == 0 {
			continue
		}
		s.rec, s.row = rec, 0
		s.encs = s.encs[:0]
		s.kinds = s.kinds[:0]
		for _, c := range s.cols {
			enc, kind, err := encoderFor(rec.Column(c.input))
			if err != nil {
				return false, fmt.Errorf("column %q: %w", c.target.Name, err)
			}
			s.encs = append(s.encs, enc)
			s.kinds = append(s.kinds, kind)
		}
		return true, nil
	}
}

func (s *tsvStream) fill() error {
	s.buf, s.off = s.buf[:0], 0
	for len(s.buf) < tsvChunk {
		if s.rec == nil || s.row >= int(s.rec.NumRows()) {
			ok, err := s.nextBatch()
			if err != nil {
				return err
			}
			if !ok {
				s.eof = true
				return nil
			}
		}
		var err error
		if s.buf, err = s.appendRow(s.buf); err != nil {
			return fmt.Errorf("input row %d: %w", s.rows+1, err)
		}
		s.row++
		s.rows++
	}
	return nil
}

func (s *tsvStream) appendRow(dst []byte) ([]byte, error) {
	for j, enc := range s.encs {
		if j > 0 {
			dst = append(dst, '\t')
		}
		if s.kinds[j] == kindNumber {
			out, null, err := enc(dst, s.row)
			if err != nil {
				return dst, fmt.Errorf("column %q: %w", s.cols[j].target.Name, err)
			}
			if null {
				out = append(out, '\\', 'N')
			}
			dst = out
			continue
		}
		val, null, err := enc(s.scratch[:0], s.row)
		s.scratch = val[:0]
		if err != nil {
			return dst, fmt.Errorf("column %q: %w", s.cols[j].target.Name, err)
		}
		if null {
			dst = append(dst, '\\', 'N')
			continue
		}
		dst = appendTSVEscaped(dst, val)
	}
	return append(dst, '\n'), nil
}

// insertRows is the fallback path: multi-row INSERT statements of at most
// insertBytes each.
func (l *loader) insertRows(ctx context.Context, ex sqlExecer, table string) (written, received int64, err error) {
	limit := l.w.insertBytes
	if limit <= 0 {
		limit = 4 << 20
		var maxPacket int64
		if err := ex.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&maxPacket); err == nil && maxPacket > 0 && int64(limit) > maxPacket/2 {
			limit = int(maxPacket / 2)
		}
	}
	rr, err := component.OpenOnce(ctx, l.in)
	if err != nil {
		return 0, 0, fmt.Errorf("opening input %q: %w", l.in.StepID(), err)
	}
	defer rr.Release()
	schema := rr.Schema()
	names := make([]string, len(l.cols))
	for i, c := range l.cols {
		names[i] = quoteIdent(c.target.Name)
	}
	prefix := "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") VALUES "
	stmt := make([]byte, 0, limit+limit/4)
	stmt = append(stmt, prefix...)
	pending := 0
	flush := func() error {
		if pending == 0 {
			return nil
		}
		res, err := ex.ExecContext(ctx, string(stmt))
		if err != nil {
			return fmt.Errorf("INSERT into %s: %w", table, err)
		}
		if err := checkWarnings(ctx, ex, "INSERT into "+table); err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		written += n
		stmt = append(stmt[:0], prefix...)
		pending = 0
		return nil
	}
	var scratch []byte
	prefixes := make([]string, len(l.cols))
	suffixes := make([]string, len(l.cols))
	for j, c := range l.cols {
		prefixes[j], suffixes[j] = c.wrap(schema.Field(c.input).Type)
	}
	encs := make([]cellEncoder, len(l.cols))
	kinds := make([]valueKind, len(l.cols))
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		rec := rr.RecordBatch()
		for j, c := range l.cols {
			if encs[j], kinds[j], err = encoderFor(rec.Column(c.input)); err != nil {
				return 0, 0, fmt.Errorf("column %q: %w", c.target.Name, err)
			}
		}
		for row := 0; row < int(rec.NumRows()); row++ {
			if pending > 0 {
				stmt = append(stmt, ',')
			}
			stmt = append(stmt, '(')
			for j, enc := range encs {
				if j > 0 {
					stmt = append(stmt, ',')
				}
				val, null, err := enc(scratch[:0], row)
				scratch = val[:0]
				if err != nil {
					return 0, 0, fmt.Errorf("input row %d, column %q: %w", received+1, l.cols[j].target.Name, err)
				}
				if null {
					stmt = append(stmt, "NULL"...)
					continue
				}
				stmt = append(stmt, prefixes[j]...)
				stmt = appendSQLLiteral(stmt, val, kinds[j])
				stmt = append(stmt, suffixes[j]...)
			}
			stmt = append(stmt, ')')
			pending++
			received++
			if len(stmt) >= limit {
				if err := flush(); err != nil {
					return 0, 0, err
				}
			}
		}
	}
	if err := rr.Err(); err != nil {
		return 0, 0, fmt.Errorf("reading input: %w", err)
	}
	if err := flush(); err != nil {
		return 0, 0, err
	}
	return written, received, nil
}

// loadLockName is the GET_LOCK name a load of schema.table with staging tag
// tag holds while it runs: a staging table whose lock is free belongs to a
// load that is gone.
func loadLockName(schema, table, tag string) string {
	sum := sha1.Sum([]byte("load " + schema + "." + table + " " + tag))
	return "osiris:" + hex.EncodeToString(sum[:16])
}

// dropStaleStaging drops the staging tables of this table (osiris's own
// naming: <table>__osiris_new_<tag>, <table>__osiris_old_<tag>) whose load
// is gone: a killed run leaves them behind, and nothing else would ever
// remove them. A staging table whose load still runs has its lock held and
// is left alone. Failures are logged, never fatal.
func (l *loader) dropStaleStaging(ctx context.Context) {
	var prefixes []string
	for _, kind := range []string{"new", "old"} {
		full := stagingName(l.opts.table, "__osiris_"+kind+"_"+l.tag)
		prefixes = append(prefixes, full[:len(full)-len(l.tag)])
	}
	rows, err := l.conn.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND (LEFT(TABLE_NAME, ?) = ? OR LEFT(TABLE_NAME, ?) = ?)",
		l.opts.schema, len(prefixes[0]), prefixes[0], len(prefixes[1]), prefixes[1])
	if err != nil {
		l.req.Log.Warn().Err(err).Msg("mysql.writer: looking for stale staging tables failed")
		return
	}
	var stale []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			break
		}
		for _, p := range prefixes {
			if tag, ok := strings.CutPrefix(name, p); ok && isStagingTag(tag) && tag != l.tag {
				stale = append(stale, name)
			}
		}
	}
	rows.Close()
	for _, name := range stale {
		tag := name[len(name)-len(l.tag):]
		var free sql.NullInt64
		if err := l.conn.QueryRowContext(ctx, "SELECT IS_FREE_LOCK(?)", loadLockName(l.opts.schema, l.opts.table, tag)).Scan(&free); err != nil || !free.Valid || free.Int64 != 1 {
			continue
		}
		if _, err := l.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+l.qualified(name)); err != nil {
			l.req.Log.Warn().Err(err).Str("table", name).Msg("mysql.writer: dropping a stale staging table failed")
			continue
		}
		l.req.Log.Info().Str("table", name).Msg("mysql.writer: dropped a staging table an interrupted run left behind")
	}
}

// isStagingTag reports whether s has the form of a load's tag (six
// characters of a lower-case ULID).
func isStagingTag(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}
