package cache

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

// dbCache is this package's database in MariaDB and PostgreSQL; every test
// uses its own tables (suffix).
const dbCache = "osiris_t_cache"

// suffix makes table names unique per test process and test.
func suffix() string { return fmt.Sprintf("%d_%d", os.Getpid(), rand.IntN(1_000_000)) }

// srcCSV has two groups: g=1 → ids 1,2; g=2 → ids 3,4,5.
const srcCSV = "id,grp,v\n1,1,a\n2,1,b\n3,2,c\n4,2,d\n5,2,e\n"

// loadPipeline reads data/src.csv, keeps group ${params.g} and loads it
// with writer into table.
func loadPipeline(name, writer, conn, table, mode string) string {
	return fmt.Sprintf(`oml_version: "0.1.0"
name: %s
params:
  g: {default: 1, type: integer}
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/src.csv
  - id: pick
    component: duckdb.processor
    mode: transform
    needs: [extract]
    config:
      query: SELECT id, v FROM input_df WHERE grp = ${params.g} ORDER BY id
  - id: load
    component: %s
    mode: write
    needs: [pick]
    config:
      connection: "%s"
      table: %s
      write_mode: %s
      create_if_missing: true
`, name, writer, conn, table, mode)
}

// target is a database a writer loads into.
type target struct {
	name   string
	writer string // component
	conn   string // connection reference
	cfg    e2e.Config
	// ids returns the ids in table, sorted ("" and ok=false when the table
	// does not exist).
	ids  func(t *testing.T, table string) (string, bool)
	exec func(t *testing.T, stmt string)
}

func pgTarget(t *testing.T) target {
	conn := testenv.PGConn(t, dbCache)
	return target{
		name: "postgres", writer: "postgres.writer", conn: "@postgres.dst", cfg: e2e.Config{PGDB: dbCache},
		ids: func(t *testing.T, table string) (string, bool) {
			return pgIDs(t, conn, table)
		},
		exec: func(t *testing.T, stmt string) { e2e.PGExec(t, conn, stmt) },
	}
}

func pgIDs(t *testing.T, conn *pgx.Conn, table string) (string, bool) {
	var exists bool
	if err := conn.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return "", false
	}
	return strings.Join(e2e.PGRows(t, conn, ",", "SELECT id FROM "+table+" ORDER BY id"), " "), true
}

func mariaTarget(t *testing.T) target {
	db := testenv.MySQLDB(t, dbCache)
	return target{
		name: "mariadb", writer: "mysql.writer", conn: "@mysql.src", cfg: e2e.Config{MySQLDB: dbCache},
		ids: func(t *testing.T, table string) (string, bool) {
			var n int
			if err := db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", dbCache, table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return "", false
			}
			return strings.Join(sortedIDs(t, db, table), " "), true
		},
		exec: func(t *testing.T, stmt string) { e2e.MySQLExec(t, db, stmt) },
	}
}

func sortedIDs(t *testing.T, db *sql.DB, table string) []string {
	return e2e.SQLRows(t, db, ",", "NULL", "SELECT id FROM "+table+" ORDER BY id")
}

// runOK runs `osiris --json run args...` and fails the test unless it
// succeeded (stderr holds the step lines, stdout the JSON summary).
func runOK(t *testing.T, w *e2e.Workspace, args ...string) e2e.Result {
	t.Helper()
	r := w.Osiris(append([]string{"--json", "run"}, args...)...)
	if r.ExitCode != 0 {
		t.Fatalf("osiris run %s: exit %d\n%s%s", strings.Join(args, " "), r.ExitCode, r.Stdout, r.Stderr)
	}
	return r
}

func readBytes(p string) ([]byte, error) { return os.ReadFile(p) }
