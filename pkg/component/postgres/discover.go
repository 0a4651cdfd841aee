package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

func init() {
	component.RegisterDiscoverer("postgres", discover)
	component.RegisterDiscoverer("supabase", discover)
}

// discover reads the catalog of every schema but the system ones: tables,
// views, columns with their formatted types, primary and foreign keys,
// then up to opts.Samples rows of every table.
func discover(ctx context.Context, conn *workspace.Connection, _ *workspace.Files, opts component.DiscoverOptions) (*component.Discovery, error) {
	c, red, err := connect(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	fail := func(what string, err error) error {
		return fmt.Errorf("connection %s: %s: %w", conn.Ref(), what, red.redact(err))
	}
	d := &component.Discovery{Connection: conn.Ref(), Family: "postgres", Database: c.Config().Database}
	if f := conn.Family; f != "" {
		d.Family = f
	}
	type key struct{ schema, name string }
	byName := map[key]int{}
	rows, err := c.Query(ctx, `SELECT n.nspname, c.relname, c.relkind::text, GREATEST(c.reltuples, 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fail("listing tables", err)
	}
	for rows.Next() {
		var t component.DiscoveredTable
		var kind string
		if err := rows.Scan(&t.Schema, &t.Name, &kind, &t.RowEstimate); err != nil {
			rows.Close()
			return nil, fail("listing tables", err)
		}
		t.Kind = "table"
		if kind == "v" || kind == "m" {
			t.Kind = "view"
		}
		byName[key{t.Schema, t.Name}] = len(d.Tables)
		d.Tables = append(d.Tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail("listing tables", err)
	}
	rows, err = c.Query(ctx, `SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2, a.attnum`)
	if err != nil {
		return nil, fail("listing columns", err)
	}
	for rows.Next() {
		var schema, table string
		var col component.DiscoveredColumn
		if err := rows.Scan(&schema, &table, &col.Name, &col.Type, &col.Nullable); err != nil {
			rows.Close()
			return nil, fail("listing columns", err)
		}
		if i, ok := byName[key{schema, table}]; ok {
			d.Tables[i].Columns = append(d.Tables[i].Columns, col)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail("listing columns", err)
	}
	rows, err = c.Query(ctx, `SELECT n.nspname, t.relname, k.contype::text,
		ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
		COALESCE(r.relname::text, ''),
		ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)
		FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		LEFT JOIN pg_class r ON r.oid = k.confrelid
		WHERE k.contype IN ('p', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2, k.conname`)
	if err != nil {
		return nil, fail("listing keys", err)
	}
	for rows.Next() {
		var schema, table, kind, ref string
		var cols, refCols []string
		if err := rows.Scan(&schema, &table, &kind, &cols, &ref, &refCols); err != nil {
			rows.Close()
			return nil, fail("listing keys", err)
		}
		i, ok := byName[key{schema, table}]
		if !ok {
			continue
		}
		if kind == "p" {
			d.Tables[i].PrimaryKey = cols
		} else {
			d.Tables[i].ForeignKeys = append(d.Tables[i].ForeignKeys, component.ForeignKey{Columns: cols, RefTable: ref, RefColumns: refCols})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail("listing keys", err)
	}
	if opts.Samples > 0 {
		for i := range d.Tables {
			t := &d.Tables[i]
			if t.Kind != "table" {
				continue
			}
			s, err := samples(ctx, c, fmt.Sprintf("SELECT * FROM %s LIMIT %d", qualified(t.Schema, t.Name), opts.Samples))
			if err != nil {
				return nil, fail("sampling "+t.Name, err)
			}
			t.Samples = s
		}
	}
	return d, nil
}

// samples reads rows as text: the server's own text form of every value.
func samples(ctx context.Context, c *pgx.Conn, q string) ([][]any, error) {
	rows, err := c.Query(ctx, q, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]any, len(raw))
		for i, b := range raw {
			if b != nil {
				row[i] = component.SampleText(append([]byte(nil), b...))
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}
