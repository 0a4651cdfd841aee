package watch

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
)

const duckPipeline = `oml_version: "0.1.0"
name: duck
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/d.csv
  - id: write
    component: duckdb.writer
    mode: write
    needs: [extract]
    config:
      connection: "@duckdb.wh"
      table: d
      write_mode: replace
`

// A save of .env reruns only the pipelines whose resolved connections
// changed: adding an unused variable reruns nothing, changing the variable
// of the DuckDB connection reruns only the pipeline that writes there.
// Before, every save reran every pipeline.
func TestWatchEnvSaveRerunsOnlyUsers(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Extra: "\n[connections.duckdb.wh]\npath = \"${WH_FILE}\"\n"}, map[string]string{
		".env":                 "WH_FILE=wh1.duckdb\n",
		"data/d.csv":           "id,v\n1,a\n2,b\n",
		"data/movies.csv":      moviesCSV(),
		"pipelines/duck.yaml":  duckPipeline,
		"pipelines/three.yaml": threeSteps,
	})
	p := startWatch(t, w, "--json", "--debounce", "100ms")
	for i := 0; i < 2; i++ {
		if r := p.Run(time.Minute); r["status"] != "success" {
			t.Fatalf("initial run: %v", r)
		}
	}
	w.Write(".env", "WH_FILE=wh1.duckdb\nUNUSED=1\n")
	for i := 0; i < 2; i++ {
		if r := p.Report(time.Minute, "run", "unchanged"); r["event"] != "unchanged" {
			t.Fatalf("after a save of .env that changes nothing used: %v, want no rerun", r)
		}
	}
	w.Write(".env", "WH_FILE=wh2.duckdb\nUNUSED=1\n")
	got := map[string]string{}
	for i := 0; i < 2; i++ {
		r := p.Report(time.Minute, "run", "unchanged")
		got[r["pipeline"].(string)] = r["event"].(string)
	}
	if got["pipelines/duck.yaml"] != "run" || got["pipelines/three.yaml"] != "unchanged" {
		t.Fatalf("after WH_FILE changed: %v, want only duck rerun", got)
	}
	if _, err := os.Stat(filepath.Join(w.Root, "wh2.duckdb")); err != nil {
		t.Errorf("the rerun did not write the new database: %v", err)
	}
	p.Stop()
}

// Human output: a line when a run starts, saying what changed; two
// pipelines x.yaml and sub/x.yaml keep distinct names; a step cache warning
// is one short line with workspace-relative paths.
func TestWatchOutputLines(t *testing.T) {
	t.Parallel()
	sub := strings.NewReplacer("name: three", "name: subx", "output/top.csv", "output/subtop.csv").Replace(threeSteps)
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{}, map[string]string{
		"data/movies.csv":      moviesCSV(),
		"pipelines/x.yaml":     threeSteps,
		"pipelines/sub/x.yaml": sub,
	})
	p := startWatch(t, w, "--debounce", "100ms")
	ts := `^\d\d:\d\d:\d\d `
	seen := map[string]bool{}
	for len(seen) < 4 {
		l := p.Line(ts+`(▶|✓) (x|sub/x)  `, time.Minute)
		seen[regexp.MustCompile(`(▶|✓) (\S+)`).FindString(l)] = true
	}
	// Spoil the artifacts the next run would reuse: the step cache ignores
	// them and says so.
	arts, _ := filepath.Glob(filepath.Join(w.Root, "run_logs", "*", "*", "*", "artifacts", "*", "output.parquet"))
	if len(arts) == 0 {
		t.Fatal("no artifacts found")
	}
	for _, a := range arts {
		if err := os.WriteFile(a, []byte("spoiled"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.Write("pipelines/x.yaml", strings.Replace(threeSteps, "total >= 1400", "total >= 1500", 1))
	p.Line(ts+`▶ x  started \(changed: pipelines/x\.yaml\)$`, time.Minute)
	warn := p.Line(ts+`! x  extract: `, time.Minute)
	if strings.Contains(warn, w.Root) || len([]rune(warn)) > 200 || !strings.Contains(warn, "step cache entry ignored") {
		t.Errorf("warning line (%d characters): %s\nwant a short one with workspace-relative paths", len([]rune(warn)), warn)
	}
	p.Line(ts+`✓ x  4 steps \(0 cached\)`, time.Minute)
	p.Stop()
}

// --retry reruns a failed pipeline after that long, with no change.
func TestWatchRetry(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{}, map[string]string{
		"data/movies.csv": moviesCSV(),
		"pipelines/bad.yaml": `oml_version: "0.1.0"
name: bad
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/movies.csv
  - id: broken
    component: duckdb.processor
    mode: transform
    needs: [extract]
    config:
      query: SELECT no_such_column FROM input_df
`,
	})
	p := startWatch(t, w, "--retry", "300ms", "pipelines/bad.yaml")
	p.Line(`✗ bad  step "broken": .*\(retry in 300ms\)$`, time.Minute)
	p.Line(`▶ bad  started \(retry 1 after a failure\)$`, time.Minute)
	p.Line(`✗ bad  step "broken"`, time.Minute)
	p.Line(`▶ bad  started \(retry 2 after a failure\)$`, time.Minute)
	p.Stop()
}

// A pipeline named on the command line, deleted and restored (a branch
// switch), is watched again.
func TestWatchNamedPipelineRestored(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{}, map[string]string{
		"data/movies.csv":      moviesCSV(),
		"pipelines/three.yaml": threeSteps,
	})
	p := startWatch(t, w, "--debounce", "100ms", "pipelines/three.yaml")
	p.Line(`✓ three  4 steps`, time.Minute)
	if err := os.Remove(filepath.Join(w.Root, "pipelines", "three.yaml")); err != nil {
		t.Fatal(err)
	}
	p.Line(`- three  removed`, time.Minute)
	w.Write("pipelines/three.yaml", strings.Replace(threeSteps, "total >= 1400", "total >= 1500", 1))
	p.Line(`✓ three  4 steps \(2 cached\)`, time.Minute)
	p.Stop()
}
