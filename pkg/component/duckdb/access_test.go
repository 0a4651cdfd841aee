package duckdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
)

// confinedWorkspace is a workspace with data, secrets and machinery, and a
// folder outside it.
func confinedWorkspace(t *testing.T) (root, outside string) {
	t.Helper()
	root, outside = t.TempDir(), t.TempDir()
	for rel, content := range map[string]string{
		"osiris.toml":          "[project]\nname = \"c\"\n",
		".env":                 "MYSQL_PASSWORD=canary-env-secret\n",
		"data/in.csv":          "x\n1\n",
		"data2/other.csv":      "x\n2\n",
		"pipelines/p.yaml":     "oml_version: \"0.1.0\"\n",
		"run_logs/old/x.csv":   "x\n3\n",
		"top.csv":              "x\n4\n",
		"../outside-sibling.x": "",
	} {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.csv"), []byte("x\n9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

// TestProcessorConfined: a processor's SQL reads the workspace's data and
// nothing else, and writes nothing — not files outside it, not .env or osiris.toml,
// not run_logs/ — and cannot turn access back on.
func TestProcessorConfined(t *testing.T) {
	root, outside := confinedWorkspace(t)
	t.Chdir(root) // relative paths in SQL resolve against the working directory
	in := func() component.Inputs {
		return component.Inputs{{Names: []string{"input_df"}, Table: idValueTable(t, "up", 3, 3)}}
	}
	q := func(query string) error {
		req := componenttest.Request(t, component.Config{"query": query}, nil, root)
		rr, err := Processor{}.Transform(context.Background(), req, in())
		if err != nil {
			return err
		}
		recs, _ := componenttest.Drain(t, rr)
		release(recs)
		return nil
	}
	refused := []string{
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM read_csv('" + filepath.Join(outside, "secret.csv") + "')",
		"SELECT * FROM read_text('.env')",
		"SELECT * FROM read_text('" + filepath.Join(root, ".env") + "')",
		"SELECT * FROM read_text('data/../.env')",
		"SELECT * FROM read_text('osiris.toml')",
		"SELECT * FROM read_text('pipelines/p.yaml')",
		"SELECT * FROM read_csv('run_logs/old/x.csv')",
		"COPY (SELECT * FROM input_df) TO '" + filepath.Join(outside, "out.csv") + "'",
		"COPY (SELECT * FROM input_df) TO 'osiris.toml' (FORMAT csv)",
		"SET enable_external_access = true",
		"SET allowed_directories = ['/']",
		"ATTACH '" + filepath.Join(outside, "x.duckdb") + "' AS x",
		"COPY (SELECT * FROM input_df) TO 'data/out.csv' (FORMAT csv)",
	}
	for _, query := range refused {
		err := q(query)
		if err == nil {
			t.Errorf("%s: ran", query)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "disabled") && !strings.Contains(msg, "not data") && !strings.Contains(msg, "not a SELECT") {
			t.Errorf("%s: %v; want a permission error", query, err)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "out.csv")); err == nil {
		t.Error("COPY wrote outside the workspace")
	}
	if b, _ := os.ReadFile(filepath.Join(root, "osiris.toml")); !strings.Contains(string(b), "[project]") {
		t.Error("osiris.toml was overwritten")
	}
	allowed := []string{
		"SELECT * FROM read_csv('data/in.csv')",
		"SELECT * FROM read_csv('" + filepath.Join(root, "data2", "other.csv") + "')",
		"SELECT * FROM read_csv('top.csv')",
	}
	for _, query := range allowed {
		if err := q(query); err != nil {
			t.Errorf("%s: %v", query, err)
		}
	}
}

// TestExtractorAndWriterConfined: duckdb.extractor queries are confined like
// a processor's; the writer's session touches only its database file.
func TestExtractorAndWriterConfined(t *testing.T) {
	root, outside := confinedWorkspace(t)
	t.Chdir(root)
	if _, err := write(t, root, component.Config{"path": "w.duckdb", "table": "t", "write_mode": "replace"}, nil, idValueTable(t, "a", 10, 10)); err != nil {
		t.Fatal(err)
	}
	for _, query := range []string{
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM read_text('.env')",
		"SELECT * FROM read_csv('" + filepath.Join(outside, "secret.csv") + "')",
	} {
		req := componenttest.Request(t, component.Config{"path": "w.duckdb", "query": query}, nil, root)
		rr, err := Extractor{}.Extract(context.Background(), req)
		if err == nil {
			recs, _ := componenttest.Drain(t, rr)
			release(recs)
			t.Errorf("%s: ran", query)
		}
	}
	req := componenttest.Request(t, component.Config{"path": "w.duckdb", "query": "SELECT count(*) AS n FROM t, read_csv('data/in.csv')"}, nil, root)
	rr, err := Extractor{}.Extract(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := componenttest.Drain(t, rr)
	defer release(recs)
	if n := firstInt64(t, recs); n != 10 {
		t.Fatalf("count %d", n)
	}
}

// TestConfineSlash: allowing a folder does not allow a sibling whose name
// starts the same.
func TestConfineSlash(t *testing.T) {
	root, _ := confinedWorkspace(t)
	ctx := context.Background()
	s, err := Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Confine(ctx, Access{Dirs: []string{filepath.Join(root, "data")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "CREATE TABLE a AS SELECT * FROM read_csv('"+filepath.Join(root, "data", "in.csv")+"')"); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "CREATE TABLE b AS SELECT * FROM read_csv('"+filepath.Join(root, "data2", "other.csv")+"')"); err == nil {
		t.Fatal("data2/ readable when data/ is allowed")
	}
}

// TestConfineSharedDatabase: sessions on one database file share its
// settings (one DuckDB instance per file and process); a second session
// confining an already confined database neither fails nor widens it.
func TestConfineSharedDatabase(t *testing.T) {
	root, outside := confinedWorkspace(t)
	ctx := context.Background()
	db := filepath.Join(root, "shared.duckdb")
	a, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Confine(ctx, databaseAccess(Access{}, db)); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Confine(ctx, databaseAccess(Access{Dirs: []string{outside}}, db)); err != nil {
		t.Fatalf("second session: %v", err)
	}
	if err := b.Exec(ctx, "CREATE TABLE t AS SELECT 1 AS x"); err != nil {
		t.Fatal(err)
	}
	if err := b.Exec(ctx, "CREATE TABLE u AS SELECT * FROM read_csv('"+filepath.Join(outside, "secret.csv")+"')"); err == nil {
		t.Fatal("the second session widened the shared database's access")
	}
}

// TestParallelExtractorsOneFile: ten duckdb.extractor steps opening one
// database file at once, fifty times, never fail: opening and confining
// the shared instance is one step (OpenConfined), so no session sees it
// half confined ("Cannot change allowed_paths when enable_external_access
// is disabled").
func TestParallelExtractorsOneFile(t *testing.T) {
	root, _ := confinedWorkspace(t)
	t.Chdir(root)
	if _, err := write(t, root, component.Config{"path": "par.duckdb", "table": "t", "write_mode": "replace"}, nil, idValueTable(t, "a", 10, 10)); err != nil {
		t.Fatal(err)
	}
	const rounds, branches = 50, 10
	for round := 0; round < rounds; round++ {
		errs := make(chan error, branches)
		for b := 0; b < branches; b++ {
			go func() {
				req := componenttest.Request(t, component.Config{"path": "par.duckdb", "query": "SELECT count(*) AS n FROM t"}, nil, root)
				rr, err := Extractor{}.Extract(context.Background(), req)
				if err != nil {
					errs <- err
					return
				}
				for rr.Next() {
				}
				err = rr.Err()
				rr.Release()
				errs <- err
			}()
		}
		for b := 0; b < branches; b++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

// TestQueryAccess: a query whose reads are known may read those files (a
// glob's folder when it is data) and nothing else of the workspace: what
// the parser did not see fails instead of escaping the step cache's key.
func TestQueryAccess(t *testing.T) {
	root, _ := confinedWorkspace(t)
	t.Chdir(root)
	ctx := context.Background()
	req := componenttest.Request(t, component.Config{}, nil, root)
	s, err := Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Confine(ctx, QueryAccess(req, []string{"data/in.csv", "data2/*.csv", "/etc/passwd", ".env"})); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SELECT * FROM read_csv('data/in.csv')", "SELECT * FROM read_csv('data2/*.csv')", "SELECT * FROM 'data2/other.csv'"} {
		if err := s.Exec(ctx, "CREATE OR REPLACE TEMP TABLE x AS "+q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	for _, q := range []string{"SELECT * FROM read_csv('top.csv')", "SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('.env')", "SELECT * FROM read_text('osiris.toml')"} {
		if err := s.Exec(ctx, "CREATE OR REPLACE TEMP TABLE x AS "+q); err == nil || !strings.Contains(err.Error(), "Permission Error") {
			t.Errorf("%s: %v; want a permission error", q, err)
		}
	}
}
