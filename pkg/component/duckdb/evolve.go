package duckdb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/osiris-go/osiris/pkg/component"
)

// describedColumn is one row of DESCRIBE.
type describedColumn struct {
	name, sqlType       string
	nullable, defaulted bool
}

func describe(ctx context.Context, s *Session, what string) ([]describedColumn, error) {
	rr, err := s.Query(ctx, "DESCRIBE "+what)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	var out []describedColumn
	for rr.Next() {
		rec := rr.RecordBatch()
		names, ok1 := rec.Column(0).(*array.String)
		types, ok2 := rec.Column(1).(*array.String)
		nulls, ok3 := rec.Column(2).(*array.String)
		if !ok1 || !ok2 || !ok3 {
			return nil, errors.New("unexpected DESCRIBE result")
		}
		for i := 0; i < names.Len(); i++ {
			c := describedColumn{name: strings.Clone(names.Value(i)), sqlType: strings.Clone(types.Value(i)), nullable: nulls.IsNull(i) || nulls.Value(i) != "NO"}
			if rec.NumCols() > 4 {
				c.defaulted = rec.Column(4).IsValid(i)
			}
			out = append(out, c)
		}
	}
	return out, rr.Err()
}

// colType reduces a DuckDB type name to what schema evolution compares.
func colType(sqlType string) component.ColType {
	t := component.ColType{SQL: sqlType}
	base, args, _ := strings.Cut(strings.TrimSuffix(strings.ToUpper(sqlType), ")"), "(")
	switch base {
	case "TINYINT":
		t.Kind, t.Width = component.KindInt, 1
	case "SMALLINT":
		t.Kind, t.Width = component.KindInt, 2
	case "INTEGER":
		t.Kind, t.Width = component.KindInt, 4
	case "BIGINT":
		t.Kind, t.Width = component.KindInt, 8
	case "HUGEINT":
		t.Kind, t.Width = component.KindInt, 16
	case "DECIMAL":
		t.Kind = component.KindDecimal
		p, s, _ := strings.Cut(args, ",")
		t.Width, _ = strconv.Atoi(strings.TrimSpace(p))
		t.Scale, _ = strconv.Atoi(strings.TrimSpace(s))
	case "FLOAT", "DOUBLE", "REAL":
		t.Kind = component.KindFloat
	case "BOOLEAN":
		t.Kind = component.KindBool
	case "VARCHAR":
		t.Kind = component.KindString
	}
	return t
}

// evolveTable compares the input view's columns with target's under policy
// (schema_evolution) and, for add, adds new input columns and widens int
// and decimal columns, inside the load's transaction. Every conflict is
// found before any DDL runs.
func evolveTable(ctx context.Context, s *Session, view, target, policy string) (component.SchemaChanges, error) {
	var ch component.SchemaChanges
	cols, err := describe(ctx, s, target)
	if err != nil {
		return ch, fmt.Errorf("reading the table's columns: %w", err)
	}
	in, err := describe(ctx, s, "SELECT * FROM "+QuoteIdent(view))
	if err != nil {
		return ch, fmt.Errorf("reading the input's columns: %w", err)
	}
	fail := policy == component.SchemaEvolutionFail
	used := map[string]bool{}
	var ddl []string
	for _, f := range in {
		inType := colType(f.sqlType)
		var tc *describedColumn
		for i := range cols {
			if strings.EqualFold(cols[i].name, f.name) {
				tc = &cols[i]
			}
		}
		if tc == nil {
			if fail {
				return ch, component.EvolutionRefused(target, fmt.Sprintf("input column %q (%s) is not a column", f.name, f.sqlType))
			}
			ddl = append(ddl, "ALTER TABLE "+target+" ADD COLUMN "+QuoteIdent(f.name)+" "+f.sqlType)
			ch.Added = append(ch.Added, f.name+" "+f.sqlType)
			continue
		}
		used[strings.ToLower(tc.name)] = true
		tt := colType(tc.sqlType)
		v, p, sc := component.CompareTypes(tt, inType)
		switch v {
		case component.TypeConflict:
			return ch, component.ConflictError(target, f.name, tt, inType)
		case component.TypeWiden:
			if fail {
				return ch, component.EvolutionRefused(target, fmt.Sprintf("input column %q is %s, wider than the column's %s", f.name, f.sqlType, tc.sqlType))
			}
			wide := f.sqlType
			if tt.Kind == component.KindDecimal {
				wide = fmt.Sprintf("DECIMAL(%d,%d)", p, sc)
			}
			ddl = append(ddl, "ALTER TABLE "+target+" ALTER COLUMN "+QuoteIdent(tc.name)+" TYPE "+wide)
			ch.Widened = append(ch.Widened, fmt.Sprintf("%s: %s → %s", tc.name, tc.sqlType, wide))
		}
	}
	for _, c := range cols {
		if used[strings.ToLower(c.name)] || c.defaulted {
			continue // a column with a default fills itself
		}
		if !c.nullable {
			return ch, component.MissingNotNull(target, c.name, colType(c.sqlType))
		}
		if fail {
			return ch, component.EvolutionRefused(target, fmt.Sprintf("column %q (%s) is not in the input", c.name, c.sqlType))
		}
		ch.Nulls = append(ch.Nulls, c.name)
	}
	for _, q := range ddl {
		if err := s.Exec(ctx, q); err != nil {
			return ch, fmt.Errorf("schema_evolution (%s): %w", q, err)
		}
	}
	return ch, nil
}

// deleteInsert stages the input view, deletes the target rows whose
// delete_key values the input holds, and inserts the input; it returns the
// rows inserted. The caller's transaction makes the three one change.
func deleteInsert(ctx context.Context, s *Session, view, target string, keys []string) (int64, error) {
	stage := QuoteIdent(view + "_stage")
	if err := s.Exec(ctx, "CREATE TEMP TABLE "+stage+" AS SELECT * FROM "+QuoteIdent(view)); err != nil {
		return 0, fmt.Errorf("staging the input: %w", err)
	}
	quoted := make([]string, len(keys))
	conds := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = QuoteIdent(k)
		conds[i] = target + "." + quoted[i] + " = s." + quoted[i]
	}
	del := "DELETE FROM " + target + " USING (SELECT DISTINCT " + strings.Join(quoted, ", ") + " FROM " + stage + ") s WHERE " + strings.Join(conds, " AND ")
	if err := s.Exec(ctx, del); err != nil {
		return 0, fmt.Errorf("deleting the rows of the input's delete_key values: %w", err)
	}
	n, err := s.ExecCount(ctx, "INSERT INTO "+target+" BY NAME SELECT * FROM "+stage)
	if err != nil {
		return 0, err
	}
	if err := s.Exec(ctx, "DROP TABLE "+stage); err != nil {
		return 0, fmt.Errorf("dropping the staged input: %w", err)
	}
	return n, nil
}
