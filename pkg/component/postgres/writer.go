package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/osiris-go/osiris/pkg/component"
)

// Writer is supabase.writer / postgres.writer.
type Writer struct{}

// pgTypeFor is the create_if_missing type mapping (documented in doc.go).
func pgTypeFor(dt arrow.DataType) (sqlType string, oid uint32, err error) {
	switch t := dt.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Uint8Type:
		return "smallint", pgtype.Int2OID, nil
	case *arrow.Int32Type, *arrow.Uint16Type:
		return "integer", pgtype.Int4OID, nil
	case *arrow.Int64Type, *arrow.Uint32Type:
		return "bigint", pgtype.Int8OID, nil
	case *arrow.Uint64Type:
		return "numeric(20,0)", pgtype.NumericOID, nil
	case *arrow.Float32Type:
		return "real", pgtype.Float4OID, nil
	case *arrow.Float64Type:
		return "double precision", pgtype.Float8OID, nil
	case *arrow.Decimal128Type:
		return numericSQL(t.Precision, t.Scale), pgtype.NumericOID, nil
	case *arrow.Decimal256Type:
		return numericSQL(t.Precision, t.Scale), pgtype.NumericOID, nil
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType, *arrow.NullType:
		return "text", pgtype.TextOID, nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType, *arrow.FixedSizeBinaryType:
		return "bytea", pgtype.ByteaOID, nil
	case *arrow.BooleanType:
		return "boolean", pgtype.BoolOID, nil
	case *arrow.Date32Type, *arrow.Date64Type:
		return "date", pgtype.DateOID, nil
	case *arrow.TimestampType:
		if t.TimeZone == "" {
			return "timestamp", pgtype.TimestampOID, nil
		}
		return "timestamptz", pgtype.TimestamptzOID, nil
	case *arrow.Time32Type, *arrow.Time64Type:
		return "time", pgtype.TimeOID, nil
	case *arrow.DurationType:
		return "interval", pgtype.IntervalOID, nil
	}
	return "", 0, fmt.Errorf("Arrow type %s has no PostgreSQL mapping", dt)
}

func numericSQL(p, s int32) string {
	if s < 0 { // PostgreSQL before 15 has no negative scales: widen instead
		return fmt.Sprintf("numeric(%d,0)", p-s)
	}
	return fmt.Sprintf("numeric(%d,%d)", p, s)
}

// targetColumn is one column of an existing target table.
type targetColumn struct {
	name    string
	oid     uint32 // the type used for binary encoding (domains → base, enums → text)
	sqlType string // format_type(), for casts
}

// lookupTable returns the target's columns, or nil when it does not exist.
func lookupTable(ctx context.Context, tx pgx.Tx, qname string) ([]targetColumn, error) {
	rows, err := tx.Query(ctx, `
SELECT a.attname,
       CASE WHEN t.typtype = 'e' THEN 25::oid
            WHEN t.typtype = 'd' THEN CASE WHEN bt.typtype = 'e' THEN 25::oid ELSE t.typbasetype END
            ELSE a.atttypid END,
       format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, qname)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (targetColumn, error) {
		var c targetColumn
		err := r.Scan(&c.name, &c.oid, &c.sqlType)
		return c, err
	})
}

// columnPlan is how one input column reaches the target.
type columnPlan struct {
	input  string // Arrow field name
	target targetColumn
	direct bool   // encode straight into the target type
	natOID uint32 // natural type (staging) when not direct
	natSQL string
}

func matchColumn(cols []targetColumn, name string) (targetColumn, bool) {
	for _, c := range cols {
		if c.name == name {
			return c, true
		}
	}
	// Unquoted identifiers fold to lower case: accept one case-insensitive match.
	var found []targetColumn
	for _, c := range cols {
		if strings.EqualFold(c.name, name) {
			found = append(found, c)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return targetColumn{}, false
}

type writeOptions struct {
	schema, table   string
	mode            string
	primaryKey      []string
	deleteKey       []string
	createIfMissing bool
	evolution       string // schema_evolution: add or fail
}

// merge reports whether the mode updates rows on primary_key (upsert is
// merge's older name).
func (o writeOptions) merge() bool { return o.mode == "upsert" || o.mode == "merge" }

// keyed reports whether the load goes through staging to a keyed statement.
func (o writeOptions) keyed() bool { return o.merge() || o.mode == "delete+insert" }

func writeOptionsFrom(req *component.Request) (writeOptions, error) {
	o := writeOptions{
		schema:          req.Config.String("schema"),
		table:           req.Config.String("table"),
		mode:            req.Config.String("write_mode"),
		primaryKey:      req.Config.Strings("primary_key"),
		deleteKey:       req.Config.Strings("delete_key"),
		createIfMissing: req.Config.Bool("create_if_missing", false),
	}
	var err error
	if o.evolution, err = component.SchemaEvolution(req.Config); err != nil {
		return o, fmt.Errorf("config: %w", err)
	}
	if o.schema == "" {
		o.schema = "public"
	}
	if o.mode == "" {
		o.mode = "append"
	}
	switch {
	case o.table == "":
		return o, errors.New("config: table is required")
	case o.mode != "append" && o.mode != "replace" && !o.keyed():
		return o, fmt.Errorf("config: write_mode %q is not append, replace, merge (upsert) or delete+insert", o.mode)
	case o.merge() && len(o.primaryKey) == 0:
		return o, fmt.Errorf("config: write_mode %s needs primary_key", o.mode)
	case o.mode == "delete+insert" && len(o.deleteKey) == 0:
		return o, errors.New("config: write_mode delete+insert needs delete_key")
	}
	return o, nil
}

// Write loads in into the target table in one transaction.
func (Writer) Write(ctx context.Context, req *component.Request, in component.Table) (component.WriteResult, error) {
	opts, err := writeOptionsFrom(req)
	if err != nil {
		return component.WriteResult{}, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	n, err := write(ctx, req, in, opts)
	if err != nil {
		return component.WriteResult{}, fmt.Errorf("step %q: %s into %s: %w", req.StepID, opts.mode, qualified(opts.schema, opts.table), err)
	}
	return component.WriteResult{RowsWritten: n}, nil
}

// maxIdentifierBytes is PostgreSQL's NAMEDATALEN-1; the spec's
// MaxIdentifierBytes says the same to the validator.
const maxIdentifierBytes = 63

func write(ctx context.Context, req *component.Request, in component.Table, opts writeOptions) (int64, error) {
	schema := in.Schema()
	seen := map[string]bool{}
	for _, f := range schema.Fields() {
		if f.Name == "" || seen[f.Name] {
			return 0, fmt.Errorf("input column names must be unique and non-empty (got %q twice or empty)", f.Name)
		}
		if len(f.Name) > maxIdentifierBytes {
			// PostgreSQL would cut the name: the table gets a column no
			// later load matches by name, and every rerun fails.
			return 0, fmt.Errorf("input column %q is %d bytes; PostgreSQL keeps %d, so the column would be renamed silently: give it a shorter name in the upstream query (… AS short_name)", f.Name, len(f.Name), maxIdentifierBytes)
		}
		seen[f.Name] = true
	}
	for _, k := range opts.primaryKey {
		if !seen[k] {
			return 0, fmt.Errorf("primary_key column %q is not an input column", k)
		}
	}
	for _, k := range opts.deleteKey {
		if !seen[k] {
			return 0, fmt.Errorf("delete_key column %q is not an input column", k)
		}
	}

	conn, red, err := connect(ctx, req.Conn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, red.redact(err)
	}
	committed := false
	defer func() {
		if !committed {
			// The connection may be dead (killed, cancelled): the server then
			// rolls back by itself, so the error is of no interest.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_ = tx.Rollback(rctx)
			cancel()
		}
	}()

	qname := qualified(opts.schema, opts.table)
	cols, err := lookupTable(ctx, tx, qname)
	if err != nil {
		return 0, red.redact(fmt.Errorf("reading the table definition: %w", err))
	}
	if len(cols) == 0 {
		if !opts.createIfMissing {
			return 0, fmt.Errorf("table %s does not exist (set create_if_missing: true to create it)", qname)
		}
		// Two runs creating the same table at once would both see it
		// missing, and the second CREATE fails (duplicate key in pg_type).
		// The creation is serialised with a transaction-scoped advisory
		// lock; whoever waited finds the table made and loads into it.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "osiris create_if_missing "+qname); err != nil {
			return 0, red.redact(fmt.Errorf("waiting for the advisory lock that serialises creating the table: %w", err))
		}
		if cols, err = lookupTable(ctx, tx, qname); err != nil {
			return 0, red.redact(fmt.Errorf("reading the table definition: %w", err))
		}
	}
	if len(cols) == 0 {
		ddl, created, err := createTableSQL(qname, schema, opts.primaryKey)
		if err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, ddl); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && (pe.Code == "42P07" || pe.Code == "23505") {
				return 0, red.redact(fmt.Errorf("creating the table: another session created it at the same moment; osiris runs take an advisory lock to serialise this, so the other session did not (another tool, or an older osiris); run again to load into the table it made: %w", err))
			}
			return 0, red.redact(fmt.Errorf("creating the table: %w", err))
		}
		cols = created
	} else if opts.mode != "replace" {
		// The table existed: let it follow the input (schema_evolution),
		// or fail before anything is written.
		changes, err := evolveTable(ctx, tx, qname, schema, cols, opts.evolution)
		if err != nil {
			return 0, red.redact(err)
		}
		if changes.Changed() {
			if cols, err = lookupTable(ctx, tx, qname); err != nil {
				return 0, red.redact(fmt.Errorf("reading the table definition: %w", err))
			}
		}
		defer func() {
			if committed {
				changes.Emit(req, qname)
			}
		}()
	}

	plan := make([]columnPlan, schema.NumFields())
	allDirect := true
	for i, f := range schema.Fields() {
		tc, ok := matchColumn(cols, f.Name)
		if !ok {
			return 0, fmt.Errorf("input column %q is not a column of %s", f.Name, qname)
		}
		natSQL, natOID, err := pgTypeFor(f.Type)
		if err != nil {
			return 0, fmt.Errorf("column %q: %w", f.Name, err)
		}
		p := columnPlan{input: f.Name, target: tc, natOID: natOID, natSQL: natSQL}
		p.direct = canEncodeDirect(f.Type, tc.oid)
		allDirect = allDirect && p.direct
		plan[i] = p
	}

	src, err := component.OpenOnce(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("opening input %s: %w", in.StepID(), err)
	}
	defer src.Release()

	targetCols := make([]string, len(plan))
	for i, p := range plan {
		targetCols[i] = quoteIdent(p.target.name)
	}
	colList := strings.Join(targetCols, ", ")

	truncated := false
	if opts.mode == "replace" {
		if truncated, err = clearTable(ctx, tx, qname); err != nil {
			return 0, red.redact(err)
		}
	}

	var loaded int64
	switch {
	case allDirect && !opts.keyed():
		// Straight into the target: after TRUNCATE in this transaction this is
		// as fast as an unkeyed staging load plus key build (doc.go) and keeps
		// the table's identity.
		var rebuild func(context.Context) error
		if truncated {
			// The table is empty and locked: building the indexes once after
			// the load is faster than maintaining them row by row (W2).
			if rebuild, err = dropIndexes(ctx, tx, qname); err != nil {
				return 0, red.redact(err)
			}
		}
		loaded, err = copyInto(ctx, req, tx, qname, colList, src, plan, true)
		if err != nil {
			return 0, red.redact(err)
		}
		if rebuild != nil {
			if err := rebuild(ctx); err != nil {
				return 0, red.redact(err)
			}
		}
	default:
		// Stage, then one INSERT … SELECT (with casts where the types differ;
		// with ON CONFLICT for merge, after a DELETE for delete+insert).
		stage := quoteIdent("osiris_stage_" + randomSuffix())
		stageCols := make([]string, len(plan))
		selectList := make([]string, len(plan))
		for i, p := range plan {
			c := quoteIdent(p.target.name)
			if allDirect {
				stageCols[i] = c
				selectList[i] = c
			} else {
				stageCols[i] = c + " " + p.natSQL
				selectList[i] = c
				if !p.direct {
					selectList[i] = c + "::" + p.target.sqlType
				}
			}
		}
		var ddl string
		if allDirect {
			// Exact target types (typmods included), no constraints.
			ddl = fmt.Sprintf("CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT %s FROM %s WITH NO DATA", stage, colList, qname)
		} else {
			ddl = fmt.Sprintf("CREATE TEMP TABLE %s (%s) ON COMMIT DROP", stage, strings.Join(stageCols, ", "))
		}
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return 0, red.redact(fmt.Errorf("creating the staging table: %w", err))
		}
		copied, err := copyInto(ctx, req, tx, stage, colList, src, plan, allDirect)
		if err != nil {
			return 0, red.redact(err)
		}
		if opts.mode == "delete+insert" {
			if _, err := tx.Exec(ctx, deleteByKeySQL(qname, stage, plan, opts.deleteKey, allDirect)); err != nil {
				return 0, red.redact(fmt.Errorf("deleting the rows of the input's delete_key values: %w", err))
			}
		}
		insert := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", qname, colList, strings.Join(selectList, ", "), stage)
		if opts.merge() {
			insert += onConflict(plan, opts.primaryKey)
		}
		tag, err := tx.Exec(ctx, insert)
		if err != nil {
			return 0, red.redact(fmt.Errorf("moving staged rows into the table: %w", err))
		}
		loaded = tag.RowsAffected()
		if err := reconcile("staged", copied, "written", loaded); err != nil {
			return 0, err
		}
	}

	// Rows received: what the engine says the input holds must be what we
	// wrote.
	if err := reconcile("received", in.Rows(), "written", loaded); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, red.redact(fmt.Errorf("commit: %w", err))
	}
	committed = true
	return loaded, nil
}

// reconcile fails when two row counts differ.
func reconcile(what1 string, n1 int64, what2 string, n2 int64) error {
	if n1 != n2 {
		return fmt.Errorf("rows %s (%d) differ from rows %s (%d); rolled back", what1, n1, what2, n2)
	}
	return nil
}

// clearTable empties the target inside the transaction. TRUNCATE is used
// unless another table references it with a foreign key (TRUNCATE would
// refuse); DELETE then lets the foreign keys decide. It reports whether the
// table was truncated.
func clearTable(ctx context.Context, tx pgx.Tx, qname string) (bool, error) {
	var referenced bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = to_regclass($1) AND conrelid <> confrelid)`, qname).Scan(&referenced)
	if err != nil {
		return false, fmt.Errorf("checking foreign keys: %w", err)
	}
	stmt := "TRUNCATE " + qname
	if referenced {
		stmt = "DELETE FROM " + qname
	}
	if _, err := tx.Exec(ctx, stmt); err != nil {
		return false, fmt.Errorf("emptying the table: %w", err)
	}
	return !referenced, nil
}

// dropIndexes drops the indexes of a table that was just truncated in tx
// (constraint-backed ones through their constraint) and returns the
// function that recreates them, with the same names and definitions, after
// the load. Everything happens in tx: a failure (a duplicate key found while
// rebuilding the primary key) rolls the whole replace back. Partitioned
// tables are left alone.
func dropIndexes(ctx context.Context, tx pgx.Tx, qname string) (func(context.Context) error, error) {
	var kind string
	if err := tx.QueryRow(ctx, `SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)`, qname).Scan(&kind); err != nil {
		return nil, fmt.Errorf("reading the table kind: %w", err)
	}
	if kind != "r" {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `
		SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
		       coalesce(c.conname, ''), coalesce(pg_get_constraintdef(c.oid), ''), coalesce(c.contype::text, '')
		FROM pg_index i
		LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
		WHERE i.indrelid = to_regclass($1)
		ORDER BY c.contype NULLS LAST, 1`, qname)
	if err != nil {
		return nil, fmt.Errorf("reading the table's indexes: %w", err)
	}
	// A foreign key of the table onto its own key (employees.manager_id →
	// employees.id) shows up here through the key's index. It depends on
	// that key: it is dropped before it and re-added after it.
	var fkDrops, drops, creates, fkCreates []string
	for rows.Next() {
		var index, indexDef, con, conDef, conType string
		if err := rows.Scan(&index, &indexDef, &con, &conDef, &conType); err != nil {
			rows.Close()
			return nil, err
		}
		switch {
		case conType == "f":
			fkDrops = append(fkDrops, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", qname, quoteIdent(con)))
			fkCreates = append(fkCreates, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", qname, quoteIdent(con), conDef))
		case con != "":
			drops = append(drops, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", qname, quoteIdent(con)))
			creates = append(creates, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", qname, quoteIdent(con), conDef))
		default:
			drops = append(drops, "DROP INDEX "+index)
			creates = append(creates, indexDef)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	drops = append(fkDrops, drops...)
	creates = append(creates, fkCreates...)
	for _, d := range drops {
		if _, err := tx.Exec(ctx, d); err != nil {
			return nil, fmt.Errorf("deferring index maintenance (%s): %w", d, err)
		}
	}
	return func(ctx context.Context) error {
		for _, c := range creates {
			if _, err := tx.Exec(ctx, c); err != nil {
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Detail != "" {
					// "Key (id)=(7) is duplicated." says which rows to fix.
					return fmt.Errorf("rebuilding the table's keys and indexes after the load: %w (%s)", err, pe.Detail)
				}
				return fmt.Errorf("rebuilding the table's keys and indexes after the load: %w", err)
			}
		}
		return nil
	}, nil
}

// deleteByKeySQL deletes the target rows whose delete_key values appear in
// the staging table (compared in the target's types).
func deleteByKeySQL(qname, stage string, plan []columnPlan, keys []string, allDirect bool) string {
	conds := make([]string, len(keys))
	sel := make([]string, len(keys))
	for i, k := range keys {
		for _, p := range plan {
			if p.input != k {
				continue
			}
			c := quoteIdent(p.target.name)
			expr := c
			if !allDirect && !p.direct {
				expr = c + "::" + p.target.sqlType
			}
			sel[i] = expr + " AS " + c
			conds[i] = "t." + c + " = s." + c
		}
	}
	return fmt.Sprintf("DELETE FROM %s t USING (SELECT DISTINCT %s FROM %s) s WHERE %s", qname, strings.Join(sel, ", "), stage, strings.Join(conds, " AND "))
}

func onConflict(plan []columnPlan, pk []string) string {
	isKey := map[string]bool{}
	keys := make([]string, len(pk))
	for i, k := range pk {
		for _, p := range plan {
			if p.input == k {
				k = p.target.name
			}
		}
		isKey[k] = true
		keys[i] = quoteIdent(k)
	}
	var sets []string
	for _, p := range plan {
		if !isKey[p.target.name] {
			c := quoteIdent(p.target.name)
			sets = append(sets, c+" = EXCLUDED."+c)
		}
	}
	if len(sets) == 0 {
		return " ON CONFLICT (" + strings.Join(keys, ", ") + ") DO NOTHING"
	}
	return " ON CONFLICT (" + strings.Join(keys, ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
}

// copyInto streams src as one binary COPY into table and checks that the
// server stored every row it was sent.
func copyInto(ctx context.Context, req *component.Request, tx pgx.Tx, table, colList string, src array.RecordReader, plan []columnPlan, direct bool) (int64, error) {
	names := make([]string, len(plan))
	targets := make([]uint32, len(plan))
	for i, p := range plan {
		names[i] = p.input
		targets[i] = p.natOID
		if direct {
			targets[i] = p.target.oid
		}
	}
	stream := newCopyStream(ctx, src, names, targets)
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", table, colList)
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, stream, sql)
	stream.stop()
	if stream.err != nil && !errors.Is(stream.err, io.EOF) {
		// Our own failure (input, encoding, cancel) is the cause; the
		// server's "COPY from stdin failed" only echoes it.
		return 0, stream.err
	}
	if err != nil {
		return 0, fmt.Errorf("COPY: %w", err)
	}
	if stream.lossy > 0 {
		req.Warn("sub-microsecond-truncated", fmt.Sprintf("%d time values had nanoseconds; PostgreSQL keeps microseconds, the rest was dropped", stream.lossy))
	}
	if err := reconcile("sent", stream.rows, "stored by COPY", tag.RowsAffected()); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// createTableSQL is the create_if_missing DDL and the columns it creates.
func createTableSQL(qname string, schema *arrow.Schema, pk []string) (string, []targetColumn, error) {
	var defs []string
	var cols []targetColumn
	for _, f := range schema.Fields() {
		sqlType, oid, err := pgTypeFor(f.Type)
		if err != nil {
			return "", nil, fmt.Errorf("create_if_missing: column %q: %w", f.Name, err)
		}
		defs = append(defs, quoteIdent(f.Name)+" "+sqlType)
		cols = append(cols, targetColumn{name: f.Name, oid: oid, sqlType: sqlType})
	}
	if len(pk) > 0 {
		keys := make([]string, len(pk))
		for i, k := range pk {
			keys[i] = quoteIdent(k)
		}
		defs = append(defs, "PRIMARY KEY ("+strings.Join(keys, ", ")+")")
	}
	return "CREATE TABLE " + qname + " (" + strings.Join(defs, ", ") + ")", cols, nil
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
