package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/osiris-go/osiris/pkg/component"
)

// colType reduces a MySQL column type to what schema evolution compares:
// dataType is information_schema's DATA_TYPE (or the type name of a
// CREATE TABLE spelling), precision/scale/length its numbers.
func colType(dataType, spelled string, precision, scale, length int64) component.ColType {
	t := component.ColType{SQL: spelled}
	switch strings.ToLower(dataType) {
	case "tinyint":
		t.Kind, t.Width = component.KindInt, 1
	case "smallint":
		t.Kind, t.Width = component.KindInt, 2
	case "mediumint":
		t.Kind, t.Width = component.KindInt, 3
	case "int", "integer":
		t.Kind, t.Width = component.KindInt, 4
	case "bigint":
		t.Kind, t.Width = component.KindInt, 8
	case "decimal", "numeric":
		t.Kind, t.Width, t.Scale = component.KindDecimal, int(precision), int(scale)
	case "float", "double", "real":
		t.Kind = component.KindFloat
	case "char", "varchar":
		t.Kind, t.Width = component.KindString, int(length)
	case "tinytext", "text", "mediumtext", "longtext":
		t.Kind = component.KindString
	}
	return t
}

// inputColType is the type create_if_missing would give an input column.
func inputColType(dt arrow.DataType) (component.ColType, string, error) {
	spelled, err := mysqlColumnType(dt, false)
	if err != nil {
		return component.ColType{}, "", err
	}
	if spelled == "TINYINT(1)" {
		return component.ColType{Kind: component.KindBool, SQL: spelled}, spelled, nil
	}
	base, _, _ := strings.Cut(strings.Fields(spelled)[0], "(")
	var p, s int64
	if d, ok := dt.(arrow.DecimalType); ok {
		p, s = int64(d.GetPrecision()), int64(d.GetScale())
	}
	return colType(base, spelled, p, s, 0), spelled, nil
}

type columnInfo struct {
	name, dataType, columnType string
	precision, scale, length   sql.NullInt64
	nullable, hasDefault       bool
	extra                      string
}

// evolve compares the input's columns with the target's under
// schema_evolution and, for add, adds the new input columns (NULL) and
// widens int and decimal columns. Every conflict is found before any DDL
// runs. MySQL commits DDL at once: the changes are made just before the
// load's transaction, not inside it.
func (l *loader) evolve(ctx context.Context, target string) (component.SchemaChanges, error) {
	var ch component.SchemaChanges
	rows, err := l.conn.QueryContext(ctx, `SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH,
  IS_NULLABLE = 'YES', COLUMN_DEFAULT IS NOT NULL, LOWER(EXTRA)
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, l.opts.schema, l.opts.table)
	if err != nil {
		return ch, fmt.Errorf("reading the columns of %s: %w", target, err)
	}
	var cols []columnInfo
	for rows.Next() {
		var c columnInfo
		if err := rows.Scan(&c.name, &c.dataType, &c.columnType, &c.precision, &c.scale, &c.length, &c.nullable, &c.hasDefault, &c.extra); err != nil {
			rows.Close()
			return ch, err
		}
		cols = append(cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ch, err
	}
	byName := map[string]*columnInfo{}
	for i := range cols {
		byName[strings.ToLower(cols[i].name)] = &cols[i]
	}
	used := map[string]bool{}
	var ddl []string
	fail := l.opts.evolution == component.SchemaEvolutionFail
	for _, f := range l.in.Schema().Fields() {
		inType, spelled, err := inputColType(f.Type)
		if err != nil {
			return ch, fmt.Errorf("column %q: %w", f.Name, err)
		}
		c := byName[strings.ToLower(f.Name)]
		if c == nil {
			if fail {
				return ch, component.EvolutionRefused(target, fmt.Sprintf("input column %q (%s) is not a column", f.Name, spelled))
			}
			ddl = append(ddl, "ALTER TABLE "+target+" ADD COLUMN "+quoteIdent(f.Name)+" "+spelled+" NULL")
			ch.Added = append(ch.Added, f.Name+" "+spelled)
			continue
		}
		used[strings.ToLower(c.name)] = true
		tt := colType(c.dataType, c.columnType, c.precision.Int64, c.scale.Int64, c.length.Int64)
		v, p, s := component.CompareTypes(tt, inType)
		switch v {
		case component.TypeConflict:
			return ch, component.ConflictError(target, f.Name, tt, inType)
		case component.TypeWiden:
			if fail {
				return ch, component.EvolutionRefused(target, fmt.Sprintf("input column %q is %s, wider than the column's %s", f.Name, spelled, c.columnType))
			}
			wide := spelled
			if tt.Kind == component.KindDecimal {
				wide = fmt.Sprintf("DECIMAL(%d,%d)", p, s)
			}
			def := wide
			if !c.nullable {
				def += " NOT NULL"
			}
			if strings.Contains(c.extra, "auto_increment") {
				def += " AUTO_INCREMENT"
			}
			ddl = append(ddl, "ALTER TABLE "+target+" MODIFY COLUMN "+quoteIdent(c.name)+" "+def)
			ch.Widened = append(ch.Widened, fmt.Sprintf("%s: %s → %s", c.name, c.columnType, wide))
		}
	}
	for _, c := range cols {
		if used[strings.ToLower(c.name)] {
			continue
		}
		// A default, AUTO_INCREMENT or generated column fills itself: the
		// target's design, not a difference.
		if c.hasDefault || strings.Contains(c.extra, "auto_increment") || strings.Contains(c.extra, "generated") {
			continue
		}
		if !c.nullable {
			return ch, component.MissingNotNull(target, c.name, component.ColType{SQL: c.columnType})
		}
		if fail {
			return ch, component.EvolutionRefused(target, fmt.Sprintf("column %q (%s) is not in the input", c.name, c.columnType))
		}
		ch.Nulls = append(ch.Nulls, c.name)
	}
	for _, q := range ddl {
		if _, err := l.conn.ExecContext(ctx, q); err != nil {
			return ch, fmt.Errorf("schema_evolution (%s): %w", q, err)
		}
	}
	return ch, nil
}
