package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/pkg/component"
)

// colType reduces a format_type() spelling to what schema evolution compares.
func colType(sqlType string) component.ColType {
	t := component.ColType{SQL: sqlType}
	base, args, _ := strings.Cut(strings.TrimSuffix(sqlType, ")"), "(")
	nums := func() (a, b int) {
		parts := strings.Split(args, ",")
		a, _ = strconv.Atoi(strings.TrimSpace(parts[0]))
		if len(parts) > 1 {
			b, _ = strconv.Atoi(strings.TrimSpace(parts[1]))
		}
		return a, b
	}
	switch strings.TrimSpace(base) {
	case "smallint":
		t.Kind, t.Width = component.KindInt, 2
	case "integer":
		t.Kind, t.Width = component.KindInt, 4
	case "bigint":
		t.Kind, t.Width = component.KindInt, 8
	case "numeric":
		t.Kind = component.KindDecimal
		if args != "" {
			t.Width, t.Scale = nums()
		}
	case "real", "double precision":
		t.Kind = component.KindFloat
	case "boolean":
		t.Kind = component.KindBool
	case "text", "character varying", "character":
		t.Kind = component.KindString
		if args != "" {
			t.Width, _ = nums()
		}
	}
	return t
}

// evolveTable compares the input's columns with the existing target's
// (cols) under policy (schema_evolution) and, for add, adds the new input
// columns (nullable) and widens int and numeric columns, in tx. Every
// conflict is found before any DDL runs, so a refused load changes nothing.
func evolveTable(ctx context.Context, tx pgx.Tx, qname string, in *arrow.Schema, cols []targetColumn, policy string) (component.SchemaChanges, error) {
	var ch component.SchemaChanges
	var ddl []string
	used := map[string]bool{}
	for _, f := range in.Fields() {
		natSQL, _, err := pgTypeFor(f.Type)
		if err != nil {
			return ch, fmt.Errorf("column %q: %w", f.Name, err)
		}
		inType := colType(natSQL)
		tc, ok := matchColumn(cols, f.Name)
		if !ok {
			if policy == component.SchemaEvolutionFail {
				return ch, component.EvolutionRefused(qname, fmt.Sprintf("input column %q (%s) is not a column", f.Name, natSQL))
			}
			ddl = append(ddl, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", qname, quoteIdent(f.Name), natSQL))
			ch.Added = append(ch.Added, f.Name+" "+natSQL)
			continue
		}
		used[tc.name] = true
		target := colType(tc.sqlType)
		v, p, s := component.CompareTypes(target, inType)
		switch v {
		case component.TypeConflict:
			return ch, component.ConflictError(qname, f.Name, target, inType)
		case component.TypeWiden:
			if policy == component.SchemaEvolutionFail {
				return ch, component.EvolutionRefused(qname, fmt.Sprintf("input column %q is %s, wider than the column's %s", f.Name, natSQL, tc.sqlType))
			}
			wide := natSQL
			if target.Kind == component.KindDecimal {
				wide = fmt.Sprintf("numeric(%d,%d)", p, s)
			}
			ddl = append(ddl, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s", qname, quoteIdent(tc.name), wide))
			ch.Widened = append(ch.Widened, fmt.Sprintf("%s: %s → %s", tc.name, tc.sqlType, wide))
		}
	}
	// Target columns the input lacks: NULL when nullable; a NOT NULL one
	// without a default (or identity, or generation) cannot be loaded. One
	// that fills itself is the target's design, not a difference.
	rows, err := tx.Query(ctx, `
SELECT a.attname, a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, qname)
	if err != nil {
		return ch, fmt.Errorf("reading the table's NOT NULL columns: %w", err)
	}
	type colNull struct {
		name               string
		notNull, defaulted bool
	}
	nulls, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (colNull, error) {
		var c colNull
		err := r.Scan(&c.name, &c.notNull, &c.defaulted)
		return c, err
	})
	if err != nil {
		return ch, fmt.Errorf("reading the table's NOT NULL columns: %w", err)
	}
	for _, c := range nulls {
		if used[c.name] || c.defaulted {
			continue // a default, identity or generated column fills itself
		}
		var sqlType string
		for _, tc := range cols {
			if tc.name == c.name {
				sqlType = tc.sqlType
			}
		}
		if c.notNull {
			return ch, component.MissingNotNull(qname, c.name, colType(sqlType))
		}
		if policy == component.SchemaEvolutionFail {
			return ch, component.EvolutionRefused(qname, fmt.Sprintf("column %q (%s) is not in the input", c.name, sqlType))
		}
		ch.Nulls = append(ch.Nulls, c.name)
	}
	for _, q := range ddl {
		if _, err := tx.Exec(ctx, q); err != nil {
			return ch, fmt.Errorf("schema_evolution (%s): %w", q, err)
		}
	}
	return ch, nil
}
