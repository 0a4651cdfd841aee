package watch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
)

// TestWatchSQLReads: a file read only by a processor's SQL (read_csv, a
// glob) is watched like a config path: editing it, or adding a file the
// glob matches, reruns the pipeline with the new data.
func TestWatchSQLReads(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{}, map[string]string{
		"data/x.csv":       "v\n1\n2\n",
		"data/parts/a.csv": "v\n10\n",
		"pipelines/sql.yaml": `oml_version: "0.1.0"
name: sql-watch
steps:
  - id: sums
    component: duckdb.processor
    mode: transform
    config:
      query: "SELECT (SELECT sum(v) FROM read_csv('data/x.csv')) AS x, (SELECT sum(v) FROM read_csv('data/parts/*.csv')) AS parts"
  - id: save
    component: filesystem.csv_writer
    mode: write
    needs: [sums]
    config: {path: out/r.csv}
`,
	})
	out := func() string {
		b, _ := os.ReadFile(filepath.Join(w.Root, "out", "r.csv"))
		return strings.TrimSpace(string(b))
	}
	p := startWatch(t, w, "--json", "--poll", "100ms", "--debounce", "100ms")
	if r := p.Run(time.Minute); r["status"] != "success" || out() != "x,parts\n3,10" {
		t.Fatalf("first run: %v, out/r.csv %q", r, out())
	}
	w.Write("data/x.csv", "v\n1\n5\n")
	if r := p.Run(time.Minute); r["status"] != "success" || out() != "x,parts\n6,10" {
		t.Errorf("after editing data/x.csv: %v, out/r.csv %q", r, out())
	}
	w.Write("data/parts/b.csv", "v\n20\n")
	if r := p.Run(time.Minute); r["status"] != "success" || out() != "x,parts\n6,30" {
		t.Errorf("after adding data/parts/b.csv: %v, out/r.csv %q", r, out())
	}
	p.Stop()
}
