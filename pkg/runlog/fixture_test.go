package runlog

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	_ "github.com/osiris-go/osiris/pkg/component/all"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/workspace"
)

// canary is a secret the fixtures' environment holds (its name makes it a
// secret) and that also appears in their data: no report may show it.
const canary = "Canary-7f3e9b21-do-not-leak"

// fixture is a workspace with real pipelines (CSV → DuckDB → CSV/parquet)
// run by the real engine and recorder, as `osiris run` does.
type fixture struct {
	t     *testing.T
	root  string
	ws    *workspace.Workspace
	store *Store
}

const fixtureTOML = `[project]
name = "fixture"
profile = "dev"

[run]
max_parallel_steps = 1
`

const moviesCSV = "id,title,note\n1,Alien,fine\n2,Heat,<script>alert(1)</script>\n3,Ran,token " + canary + "\n"

// orders: two extracts joined by a transform, then written to CSV.
const ordersYAML = `oml_version: "0.1.0"
name: orders
steps:
  - id: extract-movies
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/movies.csv
  - id: extract-more
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/movies.csv
  - id: shape
    component: duckdb.processor
    mode: transform
    inputs:
      m: "${extract-movies.df}"
      n: "${extract-more.df}"
    config:
      query: SELECT m.id, m.title, m.note FROM m JOIN n USING (id) ORDER BY m.id
  - id: write-out
    component: filesystem.csv_writer
    mode: write
    needs: [shape]
    config:
      path: output/orders.csv
`

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"osiris.toml":           fixtureTOML,
		"data/movies.csv":       moviesCSV,
		"pipelines/orders.yaml": ordersYAML,
	}
	for p, c := range files {
		writeFile(t, filepath.Join(root, p), c)
	}
	f := &fixture{t: t, root: root}
	f.reload()
	return f
}

func (f *fixture) reload() {
	f.t.Helper()
	ws, err := workspace.LoadWithEnv(f.root, []string{"REPORT_API_TOKEN=" + canary, "PATH=" + os.Getenv("PATH")})
	if err != nil {
		f.t.Fatalf("loading the fixture workspace: %v", err)
	}
	if ws.Masker.Mask(canary) == canary {
		f.t.Fatal("the canary is not a known secret of the fixture workspace")
	}
	f.ws = ws
	f.store = ForWorkspace(ws)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setQuery replaces the transform's query of pipelines/orders.yaml.
func (f *fixture) setQuery(q string) {
	f.t.Helper()
	y := strings.Replace(ordersYAML, "SELECT m.id, m.title, m.note FROM m JOIN n USING (id) ORDER BY m.id", q, 1)
	writeFile(f.t, filepath.Join(f.root, "pipelines/orders.yaml"), y)
}

// run compiles pipelines/<name>.yaml and runs it with the real engine and
// recorder; cancelAfter != "" cancels the run once that step completes.
// It returns the run directory.
func (f *fixture) run(name, cancelAfter string) string {
	f.t.Helper()
	ws := f.ws
	m, ds := compile.Compile(compile.FromWorkspace(ws), filepath.Join(ws.Root, "pipelines", name+".yaml"), compile.Options{Profile: "dev"})
	if ds.HasErrors() {
		f.t.Fatalf("compile: %v", ds)
	}
	rec, err := exec.StartRecorder(exec.RecorderOptions{
		RunLogsDir: filepath.Join(ws.Root, "run_logs"), StateDir: filepath.Join(ws.Root, ".osiris"),
		WorkspaceRoot: ws.Root, Manifest: m, Masker: ws.Masker,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sink exec.EventSink = rec.Sink()
	if cancelAfter != "" {
		sink = exec.MultiSink{rec.Sink(), exec.FuncSink(func(e exec.Event) {
			if e.Event == exec.EventStepComplete && e.Step == cancelAfter {
				cancel()
			}
		})}
	}
	res, runErr := (&exec.Engine{Options: exec.Options{MaxParallel: 1, MemoryBudget: -1}}).Run(ctx, m, exec.RunEnv{
		RunID: rec.RunID(), RunDir: rec.Dir(), Files: ws.Files,
		Connect: func(ctx context.Context, ref, family string) (*workspace.Connection, error) {
			return ws.ResolveConnection(ref, family)
		},
		Sink: sink, Masker: ws.Masker, Log: rec.Logger(),
	})
	if err := rec.Finish(res, runErr); err != nil {
		f.t.Fatal(err)
	}
	// As `osiris run` does at the end of every run.
	if err := f.store.WriteRunReport(context.Background(), rec.Dir()); err != nil {
		f.t.Fatal(err)
	}
	// Distinct start times keep "newest first" unambiguous.
	time.Sleep(5 * time.Millisecond)
	return rec.Dir()
}

func (f *fixture) list(flt Filter) []Run {
	f.t.Helper()
	runs, _, err := f.store.List(flt)
	if err != nil {
		f.t.Fatal(err)
	}
	return runs
}
