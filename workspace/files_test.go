package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/pkg/diag"
)

// TestFilesProtected: the workspace's own files are never data, whether
// named relatively, absolutely or through a symlink.
func TestFilesProtected(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "osiris.toml", "[project]\nname = \"p\"\n")
	writeFile(t, root, ".env", "A=b\n")
	writeFile(t, root, "data/in.csv", "a\n")
	writeFile(t, root, "pipelines/p.yaml", "x")
	if err := os.Symlink(filepath.Join(root, ".env"), filepath.Join(root, "data", "env.csv")); err != nil {
		t.Fatal(err)
	}
	f, err := NewFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"osiris.toml", "./osiris.toml", ".env", ".env.local", "osiris_connections.yaml",
		"pipelines/p.yaml", "pipelines/new.yaml", "build/x.csv", "run_logs/r/x.csv", ".osiris/index.jsonl", ".git/config",
		"data/env.csv", filepath.Join(root, "osiris.toml"), filepath.Join(root, "build", "x"),
	} {
		_, err := f.Resolve(p)
		var pe *PathError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "not data") {
			t.Errorf("Resolve(%q) = %v; want refused as protected", p, err)
		}
	}
	for _, p := range []string{"data/in.csv", "out/x.csv", "buildings.csv", "env.csv"} {
		if _, err := f.Resolve(p); err != nil {
			t.Errorf("Resolve(%q) = %v", p, err)
		}
	}
	dirs, files := f.DataPaths()
	if len(dirs) != 1 || dirs[0] != filepath.Join(root, "data") || len(files) != 0 {
		t.Errorf("DataPaths = %v, %v", dirs, files)
	}
}

// TestFilesDanglingSymlink: a link whose target does not exist is followed
// to where it points; pointing out of the workspace is refused.
func TestFilesDanglingSymlink(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(outside, "nope", "out.csv"), filepath.Join(root, "abs.csv")))
	must(os.Symlink("../"+filepath.Base(outside)+"/new.csv", filepath.Join(root, "rel.csv")))
	must(os.Symlink(filepath.Join(outside, "missing-dir"), filepath.Join(root, "outdir")))
	must(os.Symlink("data/later.csv", filepath.Join(root, "inside.csv")))
	must(os.Symlink(".env", filepath.Join(root, "env.csv")))
	must(os.Symlink("loop2", filepath.Join(root, "loop1")))
	must(os.Symlink("loop1", filepath.Join(root, "loop2")))
	f, _ := NewFiles(root)
	for _, p := range []string{"abs.csv", "rel.csv", "outdir/x.csv", "env.csv", "loop1"} {
		if got, err := f.Resolve(p); err == nil {
			t.Errorf("Resolve(%q) = %q; want refused", p, got)
		}
	}
	if _, err := f.Resolve("inside.csv"); err != nil {
		t.Errorf("a dangling link inside the workspace: %v", err)
	}
}

// TestPathsPolicy: [paths] values are inside the workspace unless
// absolute; `..` and symlinks out are refused with file:line:col; an
// absolute path is honoured as written.
func TestPathsPolicy(t *testing.T) {
	abs := t.TempDir()
	ws, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"p\"\n[paths]\nrun_logs = \"" + abs + "\"\n"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ws.Path(ws.Config.Paths.RunLogs); got != abs {
		t.Errorf("absolute run_logs became %s", got)
	}
	if _, err := ws.Files.Resolve(filepath.Join(abs, "x.csv")); err == nil {
		t.Error("a file under the absolute run_logs is readable as data")
	}
	for _, tt := range []struct{ toml, want string }{
		{`state = "../../x"`, `osiris.toml:4:1: error[config-path]: paths.state "../../x" escapes the workspace through ..`},
		{`build = "a/../../b"`, `paths.build "a/../../b" escapes the workspace`},
		{`run_logs = "."`, `paths.run_logs "." is the workspace root itself`},
		{`state = ""`, `paths.state is empty`},
	} {
		_, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"p\"\n[paths]\n" + tt.toml + "\n"})
		var dl diag.List
		if !errors.As(err, &dl) || !strings.Contains(dl.Error(), tt.want) {
			t.Errorf("%s: %v; want %q", tt.toml, err, tt.want)
		}
	}
	// A relative path through a symlink that leads out (dangling or not).
	dir := t.TempDir()
	writeFile(t, dir, "osiris.toml", "[project]\nname = \"p\"\n\n[paths]\nrun_logs = \"logs\"\n")
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone"), filepath.Join(dir, "logs")); err != nil {
		t.Fatal(err)
	}
	_, err = LoadWithEnv(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "osiris.toml:5:1: error[config-path]: paths.run_logs \"logs\" leads out of the workspace through a symlink") {
		t.Errorf("symlinked run_logs: %v", err)
	}
}

// TestDataPathsRealAndSafe: what DuckDB may read is real paths only, and
// no allowed folder is or holds a protected entry, whatever symlinks the
// workspace has: self -> ., up -> .., r -> / and a link to .env are left
// out; var/ (holding build) is listed by its other entries; a link to a
// data folder adds nothing new.
func TestDataPathsRealAndSafe(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "osiris.toml", "[project]\nname = \"p\"\n")
	writeFile(t, root, ".env", "A=b\n")
	writeFile(t, root, "data/in.csv", "a\n")
	writeFile(t, root, "var/build/m.yaml", "x")
	writeFile(t, root, "var/cache/c.csv", "x")
	writeFile(t, root, "top.csv", "x")
	for link, target := range map[string]string{
		"self": ".", "up": "..", "r": "/", "envlink": ".env", "data2": "data", "varlink": "var", "data/self": "..",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := NewFilesWithPaths(root, PathsConfig{Pipelines: "pipelines", Build: "var/build", RunLogs: "run_logs", State: ".osiris"})
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(root)
	dirs, files := f.DataPaths()
	wantDirs := []string{filepath.Join(real, "data"), filepath.Join(real, "var", "cache")}
	wantFiles := []string{filepath.Join(real, "top.csv")}
	if !reflect.DeepEqual(dirs, wantDirs) || !reflect.DeepEqual(files, wantFiles) {
		t.Errorf("DataPaths = %q, %q; want %q, %q", dirs, files, wantDirs, wantFiles)
	}
}
