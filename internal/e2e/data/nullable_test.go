package data

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
)

// MariaDB flags the grouping column of `… WITH ROLLUP` NOT NULL although
// its total row holds NULL there. The extract's field is nullable anyway,
// so the artifact keeps the NULL: a consumer sees the same table from memory
// and from parquet, and the artifact read back has the recorded digest
// (Osiris checks every artifact of the run).
func TestRollupNullSurvivesParquet(t *testing.T) {
	db := mysqlDB(t, dbE2E)
	// Unique per test process: other checkouts run this test at the same time.
	table := fmt.Sprintf("osiris_he_rollup_%d", os.Getpid())
	e2e.MySQLExec(t, db,
		"DROP TABLE IF EXISTS "+table,
		"CREATE TABLE "+table+" (category VARCHAR(20) NOT NULL, amount INT NOT NULL)",
		"INSERT INTO "+table+" VALUES ('a', 1), ('a', 2), ('b', 5)",
	)
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + table) })
	pipeline := fmt.Sprintf(`oml_version: "0.1.0"
name: rollup
steps:
  - id: totals
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.src"
      query: SELECT category, SUM(amount) AS total FROM %s GROUP BY category WITH ROLLUP
  - id: count-nulls
    component: duckdb.processor
    mode: transform
    needs: [totals]
    config:
      query: SELECT count(*) FILTER (WHERE category IS NULL) AS null_categories, count(*) AS n FROM input_df
`, table)
	var digests []string
	for _, budget := range []string{"512MiB", "0"} { // the consumer reads memory, then parquet
		w := newWorkspace(t, wsConfig{MySQLDB: dbE2E, Budget: budget}, map[string]string{"pipelines/rollup.yaml": pipeline})
		dir, st := runOK(t, w, "pipelines/rollup.yaml")
		totals := st.Step(t, "totals")
		for _, c := range totals.Artifact.Schema {
			if !c.Nullable {
				t.Errorf("budget %s: extracted column %s is not nullable", budget, c.Name)
			}
		}
		art := filepath.Join(dir, filepath.FromSlash(st.Step(t, "count-nulls").Artifact.Path))
		rows := duckRows(t, "", "SELECT null_categories || '|' || n FROM read_parquet('"+art+"')")
		if len(rows) != 1 || rows[0] != "1|3" {
			t.Errorf("budget %s: the consumer saw null_categories|n = %v, want [1|3]", budget, rows)
		}
		digests = append(digests, totals.Artifact.TableDigest)
	}
	if digests[0] != digests[1] {
		t.Errorf("the extract's digest depends on the budget: %v", digests)
	}
}
