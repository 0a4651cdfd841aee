package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb", to read what duckdb.writer wrote
	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// Database names of this package (MariaDB and PostgreSQL alike).
const (
	dbE2E    = "osiris_t_e2e"        // shared by the tests here; each uses its own tables
	dbMovies = "osiris_t_e2e_movies" // MariaDB: movies + directors of the seed pipeline
	dbSakila = "osiris_t_e2e_sakila" // PostgreSQL: the Sakila round trip
)

// wsConfig says what goes into a test workspace's osiris.toml.
type wsConfig = e2e.Config

// newWorkspace is e2e.NewConfiguredWorkspace with this package's name.
func newWorkspace(t *testing.T, cfg wsConfig, files map[string]string) *e2e.Workspace {
	t.Helper()
	cfg.Name = "e2e-data"
	return e2e.NewConfiguredWorkspace(t, cfg, files)
}

// runOK runs a pipeline, requires success and returns the run directory
// and its status.json.
func runOK(t *testing.T, w *e2e.Workspace, pipeline string, args ...string) (string, e2e.Status) {
	t.Helper()
	dir := w.MustRun(append([]string{pipeline}, args...)...)
	st := e2e.ReadStatus(t, dir)
	if st.Status != osexec.StatusSuccess {
		t.Fatalf("%s: status %q (failed step %q: %s)", pipeline, st.Status, st.FailedStep, st.Error)
	}
	return dir, st
}

// parquetDigest reads a parquet file back and returns its table digest and
// row count, computed the same way the engine computes them on the stream.
func parquetDigest(t *testing.T, path string) (string, int64) {
	t.Helper()
	d, n, err := e2e.ParquetDigest(path)
	if err != nil {
		t.Fatalf("parquet: %v", err)
	}
	return d, n
}

// checkArtifact asserts that step's artifact exists under runDir and that
// the file read back has the rows and table digest status.json records.
// It returns the artifact.
func checkArtifact(t *testing.T, runDir string, st e2e.Status, step string) *osexec.Artifact {
	t.Helper()
	s := st.Step(t, step)
	if s.Artifact == nil {
		t.Fatalf("step %s: no artifact in status.json", step)
	}
	want := "artifacts/" + step + "/output.parquet"
	if s.Artifact.Path != want {
		t.Errorf("step %s: artifact path %q, want %q", step, s.Artifact.Path, want)
	}
	d, n := parquetDigest(t, filepath.Join(runDir, filepath.FromSlash(s.Artifact.Path)))
	if n != s.Artifact.Rows || n != s.RowsOut {
		t.Errorf("step %s: artifact holds %d rows; status.json says artifact %d, rows_out %d", step, n, s.Artifact.Rows, s.RowsOut)
	}
	if d != s.Artifact.TableDigest {
		t.Errorf("step %s: artifact digest %s, status.json %s", step, d, s.Artifact.TableDigest)
	}
	return s.Artifact
}

// inputSources returns, for step, the source of every input its
// inputs_resolved event lists ("memory" or "parquet").
func inputSources(t *testing.T, events []osexec.Event, step string) []string {
	t.Helper()
	for _, e := range events {
		if e.Event != osexec.EventInputsResolved || e.Step != step {
			continue
		}
		list, _ := e.Fields["inputs"].([]any)
		var out []string
		for _, it := range list {
			m, _ := it.(map[string]any)
			src, _ := m["source"].(string)
			out = append(out, src)
		}
		return out
	}
	t.Fatalf("no inputs_resolved event for step %s", step)
	return nil
}

// mysqlDB opens a MariaDB database of this package (created if missing).
func mysqlDB(t *testing.T, db string) *sql.DB {
	t.Helper()
	c := testenv.MySQLDB(t, db)
	c.SetMaxOpenConns(4)
	return c
}

// sqlRows runs query and returns each row as its column texts joined by
// "|" (NULL as ∅), sorted, so that sets of rows compare regardless of order.
func sqlRows(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	return e2e.SQLRows(t, db, "|", "∅", query, args...)
}

func joinNullable(vals []sql.NullString) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if v.Valid {
			parts[i] = v.String
		} else {
			parts[i] = "∅"
		}
	}
	return strings.Join(parts, "|")
}

// pgRows is sqlRows for PostgreSQL. Every selected column must be text
// (cast with ::text) so that values compare as PostgreSQL prints them.
func pgRows(t *testing.T, conn *pgx.Conn, query string, args ...any) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		n := len(rows.FieldDescriptions())
		vals := make([]*string, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		ns := make([]sql.NullString, n)
		for i, v := range vals {
			if v != nil {
				ns[i] = sql.NullString{String: *v, Valid: true}
			}
		}
		out = append(out, joinNullable(ns))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	sort.Strings(out)
	return out
}

// pgCount returns SELECT count(*) of a PostgreSQL table.
func pgCount(t *testing.T, conn *pgx.Conn, table string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// duckRows opens a DuckDB database file read-only (or an in-memory
// database for path "") and returns query's rows as sqlRows does. DuckDB
// values that database/sql cannot scan into a string (DECIMAL, …) must be
// cast to VARCHAR in the query.
func duckRows(t *testing.T, path, query string) []string {
	t.Helper()
	dsn := ""
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("duckdb file: %v", err)
		}
		dsn = path + "?access_mode=read_only"
	}
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		t.Fatalf("open duckdb %s: %v", path, err)
	}
	defer db.Close()
	return sqlRows(t, db, query)
}

// duckExec creates (or opens) a DuckDB database file and runs statements.
func duckExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatalf("open duckdb %s: %v", path, err)
	}
	defer db.Close()
	e2e.MySQLExec(t, db, stmts...)
}

// diffRows describes how two sorted row lists differ (first few lines).
func diffRows(got, want []string) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d rows, want %d%s", len(got), len(want), firstDiff(got, want))
	}
	return firstDiff(got, want)
}

func firstDiff(got, want []string) string {
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			return fmt.Sprintf("; first difference at row %d:\n got  %.300s\n want %.300s", i, got[i], want[i])
		}
	}
	return ""
}

// equalRows reports whether two sorted row lists are equal.
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

// waitForFile polls for path until it exists or the deadline passes.
func waitForFile(ctx context.Context, glob string) (string, error) {
	for {
		if m, _ := filepath.Glob(glob); len(m) > 0 {
			return m[0], nil
		}
		select {
		case <-ctx.Done():
			return "", errors.Join(fmt.Errorf("no file matches %s", glob), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
