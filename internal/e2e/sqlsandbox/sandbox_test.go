package sqlsandbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
)

const canary = "canary-sqlsandbox-7f3e9a"

// escapeWorkspace is a workspace whose .env holds a canary, with symlinks
// that lead to protected entries from everywhere: the root itself (self),
// its parent (up), the filesystem root (r), nested ones below data/, a
// link to .env and one to pipelines/.
func escapeWorkspace(t *testing.T) *e2e.Workspace {
	t.Helper()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{}, map[string]string{
		".env":             "MYSQL_PASSWORD=" + canary + "\n",
		"data/in.csv":      "id\n1\n2\n",
		"data/deep/x.csv":  "id\n3\n",
		"pipelines/p.yaml": "oml_version: \"0.1.0\"\nname: p\nsteps: []\n",
	})
	for link, target := range map[string]string{
		"self":            ".",
		"up":              "..",
		"r":               "/",
		"cfg":             "osiris.toml",
		"data/self":       "..",
		"data/deep/loop":  "../..",
		"data/envlink":    "../.env",
		"data/pipes":      "../pipelines",
		"data/deep/proot": "/proc/self/cwd",
	} {
		if err := os.Symlink(target, filepath.Join(w.Root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// escapeSpellings are paths that all lead to a protected entry (.env,
// osiris.toml, pipelines/, run_logs/) or out of the workspace.
func escapeSpellings(root string) []string {
	base := filepath.Base(root)
	return []string{
		".env",
		"./.env",
		"data/../.env",
		root + "/.env",
		"self/.env",
		"self/self/.env",
		"up/" + base + "/.env",
		"r" + root + "/.env",
		"/proc/self/cwd/.env",
		"data/self/.env",
		"data/deep/loop/.env",
		"data/envlink",
		"data/deep/proot/.env",
		"cfg",
		"self/osiris.toml",
		"data/pipes/p.yaml",
		"self/pipelines/p.yaml",
		"up/" + base + "/pipelines/p.yaml",
		"self/.e*",
		"data/self/.env*",
		"r/etc/passwd",
	}
}

func processorPipeline(name, query string) string {
	return fmt.Sprintf(`oml_version: "0.1.0"
name: %s
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/in.csv}
  - id: peek
    component: duckdb.processor
    mode: transform
    needs: [extract]
    config:
      query: %q
  - id: save
    component: filesystem.csv_writer
    mode: write
    needs: [peek]
    config: {path: out/%s.csv}
`, name, query, name)
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestSQLSandboxEscapes: every spelling of a protected entry or of a place
// outside the workspace — through the root's own symlinks (self -> .,
// up -> .., r -> /), nested ones (data/self -> .., data/deep/loop ->
// ../..), links to .env and pipelines/, /proc/self/cwd, .., globs — is
// refused to SQL for reading, whether the path is a literal (validate
// names it at file:line:col) or built at run time (DuckDB refuses it), and
// for writing (COPY … TO). Afterwards the canary from .env is in no file
// of the workspace but .env.
func TestSQLSandboxEscapes(t *testing.T) {
	w := escapeWorkspace(t)
	spellings := escapeSpellings(w.Root)
	if len(spellings) < 15 {
		t.Fatalf("only %d spellings", len(spellings))
	}
	for i, p := range spellings {
		name := fmt.Sprintf("esc%d", i)
		// A literal path: refused before anything runs.
		w.Write("pipelines/"+name+".yaml", processorPipeline(name, "SELECT content FROM read_text("+sqlString(p)+")"))
		if r := w.Osiris("run", "pipelines/"+name+".yaml"); r.ExitCode == 0 || strings.Contains(r.Stdout+r.Stderr, canary) {
			t.Errorf("read_text(%q): exit %d\n%s%s", p, r.ExitCode, r.Stdout, r.Stderr)
		} else if r.ExitCode == 2 && !strings.Contains(r.Stderr, "pipelines/"+name+".yaml:") {
			t.Errorf("read_text(%q): refused without file:line:col:\n%s", p, r.Stderr)
		}
		// The same path built at run time: DuckDB's confinement refuses it.
		built := "SELECT content FROM read_text(" + sqlString(p[:1]) + " || " + sqlString(p[1:]) + ")"
		w.Write("pipelines/"+name+".yaml", processorPipeline(name, built))
		if r := w.Osiris("run", "pipelines/"+name+".yaml"); r.ExitCode != 1 || strings.Contains(r.Stdout+r.Stderr, canary) {
			t.Errorf("read_text(%q built at run time): exit %d, want 1 (the query fails)\n%s%s", p, r.ExitCode, r.Stdout, r.Stderr)
		} else if !strings.Contains(r.Stderr, "Permission Error") && !strings.Contains(r.Stderr, "No files found") {
			t.Errorf("read_text(%q built at run time) failed for another reason:\n%s", p, r.Stderr)
		}
		// Writing there.
		target := strings.TrimSuffix(p, "*") + ".pwn"
		w.Write("pipelines/"+name+".yaml", processorPipeline(name, "COPY (SELECT 1 AS x) TO "+sqlString(target)+" (FORMAT csv)"))
		if r := w.Osiris("run", "pipelines/"+name+".yaml"); r.ExitCode != 2 || !strings.Contains(r.Stderr, "filesystem.csv_writer") {
			t.Errorf("COPY … TO %q: exit %d, want 2 with a pointer to a writer step\n%s", target, r.ExitCode, r.Stderr)
		}
	}
	// Nothing was written through a link, and the canary is only in .env.
	var leaks []string
	filepath.WalkDir(w.Root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&os.ModeSymlink != 0 {
			return nil
		}
		rel, _ := filepath.Rel(w.Root, p)
		if strings.HasSuffix(rel, ".pwn") {
			leaks = append(leaks, rel+" was written")
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(canary)) && rel != ".env" {
			leaks = append(leaks, rel+" holds the canary")
		}
		return nil
	})
	for _, l := range leaks {
		t.Error(l)
	}
	// Data stays readable through every spelling that is data.
	w.Write("pipelines/ok.yaml", processorPipeline("ok", "SELECT (SELECT count(*) FROM read_csv('data/in.csv')) + (SELECT count(*) FROM read_csv('self/data/deep/*.csv')) AS n"))
	w.MustRun("pipelines/ok.yaml")
	if b, _ := os.ReadFile(filepath.Join(w.Root, "out", "ok.csv")); strings.TrimSpace(string(b)) != "n\n3" {
		t.Errorf("out/ok.csv = %q, want n=3", b)
	}
}
