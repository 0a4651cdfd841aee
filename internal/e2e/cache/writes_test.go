package cache

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// `osiris run` executes every writer, whatever the step cache holds: an
// append run twice appends twice, a table dropped outside osiris comes
// back, and params 1 → 2 → 1 leave the third run's rows (the old cache
// skipped the writer as a "hit" each time and reported success).
func TestRunNeverSkipsWrites(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(*testing.T) target{"postgres": pgTarget, "mariadb": mariaTarget} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := mk(t) // skips (fails under CI) without its server
			sfx := suffix()
			appendT, replaceT := "cache_append_"+sfx, "cache_replace_"+sfx
			t.Cleanup(func() {
				tg.exec(t, "DROP TABLE IF EXISTS "+appendT)
				tg.exec(t, "DROP TABLE IF EXISTS "+replaceT)
			})
			cfg := tg.cfg
			cfg.Name = "e2e-cache"
			w := e2e.NewConfiguredWorkspace(t, cfg, map[string]string{
				"data/src.csv":           srcCSV,
				"pipelines/append.yaml":  loadPipeline("append", tg.writer, tg.conn, appendT, "append"),
				"pipelines/replace.yaml": loadPipeline("replace", tg.writer, tg.conn, replaceT, "replace"),
			})

			// Append twice: twice the rows; the second run reuses the
			// extract and the query, never the write.
			runOK(t, w, "pipelines/append.yaml")
			r := runOK(t, w, "pipelines/append.yaml")
			if ids, _ := tg.ids(t, appendT); ids != "1 1 2 2" {
				t.Errorf("append run twice: ids %q, want 1 1 2 2", ids)
			}
			if !strings.Contains(r.Stderr, "(cached)") {
				t.Errorf("the second run reused nothing:\n%s", r.Stderr)
			}
			for _, l := range strings.Split(r.Stderr, "\n") {
				if strings.Contains(l, " load ") && strings.Contains(l, "cached") {
					t.Errorf("the writer was reported cached: %s", l)
				}
			}
			st := e2e.ReadStatus(t, w.RunDirOf(r))
			if s := st.Step(t, "load"); s.Status != osexec.StatusSuccess || s.RowsOut != 2 || s.Cache == osexec.CacheHit {
				t.Errorf("status.json load: %s, %d rows, cache %s; want success, 2 rows written, not a hit", s.Status, s.RowsOut, s.Cache)
			}

			// DROP TABLE outside osiris, then run: the table is back.
			runOK(t, w, "pipelines/replace.yaml")
			tg.exec(t, "DROP TABLE "+replaceT)
			runOK(t, w, "pipelines/replace.yaml")
			if ids, ok := tg.ids(t, replaceT); !ok || ids != "1 2" {
				t.Errorf("after DROP TABLE and a run: table exists %v, ids %q; want 1 2", ok, ids)
			}

			// params 1 → 2 → 1: the table holds the third run's rows.
			runOK(t, w, "pipelines/replace.yaml", "--param", "g=2")
			if ids, _ := tg.ids(t, replaceT); ids != "3 4 5" {
				t.Fatalf("params 2: ids %q", ids)
			}
			runOK(t, w, "pipelines/replace.yaml", "--param", "g=1")
			if ids, _ := tg.ids(t, replaceT); ids != "1 2" {
				t.Errorf("params 1 → 2 → 1: ids %q, want the third run's 1 2", ids)
			}
		})
	}
}

// Changing a connection's dsn (a secret field) changes every key: the
// writer loads the new database and a postgres.extractor with cache: "10m"
// reads the new database, not the old one's cached rows.
func TestDSNChangeWritesTheNewDatabase(t *testing.T) {
	t.Parallel()
	sfx := suffix()
	other := "osiris_t_cache_" + sfx
	otherURL := testenv.PGConnString(t, other) // created
	admin := testenv.PGConn(t, "postgres")
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, other))
	})
	first := testenv.PGConn(t, dbCache)
	second := testenv.PGConn(t, other)
	table, who := "cache_dsn_"+sfx, "cache_who_"+sfx
	e2e.PGExec(t, first, "CREATE TABLE "+who+" (name text)", "INSERT INTO "+who+" VALUES ('first')")
	e2e.PGExec(t, second, "CREATE TABLE "+who+" (name text)", "INSERT INTO "+who+" VALUES ('second')")
	t.Cleanup(func() { e2e.PGExec(t, first, "DROP TABLE IF EXISTS "+table+", "+who) })

	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Name: "e2e-cache", PGDB: dbCache}, map[string]string{
		"data/src.csv":        srcCSV,
		"pipelines/load.yaml": loadPipeline("load", "postgres.writer", "@postgres.dst", table, "replace"),
		"pipelines/who.yaml": fmt.Sprintf(`oml_version: "0.1.0"
name: who
steps:
  - id: ask
    component: postgres.extractor
    mode: read
    cache: "10m"
    config:
      connection: "@postgres.dst"
      query: SELECT name FROM %s
  - id: save
    component: filesystem.csv_writer
    mode: write
    needs: [ask]
    config:
      path: output/who.csv
`, who),
	})
	runOK(t, w, "pipelines/load.yaml")
	runOK(t, w, "pipelines/who.yaml")
	if got := readFile(t, w, "output/who.csv"); !strings.Contains(got, "first") {
		t.Fatalf("who.csv %q, want first", got)
	}
	if ids, _ := pgIDs(t, first, table); ids != "1 2" {
		t.Fatalf("first database: ids %q", ids)
	}

	// The same alias now points at the other database.
	w.Env = append(w.Env, "E2E_PG_URL="+otherURL)
	runOK(t, w, "pipelines/load.yaml")
	if ids, ok := pgIDs(t, second, table); !ok || ids != "1 2" {
		t.Errorf("after the dsn changed: the new database's table exists %v, ids %q; want 1 2", ok, ids)
	}
	r := runOK(t, w, "pipelines/who.yaml")
	if got := readFile(t, w, "output/who.csv"); !strings.Contains(got, "second") {
		t.Errorf("after the dsn changed, cache: 10m served %q, want the new database's row\n%s", got, r.Stderr)
	}
}

func readFile(t *testing.T, w *e2e.Workspace, rel string) string {
	t.Helper()
	b, err := readBytes(filepath.Join(w.Root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
