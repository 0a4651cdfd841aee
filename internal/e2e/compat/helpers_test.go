package compat

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// pythonTOML is an osiris.toml with the connection aliases Osiris-Python's
// examples use (@mysql.db_movies, @supabase.main), values from variables.
const pythonTOML = `[project]
name = "compat"

[run]
max_parallel_steps = 4

[connections.mysql.db_movies]
default = true
host = "${MYSQL_HOST}"
port = "${MYSQL_PORT}"
database = "${MYSQL_DATABASE}"
user = "${MYSQL_USER}"
password = "${MYSQL_PASSWORD}"

[connections.supabase.main]
default = true
dsn = "${SUPABASE_DB_URL}"
`

// pythonWorkspace is a workspace with pythonTOML for MariaDB database myDB
// and PostgreSQL database pgDB (both created if missing).
func pythonWorkspace(t *testing.T, myDB, pgDB string, files map[string]string) *e2e.Workspace {
	t.Helper()
	testenv.MySQLDSN(t, myDB)
	pgURL := testenv.PGConnString(t, pgDB)
	all := map[string]string{"osiris.toml": pythonTOML}
	for k, v := range files {
		all[k] = v
	}
	w := e2e.NewWorkspace(t, all)
	w.Env = append(w.Env,
		"MYSQL_HOST="+testenv.MySQLHost(), "MYSQL_PORT="+testenv.MySQLPort(), "MYSQL_DATABASE="+myDB,
		"MYSQL_USER="+testenv.MySQLUser(), "MYSQL_PASSWORD="+testenv.MySQLPassword(),
		"SUPABASE_DB_URL="+pgURL)
	return w
}

// runOK runs a pipeline, requires success and returns the run directory
// and its status.
func runOK(t *testing.T, w *e2e.Workspace, pipeline string) (string, e2e.Status) {
	t.Helper()
	dir := w.MustRun(pipeline)
	st := e2e.ReadStatus(t, dir)
	if st.Status != osexec.StatusSuccess {
		t.Fatalf("%s: status %q (failed step %q: %s)", pipeline, st.Status, st.FailedStep, st.Error)
	}
	return dir, st
}

// validateOK requires `osiris validate` to pass without a diagnostic line.
func validateOK(t *testing.T, w *e2e.Workspace, pipeline string) {
	t.Helper()
	r := w.Osiris("validate", pipeline)
	if r.ExitCode != 0 || strings.Contains(r.Stdout+r.Stderr, "error[") {
		t.Fatalf("validate %s: exit %d\n%s%s", pipeline, r.ExitCode, r.Stdout, r.Stderr)
	}
}

// diffRows describes the first difference of two sorted row lists.
func diffRows(got, want []string) string {
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			return fmt.Sprintf("%d vs %d rows; first difference at %d: got %q, want %q", len(got), len(want), i, got[i], want[i])
		}
	}
	return fmt.Sprintf("%d vs %d rows", len(got), len(want))
}

func equalRows(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// sqlRows returns every row of a MariaDB query as tab-joined text, sorted.
func sqlRows(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	return e2e.SQLRows(t, db, "\t", "NULL", query, args...)
}

// pgRows returns every row of a PostgreSQL query (columns cast to text by
// the query) as tab-joined text, sorted.
func pgRows(t *testing.T, conn *pgx.Conn, query string) []string {
	t.Helper()
	return e2e.PGRows(t, conn, "\t", query)
}
