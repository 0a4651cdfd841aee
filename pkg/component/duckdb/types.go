package duckdb

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// maxDecimalDigits is DuckDB's widest DECIMAL.
const maxDecimalDigits = 38

// checkInputTypes refuses the input columns DuckDB's Arrow scan cannot read,
// before DuckDB sees them: it would fail with "arrow scan API failure" and
// no column name. Today that is a decimal256 (MySQL DECIMAL(p,s) and
// PostgreSQL numeric(p,s) with p > 38): DuckDB's DECIMAL holds 38 digits.
// There is no lossless DuckDB type to map it to silently (DOUBLE loses
// digits, VARCHAR loses arithmetic), so the user chooses in the upstream query.
func checkInputTypes(schema *arrow.Schema) error {
	for _, f := range schema.Fields() {
		dt, ok := f.Type.(*arrow.Decimal256Type)
		if !ok {
			continue
		}
		p, s := dt.Precision, dt.Scale
		keep := max(0, min(s, maxDecimalDigits-(p-s)))
		return fmt.Errorf("column %q is DECIMAL(%d,%d), wider than DuckDB's DECIMAL limit of %d digits: cast it in the query that produces it, "+
			"CAST(%s AS DECIMAL(%d,%d)) (exact while the values fit), or CAST(%s AS CHAR) / ::text to keep every digit as text",
			f.Name, p, s, maxDecimalDigits, f.Name, maxDecimalDigits, keep, f.Name)
	}
	return nil
}
