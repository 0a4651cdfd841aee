package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/filehash"
)

// csvPipeline reads data/in.csv, sums it in DuckDB and writes the result to
// output/out.csv.
const csvPipeline = `oml_version: "0.1.0"
name: sum
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/in.csv
  - id: total
    component: duckdb.processor
    mode: transform
    needs: [extract]
    config:
      query: SELECT string_agg(v, '' ORDER BY id) AS letters, sum(n) AS total FROM input_df
  - id: save
    component: filesystem.csv_writer
    mode: write
    needs: [total]
    config:
      path: output/out.csv
`

// A CSV edited in place with the same size and its old mtime restored
// (touch -d, tar, rsync -t) gives the new result, also after a --no-cache
// run, and restoring the old file gives the old result: the file memo
// keys on ctime and inode too, and --no-cache rehashes.
func TestSameSizeEditWithOldMtime(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Name: "e2e-cache"}, map[string]string{"pipelines/sum.yaml": csvPipeline, "data/in.csv": ""})
	in := filepath.Join(w.Root, "data", "in.csv")
	old := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	set := func(content string) {
		t.Helper()
		if err := os.WriteFile(in, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(in, old, old); err != nil {
			t.Fatal(err)
		}
	}
	out := func() string { return readFile(t, w, "output/out.csv") }
	a := "id,v,n\n1,a,1\n2,b,2\n"
	b := "id,v,n\n1,x,7\n2,y,8\n" // same size
	set(a)
	runOK(t, w, "pipelines/sum.yaml")
	if !strings.Contains(out(), "ab,3") {
		t.Fatalf("first result %q", out())
	}
	set(b)
	runOK(t, w, "pipelines/sum.yaml")
	if !strings.Contains(out(), "xy,15") {
		t.Errorf("same-size edit with the old mtime: %q, want xy,15", out())
	}
	runOK(t, w, "--no-cache", "pipelines/sum.yaml")
	if !strings.Contains(out(), "xy,15") {
		t.Errorf("--no-cache after the edit: %q, want xy,15", out())
	}
	set(a)
	runOK(t, w, "pipelines/sum.yaml")
	if !strings.Contains(out(), "ab,3") {
		t.Errorf("old file restored after a --no-cache run: %q, want ab,3", out())
	}
	set(b)
	runOK(t, w, "pipelines/sum.yaml")
	if !strings.Contains(out(), "xy,15") {
		t.Errorf("edited again: %q, want xy,15", out())
	}
}

// Each run directory owns its artifacts: damaging one run's cached
// artifact changes no other run's, and every run still passes its own
// status.json check.
func TestDamagedArtifactChangesNoOtherRun(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Name: "e2e-cache"}, map[string]string{
		"pipelines/sum.yaml": csvPipeline,
		"data/in.csv":        "id,v,n\n1,a,1\n2,b,2\n",
	})
	var dirs []string
	for i := 0; i < 3; i++ {
		dirs = append(dirs, w.RunDirOf(runOK(t, w, "pipelines/sum.yaml")))
	}
	for _, d := range dirs[1:] {
		if st := e2e.ReadStatus(t, d); st.Step(t, "total").Cache != "hit" {
			t.Fatalf("%s: total was not served by the step cache", d)
		}
	}
	damaged := filepath.Join(dirs[1], "artifacts", "total", "output.parquet")
	b, err := os.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(damaged, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dirs[0], dirs[2]} {
		st := e2e.ReadStatus(t, d)
		for _, s := range st.Steps {
			if s.Artifact == nil {
				continue
			}
			sum, err := filehash.File(filepath.Join(d, filepath.FromSlash(s.Artifact.Path)))
			if err != nil || sum != s.Artifact.SHA256 {
				t.Errorf("%s: %s has sha %s (%v) after damaging another run's copy; status.json says %s", filepath.Base(d), s.Artifact.Path, sum, err, s.Artifact.SHA256)
			}
		}
	}
}
