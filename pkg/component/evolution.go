package component

import (
	"fmt"
	"strings"
)

// Schema evolution (write option schema_evolution) is decided here and
// carried out by each SQL writer in its own dialect: a writer reduces its
// target's and its input's column types to ColTypes, asks CompareTypes, and
// records what it changed in SchemaChanges.

// TypeKind is the family of a column type as schema evolution compares it.
type TypeKind int

const (
	KindOther   TypeKind = iota // left to the database (dates, binary, JSON …)
	KindInt                     // Width: bytes (1, 2, 3, 4, 8)
	KindDecimal                 // Width: precision, Scale: scale; Width 0: unbounded
	KindFloat
	KindString // Width: maximum length, 0 unbounded
	KindBool
)

// ColType is a column type reduced to what schema evolution compares.
type ColType struct {
	Kind         TypeKind
	Width, Scale int
	SQL          string // the database's spelling, for messages and DDL
}

// Verdict is CompareTypes' answer.
type Verdict int

const (
	TypeFits     Verdict = iota // load as is (equal, narrower, or left to the database)
	TypeWiden                   // the target column must be widened first
	TypeConflict                // no lossless change: the load must fail
)

// CompareTypes says what an input column of type in needs from a target
// column of type target. For TypeWiden with decimals it returns the
// precision and scale that hold both.
func CompareTypes(target, in ColType) (v Verdict, precision, scale int) {
	numeric := func(k TypeKind) bool { return k == KindInt || k == KindDecimal || k == KindFloat || k == KindBool }
	switch {
	case target.Kind == KindInt && in.Kind == KindInt:
		if in.Width > target.Width {
			return TypeWiden, 0, 0
		}
	case target.Kind == KindDecimal && in.Kind == KindDecimal && target.Width > 0:
		ti, ii := target.Width-target.Scale, in.Width-in.Scale
		if ii > ti || in.Scale > target.Scale {
			s := max(target.Scale, in.Scale)
			return TypeWiden, max(ti, ii) + s, s
		}
	case numeric(target.Kind) && in.Kind == KindString:
		// Text into a number column: values that do not parse would fail
		// the load half-way. (A number into a text column is a lossless
		// cast the writers have always made.)
		return TypeConflict, 0, 0
	}
	return TypeFits, 0, 0
}

// SchemaChanges records what a load changed in its target's columns.
type SchemaChanges struct {
	Added   []string // `name type`, nullable
	Widened []string // `name: old → new`
	Nulls   []string // target columns the input lacks, loaded as NULL
}

// Changed reports whether the target's definition changed.
func (c SchemaChanges) Changed() bool { return len(c.Added)+len(c.Widened) > 0 }

// Emit records the schema_changed event of a load into table, when the
// target's definition changed.
func (c SchemaChanges) Emit(req *Request, table string) {
	if !c.Changed() {
		return
	}
	f := map[string]any{"table": table, "summary": c.String()}
	if len(c.Added) > 0 {
		f["added"] = c.Added
	}
	if len(c.Widened) > 0 {
		f["widened"] = c.Widened
	}
	if len(c.Nulls) > 0 {
		f["null_filled"] = c.Nulls
	}
	req.Emit("schema_changed", f)
	req.Log.Info().Str("table", table).Str("changes", c.String()).Msg("schema_changed")
}

// String is a one-line summary: "added x BIGINT; widened n: INT → BIGINT".
func (c SchemaChanges) String() string {
	var parts []string
	if len(c.Added) > 0 {
		parts = append(parts, "added "+strings.Join(c.Added, ", "))
	}
	if len(c.Widened) > 0 {
		parts = append(parts, "widened "+strings.Join(c.Widened, ", "))
	}
	if len(c.Nulls) > 0 {
		parts = append(parts, "NULL for missing "+strings.Join(c.Nulls, ", "))
	}
	return strings.Join(parts, "; ")
}

// SchemaEvolution returns the step's schema_evolution policy (add when unset).
func SchemaEvolution(cfg Config) (string, error) {
	p := strings.ToLower(cfg.String("schema_evolution"))
	switch p {
	case "":
		return SchemaEvolutionAdd, nil
	case SchemaEvolutionAdd, SchemaEvolutionFail:
		return p, nil
	}
	return "", fmt.Errorf("schema_evolution %q is not add or fail", p)
}

// ConflictError is the message of an incompatible column change.
func ConflictError(table, column string, target, in ColType) error {
	return fmt.Errorf("schema_evolution: input column %q is %s but column %q of %s is %s: the types are incompatible, nothing was written (cast the column in the upstream query, or change the target yourself)", column, in.SQL, column, table, target.SQL)
}

// EvolutionRefused is the message of a difference under schema_evolution: fail.
func EvolutionRefused(table, what string) error {
	return fmt.Errorf("schema_evolution: fail: %s of %s; nothing was written (set schema_evolution: add to let the target follow, or change the pipeline)", what, table)
}

// MissingNotNull is the message of a NOT NULL target column the input lacks.
func MissingNotNull(table, column string, target ColType) error {
	return fmt.Errorf("schema_evolution: column %q of %s is %s NOT NULL without a default, and the input has no such column: nothing was written (add the column to the input, or make it nullable)", column, table, target.SQL)
}
