package component

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// CheckColumnNames refuses a result or an input whose column names are
// empty or collide: equal, or equal except for case. MySQL and DuckDB
// compare column names without case and parquet readers disagree on it, so
// `SELECT 1 AS x, 2 AS X` would be renamed by one driver and fail late in
// another; it is refused up front, naming both columns, the same way
// everywhere. names are in column order.
func CheckColumnNames(names []string) error {
	seen := make(map[string]int, len(names))
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("column %d has no name; alias it (… AS name)", i+1)
		}
		key := strings.ToLower(n)
		prev, dup := seen[key]
		if !dup {
			seen[key] = i
			continue
		}
		if names[prev] == n {
			return fmt.Errorf("two columns named %q (columns %d and %d); alias one of them", n, prev+1, i+1)
		}
		return fmt.Errorf("columns %q and %q (columns %d and %d) differ only in case, which MySQL, DuckDB and parquet readers treat as the same name; alias one of them", names[prev], n, prev+1, i+1)
	}
	return nil
}

// CheckSchemaColumnNames is CheckColumnNames over a schema's fields.
func CheckSchemaColumnNames(s *arrow.Schema) error {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return CheckColumnNames(names)
}
