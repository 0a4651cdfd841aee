package faults

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// concurrentPipeline is small but touches everything two runs could fight
// over: the compiled manifest in build/, the run index, a DuckDB transform
// and the same CSV target.
const concurrentPipeline = `oml_version: "0.1.0"
name: flt-concurrent
steps:
  - id: extract-rows
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.src"
      query: "SELECT seq, seq % 7 AS bucket FROM seq_1_to_200000"
  - id: sum-buckets
    component: duckdb.processor
    mode: transform
    needs: [extract-rows]
    config:
      query: "SELECT bucket, count(*) AS n, sum(seq) AS total FROM input_df GROUP BY bucket ORDER BY bucket"
  - id: write-csv
    component: filesystem.csv_writer
    mode: write
    needs: [sum-buckets]
    config:
      path: out/buckets.csv
`

// Runs of the same pipeline started at the same moment (spec 08 asks for
// two; four make a collision in build/ or the index likelier) all succeed,
// each in its own run directory, and the index holds every start and end
// line intact.
func TestConcurrentRunsOfTheSamePipeline(t *testing.T) {
	t.Parallel()
	const n = 4
	w := newWorkspace(t, wsConfig{MySQLDB: dbFaults}, map[string]string{
		"pipelines/concurrent.yaml": concurrentPipeline,
	})
	runs := make([]*bgRun, n)
	for i := range runs {
		runs[i] = startOsiris(t, w, "--json", "run", "pipelines/concurrent.yaml")
	}
	dirs := map[string]bool{}
	ids := map[string]bool{}
	for i, r := range runs {
		res := r.wait(t, 2*time.Minute)
		if res.ExitCode != 0 {
			t.Errorf("run %d: exit %d\nstdout:\n%s\nstderr:\n%s", i, res.ExitCode, res.Stdout, res.Stderr)
			continue
		}
		dir := w.RunDirOf(res)
		if dirs[dir] {
			t.Errorf("run %d: run directory %s used twice", i, dir)
		}
		dirs[dir] = true
		rec := checkRecord(t, w, dir, osexec.StatusSuccess, "")
		ids[rec.Status.RunID] = true
		if s := rec.Status.Step(t, "extract-rows"); s.RowsOut != 200_000 {
			t.Errorf("run %d: extract-rows %d rows, want 200000", i, s.RowsOut)
		}
		if s := rec.Status.Step(t, "sum-buckets"); s.RowsOut != 7 {
			t.Errorf("run %d: sum-buckets %d rows, want 7", i, s.RowsOut)
		}
	}
	if t.Failed() {
		return
	}
	if got := runDirs(w, "run_logs"); len(got) != n {
		t.Errorf("%d run directories, want %d: %v", len(got), n, got)
	}
	lines := rawIndex(t, w)
	if len(lines) != 2*n {
		t.Errorf("index has %d lines, want %d (a start and an end line per run)", len(lines), 2*n)
	}
	indexed := w.Index()
	if len(indexed) != n {
		t.Errorf("index lists %d runs, want %d", len(indexed), n)
	}
	for _, r := range indexed {
		if !ids[r.RunID] || r.Status != osexec.StatusSuccess || r.Started == "" || r.Ended == "" {
			t.Errorf("index entry %+v: want one of the runs, success, with start and end", r)
		}
		if !dirs[filepath.Join(w.Root, filepath.FromSlash(r.RunDir))] {
			t.Errorf("index entry %s names run dir %s, which no run reported", r.RunID, r.RunDir)
		}
	}
	// The runs overlapped (otherwise this proves nothing about concurrency):
	// every run started before the first one ended.
	firstEnd, lastStart := "", ""
	for _, r := range indexed {
		if firstEnd == "" || r.Ended < firstEnd {
			firstEnd = r.Ended
		}
		if r.Started > lastStart {
			lastStart = r.Started
		}
	}
	if !(lastStart < firstEnd) {
		t.Errorf("the runs did not overlap (last start %s, first end %s)", lastStart, firstEnd)
	}
	if b := strings.TrimSpace(string(mustRead(t, filepath.Join(w.Root, "out", "buckets.csv")))); strings.Count(b, "\n") != 7 {
		t.Errorf("out/buckets.csv: want a header and 7 rows, got:\n%s", b)
	}
}

// Concurrent runs of the offline example all write the same
// warehouse.duckdb. DuckDB lets one process at a time hold a database file;
// the writer waits for the other run's lock instead of failing.
func TestConcurrentRunsShareADuckDBFile(t *testing.T) {
	t.Parallel()
	const n = 4
	w := e2e.NewWorkspaceAt(t, filepath.Join(t.TempDir(), "demo"))
	if r := w.Osiris("init", w.Root); r.ExitCode != 0 {
		t.Fatalf("osiris init: exit %d\n%s", r.ExitCode, r.Stderr)
	}
	runs := make([]*bgRun, n)
	for i := range runs {
		runs[i] = startOsiris(t, w, "--json", "run", "pipelines/movies_offline.yaml")
	}
	for i, r := range runs {
		res := r.wait(t, 2*time.Minute)
		if res.ExitCode != 0 {
			t.Errorf("run %d: exit %d\nstdout:\n%s\nstderr:\n%s", i, res.ExitCode, res.Stdout, res.Stderr)
			continue
		}
		rec := checkRecord(t, w, w.RunDirOf(res), osexec.StatusSuccess, "")
		if s := rec.Status.Step(t, "write-warehouse"); s.RowsOut != 20 {
			t.Errorf("run %d: write-warehouse wrote %d rows, want 20", i, s.RowsOut)
		}
	}
}
