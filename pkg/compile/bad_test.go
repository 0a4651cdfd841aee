package compile_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.want from the current output")

// workspaceWith writes files (workspace-relative name → content) into a
// fresh workspace directory and returns its root.
func workspaceWith(t testing.TB, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func render(l diag.List) string {
	var b strings.Builder
	for _, d := range l {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestBadPipelines compiles every testdata/bad/*.yaml and compares all
// diagnostics — code, position, step, message, hint — with its .want file.
func TestBadPipelines(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("only %d bad pipelines; the suite needs at least 30", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			root := workspaceWith(t, map[string][]byte{"pipelines/" + name + ".yaml": src})
			start := time.Now()
			m, diags := compile.Compile(newFakeEnv(root), "pipelines/"+name+".yaml", compile.Options{})
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %v; bad input must be refused quickly", el)
			}
			got := render(diags)
			wantFile := strings.TrimSuffix(f, ".yaml") + ".want"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test -run TestBadPipelines -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ\n--- got\n%s--- want\n%s", got, want)
			}
			if len(diags) == 0 {
				t.Error("no diagnostic at all for a bad pipeline")
			}
			if diags.HasErrors() != (m == nil) {
				t.Errorf("errors=%v but manifest=%v: a pipeline with errors must not compile", diags.HasErrors(), m != nil)
			}
			for _, d := range diags {
				if d.File != "pipelines/"+name+".yaml" {
					t.Errorf("diagnostic without the workspace-relative file: %s", d)
				}
				if strings.Contains(d.String(), "goroutine") || strings.Contains(d.String(), root) {
					t.Errorf("diagnostic leaks a stack or an absolute path: %s", d)
				}
			}
		})
	}
}

// TestHugeFile: a 50 MB pipeline is refused by size, quickly, without
// parsing it.
func TestHugeFile(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "pipelines", "huge.yaml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	line := []byte("# padding padding padding padding padding padding padding padding\n")
	data := bytes.Repeat(line, 50<<20/len(line)+1)
	if err := os.WriteFile(p, data[:50<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, diags := compile.Compile(newFakeEnv(root), "pipelines/huge.yaml", compile.Options{})
	if el := time.Since(start); el > time.Second {
		t.Errorf("refusing a 50 MB file took %v", el)
	}
	want := "pipelines/huge.yaml: error[file-too-large]: pipeline file is 50.0 MiB; the limit is 10.0 MiB (a pipeline describes steps; keep data in files the steps read)\n"
	if got := render(diags); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// The same limit holds for text handed over directly (watch, tests).
	_, diags = compile.CompileSource(newFakeEnv(root), "pipelines/huge.yaml", data[:11<<20], compile.Options{})
	if len(diags) != 1 || diags[0].Code != "file-too-large" {
		t.Errorf("CompileSource of 11 MiB: %v", diags)
	}
}
