package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBadPipelinesExitTwo runs `osiris validate`, `compile` and `run` on
// every bad pipeline of the compiler's corpus (pkg/compile/testdata/bad):
// each must exit 2 with file:line:col and a stable code, print no Go stack
// trace, and execute nothing (no run_logs/, no build/).
func TestBadPipelinesExitTwo(t *testing.T) {
	files, err := filepath.Glob("../../pkg/compile/testdata/bad/*.yaml")
	if err != nil || len(files) < 26 {
		t.Fatalf("want at least 25 bad pipelines, found %d (%v)", len(files), err)
	}
	diagLine := regexp.MustCompile(`(?m)^pipelines/p\.yaml(:\d+:\d+)?: error\[[a-z0-9-]+\]: `)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".want"); err == nil && !strings.Contains(string(want), "error[") {
			continue // warnings only (e.g. env-placeholder): valid by design
		}
		t.Run(name, func(t *testing.T) {
			ws := t.TempDir()
			writeFile(t, ws, "osiris.toml", "[project]\nname = \"bad\"\n\n[connections.mysql.db_movies]\ndefault = true\nhost = \"127.0.0.1\"\n\n[connections.supabase.main]\ndefault = true\ndsn = \"${SUPABASE_DB_URL}\"\n\n[connections.duckdb.local]\npath = \"w.duckdb\"\n")
			writeFile(t, ws, "pipelines/p.yaml", string(src))
			for _, cmd := range []string{"validate", "compile", "run"} {
				var out, errb bytes.Buffer
				code := run([]string{"-C", ws, cmd, "pipelines/p.yaml"}, nil, &out, &errb)
				if code != exitUsage {
					t.Errorf("%s: exit %d, want 2\nstderr:\n%s", cmd, code, errb.String())
				}
				if !diagLine.MatchString(errb.String()) {
					t.Errorf("%s: no file:line:col: error[code] line in stderr:\n%s", cmd, errb.String())
				}
				if strings.Contains(errb.String(), "goroutine ") || strings.Contains(errb.String(), "panic:") {
					t.Errorf("%s: stack trace in output:\n%s", cmd, errb.String())
				}
			}
			if _, err := os.Stat(filepath.Join(ws, "build")); err == nil {
				t.Errorf("build/ exists: something was written for an invalid pipeline")
			}
			// run_logs/ holds only the records of the failed compiles
			// (`osiris logs list --kind compile`): no run, no artifact.
			filepath.WalkDir(filepath.Join(ws, "run_logs"), func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() && strings.Count(filepath.Base(p), "_") > 0 && strings.Contains(filepath.Base(p), "Z_") && !strings.HasSuffix(p, "-compile") {
					t.Errorf("run directory %s exists: something was executed for an invalid pipeline", p)
				}
				if err == nil && !d.IsDir() && filepath.Base(p) != "status.json" {
					t.Errorf("%s exists: something was executed for an invalid pipeline", p)
				}
				if err == nil && filepath.Base(p) == "status.json" {
					if b, _ := os.ReadFile(p); !strings.Contains(string(b), `"kind": "compile"`) || !strings.Contains(string(b), `"status": "failed"`) {
						t.Errorf("%s is not a failed compile's record:\n%s", p, b)
					}
				}
				return nil
			})
		})
	}
}

func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
