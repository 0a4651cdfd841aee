package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

func init() { component.RegisterDiscoverer("mysql", discover) }

// discover reads information_schema for the connection's database: one
// query each for tables, columns and keys, then up to opts.Samples rows of
// every base table.
func discover(ctx context.Context, conn *workspace.Connection, _ *workspace.Files, opts component.DiscoverOptions) (*component.Discovery, error) {
	cfg, err := configFor(conn)
	if err != nil {
		return nil, err
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("connection %s names no database; add database = \"...\" to it", connRef(conn))
	}
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("connection %s: %w", connRef(conn), err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	d := &component.Discovery{Connection: connRef(conn), Family: "mysql", Database: cfg.DBName}
	byName := map[string]int{}
	rows, err := db.QueryContext(ctx, `SELECT table_name, table_type, COALESCE(table_rows, 0)
		FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name`, cfg.DBName)
	if err != nil {
		return nil, fmt.Errorf("connection %s: listing tables: %w", connRef(conn), err)
	}
	for rows.Next() {
		var t component.DiscoveredTable
		var kind string
		if err := rows.Scan(&t.Name, &kind, &t.RowEstimate); err != nil {
			rows.Close()
			return nil, err
		}
		t.Kind = "table"
		if strings.Contains(kind, "VIEW") {
			t.Kind = "view"
		}
		byName[t.Name] = len(d.Tables)
		d.Tables = append(d.Tables, t)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	rows, err = db.QueryContext(ctx, `SELECT table_name, column_name, column_type, is_nullable
		FROM information_schema.columns WHERE table_schema = ? ORDER BY table_name, ordinal_position`, cfg.DBName)
	if err != nil {
		return nil, fmt.Errorf("connection %s: listing columns: %w", connRef(conn), err)
	}
	for rows.Next() {
		var table, nullable string
		var c component.DiscoveredColumn
		if err := rows.Scan(&table, &c.Name, &c.Type, &nullable); err != nil {
			rows.Close()
			return nil, err
		}
		c.Nullable = nullable == "YES"
		if i, ok := byName[table]; ok {
			d.Tables[i].Columns = append(d.Tables[i].Columns, c)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	rows, err = db.QueryContext(ctx, `SELECT table_name, constraint_name, column_name,
		COALESCE(referenced_table_name, ''), COALESCE(referenced_column_name, '')
		FROM information_schema.key_column_usage WHERE table_schema = ?
		ORDER BY table_name, constraint_name, ordinal_position`, cfg.DBName)
	if err != nil {
		return nil, fmt.Errorf("connection %s: listing keys: %w", connRef(conn), err)
	}
	fks := map[string]*component.ForeignKey{}
	var fkOrder []string
	for rows.Next() {
		var table, constraint, column, refTable, refColumn string
		if err := rows.Scan(&table, &constraint, &column, &refTable, &refColumn); err != nil {
			rows.Close()
			return nil, err
		}
		i, ok := byName[table]
		if !ok {
			continue
		}
		switch {
		case constraint == "PRIMARY":
			d.Tables[i].PrimaryKey = append(d.Tables[i].PrimaryKey, column)
		case refTable != "":
			k := table + "\x00" + constraint
			fk := fks[k]
			if fk == nil {
				fk = &component.ForeignKey{RefTable: refTable}
				fks[k] = fk
				fkOrder = append(fkOrder, k)
			}
			fk.Columns = append(fk.Columns, column)
			fk.RefColumns = append(fk.RefColumns, refColumn)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	for _, k := range fkOrder {
		table, _, _ := strings.Cut(k, "\x00")
		t := &d.Tables[byName[table]]
		t.ForeignKeys = append(t.ForeignKeys, *fks[k])
	}
	if opts.Samples > 0 {
		for i := range d.Tables {
			t := &d.Tables[i]
			if t.Kind != "table" {
				continue
			}
			s, err := sampleRows(ctx, db, "SELECT * FROM "+quoteIdent(t.Name)+" LIMIT "+fmt.Sprint(opts.Samples))
			if err != nil {
				return nil, fmt.Errorf("connection %s: sampling %s: %w", connRef(conn), t.Name, err)
			}
			t.Samples = s
		}
	}
	return d, nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// sampleRows reads a small query's rows as component.SampleText values.
func sampleRows(ctx context.Context, db *sql.DB, q string) ([][]any, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	cols, err := rows.Columns()
	if err != nil {
		rows.Close()
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return nil, err
		}
		for i, v := range vals {
			vals[i] = component.SampleText(v)
		}
		out = append(out, vals)
	}
	return out, closeRows(rows)
}
