package cache

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// `osiris watch --reuse-writes` skips a replace writer whose target holds
// what this workspace last wrote there with the same key, reports it
// skipped (unchanged since the run that wrote it) with 0 rows written in
// status.json, metrics.jsonl, the run's totals, the watch line and the
// report; it never skips an append writer, and writes again once the
// input changes.
func TestWatchReuseWrites(t *testing.T) {
	t.Parallel()
	tg := pgTarget(t)
	sfx := suffix()
	replaceT, appendT := "cache_wr_replace_"+sfx, "cache_wr_append_"+sfx
	t.Cleanup(func() { tg.exec(t, "DROP TABLE IF EXISTS "+replaceT+", "+appendT) })
	pipeline := fmt.Sprintf(`oml_version: "0.1.0"
name: both
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/src.csv
  - id: pick
    component: duckdb.processor
    mode: transform
    needs: [extract]
    config:
      query: SELECT id, v FROM input_df WHERE grp = 1 ORDER BY id
  - id: keep
    component: postgres.writer
    mode: write
    needs: [pick]
    config:
      connection: "@postgres.dst"
      table: %s
      write_mode: replace
      create_if_missing: true
  - id: log
    component: postgres.writer
    mode: write
    needs: [pick]
    config:
      connection: "@postgres.dst"
      table: %s
      write_mode: append
      create_if_missing: true
`, replaceT, appendT)
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Name: "e2e-cache", PGDB: dbCache}, map[string]string{
		"data/src.csv":        srcCSV,
		"pipelines/both.yaml": pipeline,
	})
	p := startWatch(t, w, "--json", "--reuse-writes", "--debounce", "100ms", "pipelines/both.yaml")

	first := p.Run(2 * time.Minute)
	if first["status"] != "success" || first["writes_skipped"] != float64(0) {
		t.Fatalf("first run: %v", first)
	}
	// The same bytes saved again: a rerun with every key unchanged.
	w.Write("data/src.csv", srcCSV)
	second := p.Run(2 * time.Minute)
	if second["status"] != "success" || second["writes_skipped"] != float64(1) || second["rows"] != float64(2) {
		t.Errorf("unchanged rerun: %v; want success, 1 write skipped, 2 rows (the append writer's)", second)
	}
	if ids, _ := tg.ids(t, replaceT); ids != "1 2" {
		t.Errorf("replace target: %q", ids)
	}
	if ids, _ := tg.ids(t, appendT); ids != "1 1 2 2" {
		t.Errorf("append target after two runs: %q, want 1 1 2 2 (append is never skipped)", ids)
	}
	dir := filepath.Join(w.Root, filepath.FromSlash(second["run_dir"].(string)))
	st := e2e.ReadStatus(t, dir)
	keep := st.Step(t, "keep")
	reason := "unchanged since " + first["run_id"].(string)
	if keep.Status != osexec.StatusSkipped || keep.RowsOut != 0 || keep.RowsIn != 0 || keep.ReusedRun != first["run_id"] || keep.CacheReason != reason {
		t.Errorf("status.json keep: %+v; want skipped, 0 rows, %s", keep, reason)
	}
	if l := st.Step(t, "log"); l.Status != osexec.StatusSuccess || l.RowsOut != 2 {
		t.Errorf("status.json log: %s %d rows, want success 2", l.Status, l.RowsOut)
	}
	if st.Status != osexec.StatusSuccess || st.RowsTotal != 2 {
		t.Errorf("status.json: %s, rows_total %d; want success 2", st.Status, st.RowsTotal)
	}
	skipped := e2e.EventsNamed(e2e.ReadEvents(t, dir), osexec.EventStepSkipped, "keep")
	if len(skipped) != 1 || skipped[0].Fields["reason"] != reason {
		t.Errorf("step_skipped of keep: %v, want reason %q", skipped, reason)
	}
	if got := metric(t, dir, "keep", osexec.MetricRowsWritten); got != 0 {
		t.Errorf("metrics.jsonl rows_written of keep: %v, want 0", got)
	}
	if report, err := os.ReadFile(filepath.Join(dir, "report.html")); err != nil || !strings.Contains(string(report), "skipped: "+reason) {
		t.Errorf("report.html does not say the write was skipped (%v)", err)
	}

	// New input: the replace writer writes again.
	w.Write("data/src.csv", srcCSV+"6,1,f\n")
	third := p.Run(2 * time.Minute)
	if third["status"] != "success" || third["writes_skipped"] != float64(0) {
		t.Errorf("rerun after an input change: %v", third)
	}
	if ids, _ := tg.ids(t, replaceT); ids != "1 2 6" {
		t.Errorf("replace target after the input changed: %q, want 1 2 6", ids)
	}
	p.Stop()
}

// metric returns the value of the metric name of step in metrics.jsonl.
func metric(t *testing.T, dir, step, name string) float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m osexec.Metric
		if json.Unmarshal([]byte(l), &m) == nil && m.Step == step && m.Name == name {
			return m.Value
		}
	}
	t.Fatalf("metrics.jsonl has no %s of %s", name, step)
	return 0
}

// startWatch starts `osiris watch args...` (e2e.WatchProc).
func startWatch(t *testing.T, w *e2e.Workspace, args ...string) *e2e.WatchProc {
	t.Helper()
	return e2e.StartWatch(t, w, args...)
}
