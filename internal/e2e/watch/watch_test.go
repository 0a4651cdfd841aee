package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// proc is a running `osiris watch`.
// startWatch starts `osiris watch args...` (e2e.WatchProc).
func startWatch(t *testing.T, w *e2e.Workspace, args ...string) *e2e.WatchProc {
	t.Helper()
	return e2e.StartWatch(t, w, args...)
}

func stepCaches(t *testing.T, st e2e.Status) map[string]string {
	out := map[string]string{}
	for _, s := range st.Steps {
		out[s.ID] = s.Cache
	}
	return out
}

func moviesCSV() string {
	var b strings.Builder
	b.WriteString("movie_id,director,runtime\n")
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&b, "%d,director %02d,%d\n", i, i%37, 80+i%60)
	}
	return b.String()
}

const threeSteps = `oml_version: "0.1.0"
name: three
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/movies.csv
  - id: per-director
    component: duckdb.processor
    mode: transform
    needs: [extract]
    config:
      query: SELECT director, count(*) AS n, sum(runtime) AS total FROM input_df GROUP BY director
  - id: top
    component: duckdb.processor
    mode: transform
    needs: [per-director]
    config:
      query: SELECT director, n, total FROM input_df WHERE total >= 1400 ORDER BY director
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [top]
    config:
      path: output/top.csv
`

// Editing the last DuckDB query in a running watch reruns that step and its
// writer only; the extract and the first query are cache hits; the result
// equals a full --no-cache run's.
func TestWatchEditLastQuery(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{}, map[string]string{
		"data/movies.csv":      moviesCSV(),
		"pipelines/three.yaml": threeSteps,
	})
	p := startWatch(t, w, "--json", "--debounce", "100ms", "pipelines/three.yaml")
	first := p.Run(time.Minute)
	if first["status"] != "success" || first["cached"] != float64(0) {
		t.Fatalf("first run: %v", first)
	}
	w.Write("pipelines/three.yaml", strings.Replace(threeSteps, "total >= 1400", "total >= 1500", 1))
	second := p.Run(time.Minute)
	if second["status"] != "success" || second["steps"] != float64(4) || second["cached"] != float64(2) {
		t.Fatalf("rerun after editing the last query: %v", second)
	}
	if _, ok := second["start_latency_ms"].(float64); !ok {
		t.Errorf("rerun report without start_latency_ms: %v", second)
	}
	runDir := filepath.Join(w.Root, filepath.FromSlash(second["run_dir"].(string)))
	st := e2e.ReadStatus(t, runDir)
	want := map[string]string{"extract": "hit", "per-director": "hit", "top": "miss", "write": "miss"}
	if got := stepCaches(t, st); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("step cache %v, want %v", got, want)
	}
	for _, e := range e2e.EventsNamed(e2e.ReadEvents(t, runDir), osexec.EventStepComplete, "") {
		if e.Fields["cache"] != want[e.Step] {
			t.Errorf("step_complete of %s: cache %v, want %s", e.Step, e.Fields["cache"], want[e.Step])
		}
	}
	watched, err := os.ReadFile(filepath.Join(w.Root, "output", "top.csv"))
	if err != nil {
		t.Fatal(err)
	}
	p.Stop()

	full := w.MustRun("--no-cache", "pipelines/three.yaml")
	fst := e2e.ReadStatus(t, full)
	for id := range want {
		if c := fst.Step(t, id).Cache; c != "miss" {
			t.Errorf("--no-cache run: step %s cache %q", id, c)
		}
	}
	for _, id := range []string{"extract", "per-director", "top"} {
		if a, b := st.Step(t, id).Artifact.TableDigest, fst.Step(t, id).Artifact.TableDigest; a != b {
			t.Errorf("step %s: table digest %s in watch, %s with --no-cache", id, a, b)
		}
	}
	again, err := os.ReadFile(filepath.Join(w.Root, "output", "top.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(watched, again) || len(watched) == 0 {
		t.Errorf("output/top.csv differs between the watch rerun and --no-cache run:\n%s\n---\n%s", watched, again)
	}
}

// A new pipeline file is picked up; a broken one prints its errors with
// file:line:col and watching goes on; the fix reruns it. Human output.
func TestWatchNewBrokenAndFixedPipeline(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{}, map[string]string{
		"data/movies.csv":      moviesCSV(),
		"pipelines/three.yaml": threeSteps,
	})
	p := startWatch(t, w, "--debounce", "100ms")
	p.Line(`^\d\d:\d\d:\d\d ✓ three  4 steps \(0 cached\)  .*  run_logs/dev/three/`, time.Minute)

	good := strings.NewReplacer("name: three", "name: two", "output/top.csv", "output/two.csv").Replace(threeSteps)
	// A new pipeline: its first three steps are those of three (step_fp
	// does not depend on the pipeline), only its writer is new.
	w.Write("pipelines/two.yaml", good)
	p.Line(`^\d\d:\d\d:\d\d ✓ two  4 steps \(3 cached\)  `, time.Minute)

	w.Write("pipelines/two.yaml", strings.Replace(good, "      query: SELECT director, n, total", "      qurey: SELECT director, n, total", 1))
	p.Line(`✗ two  does not validate; watching on`, time.Minute)
	// stderr is copied by another goroutine: it may lag behind stdout.
	typo := regexp.MustCompile(`pipelines/two\.yaml:\d+:\d+: error\[unknown-config-key\]: .*"qurey"`)
	waitFor(t, 10*time.Second, "the file:line:col error for the typo on stderr", func() bool { return typo.MatchString(p.Stderr()) })

	w.Write("pipelines/two.yaml", strings.Replace(good, "total >= 1400", "total >= 1000", 1))
	p.Line(`^\d\d:\d\d:\d\d ✓ two  4 steps \(2 cached\)  `, time.Minute)
	if _, err := os.Stat(filepath.Join(w.Root, "output", "two.csv")); err != nil {
		t.Error(err)
	}

	// A broken osiris.toml: its errors, the previous configuration stays;
	// fixed with other [run] settings, every pipeline reruns (a fix back to
	// the previous configuration would rerun none).
	toml, err := os.ReadFile(filepath.Join(w.Root, "osiris.toml"))
	if err != nil {
		t.Fatal(err)
	}
	w.Write("osiris.toml", string(toml)+"\n[watch]\nzzz = 1\n")
	p.Line(`✗ osiris\.toml  cannot be loaded; watching on`, time.Minute)
	bad := regexp.MustCompile(`osiris\.toml:\d+:\d+: error\[unknown-config-key\]`)
	waitFor(t, 10*time.Second, "osiris.toml's error on stderr", func() bool { return bad.MatchString(p.Stderr()) })
	if !strings.Contains(string(toml), "\n[run]\n") {
		t.Fatalf("osiris.toml has no [run] table:\n%s", toml)
	}
	w.Write("osiris.toml", strings.Replace(string(toml), "\n[run]\n", "\n[run]\nbatch_rows = 1000\n", 1))
	p.Line(`✓ (three|two)  4 steps`, time.Minute)
	p.Line(`✓ (three|two)  4 steps`, time.Minute)
	p.Stop()
}

// --poll detects a changed input file with no inotify watch at all.
func TestWatchPoll(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{}, map[string]string{
		"data/movies.csv":      moviesCSV(),
		"pipelines/three.yaml": threeSteps,
	})
	p := startWatch(t, w, "--json", "--poll", "100ms", "--debounce", "100ms")
	p.Run(time.Minute)
	if n := inotifyInstances(t, p.Cmd.Process.Pid); n != 0 {
		t.Errorf("watch --poll holds %d inotify instances", n)
	}
	w.Write("data/movies.csv", moviesCSV()+"999,director 99,200\n")
	r := p.Run(time.Minute)
	st := e2e.ReadStatus(t, filepath.Join(w.Root, filepath.FromSlash(r["run_dir"].(string))))
	if r["status"] != "success" || st.Step(t, "extract").Cache != "miss" || st.Step(t, "per-director").Cache != "miss" {
		t.Errorf("rerun after the CSV changed: %v, steps %v (the extract must rerun)", r, stepCaches(t, st))
	}
	if ps, _ := r["paths"].([]any); len(ps) != 1 || ps[0] != "data/movies.csv" {
		t.Errorf("rerun caused by %v", r["paths"])
	}
	p.Stop()
}

func inotifyInstances(t *testing.T, pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("cannot read %s: %v", dir, err)
	}
	n := 0
	for _, e := range entries {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.Contains(l, "inotify") {
			n++
		}
	}
	return n
}

// A change while a run is in progress cancels it: its record says
// cancelled, its writer's transaction is rolled back (the target keeps its
// rows), and the new run starts and succeeds. The writer is held in progress
// by a lock the test takes on its target table.
func TestWatchChangeCancelsRunInProgress(t *testing.T) {
	t.Parallel()
	const db = "osiris_e2e_watch"
	table := fmt.Sprintf("watch_cancel_%d", time.Now().UnixNano()%1e9)
	conn := testenv.PGConn(t, db)
	ctx := context.Background()
	e2e.PGExec(t, conn,
		fmt.Sprintf(`CREATE TABLE %s (movie_id bigint PRIMARY KEY, director text, runtime bigint)`, table),
		fmt.Sprintf(`INSERT INTO %s VALUES (-1, 'sentinel', 0)`, table))
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table+", "+table+"_new")
	})
	pipeline := func(target string) string {
		return fmt.Sprintf(`oml_version: "0.1.0"
name: cancel
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/movies.csv
  - id: write
    component: postgres.writer
    mode: write
    needs: [extract]
    config:
      connection: "@postgres.dst"
      table: %s
      write_mode: replace
      primary_key: [movie_id]
      create_if_missing: true
`, target)
	}
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{PGDB: db}, map[string]string{
		"data/movies.csv":       moviesCSV(),
		"pipelines/cancel.yaml": pipeline(table),
	})
	// Hold the target: the writer blocks inside its transaction.
	lock, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	p := startWatch(t, w, "--json", "--debounce", "100ms", "pipelines/cancel.yaml")

	// Wait until the writer waits for the lock.
	probe := testenv.PGConn(t, db)
	waitFor(t, time.Minute, "the writer to wait for the table lock", func() bool {
		var n int
		_ = probe.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE NOT l.granted AND c.relname = $1`, table).Scan(&n)
		return n > 0
	})
	w.Write("pipelines/cancel.yaml", pipeline(table+"_new"))

	cancelled := p.Run(time.Minute)
	if cancelled["status"] != osexec.StatusCancelled || cancelled["superseded"] != true {
		t.Fatalf("the run in progress: %v, want cancelled for the newer change", cancelled)
	}
	st := e2e.ReadStatus(t, filepath.Join(w.Root, filepath.FromSlash(cancelled["run_dir"].(string))))
	if st.Status != osexec.StatusCancelled || st.Step(t, "write").Status != osexec.StatusCancelled {
		t.Errorf("cancelled run's record: run %s, writer %s", st.Status, st.Step(t, "write").Status)
	}
	next := p.Run(time.Minute)
	if next["status"] != "success" {
		t.Fatalf("the new run: %v", next)
	}
	p.Stop()
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var n, sentinel int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE movie_id = -1) FROM "+table).Scan(&n, &sentinel); err != nil {
		t.Fatal(err)
	}
	if n != 1 || sentinel != 1 {
		t.Errorf("%s holds %d rows (%d sentinel) after the cancelled write; want only the sentinel (rolled back)", table, n, sentinel)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table+"_new").Scan(&n); err != nil || n != 500 {
		t.Errorf("the new run's table holds %d rows (%v), want 500", n, err)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// watch --remote runs every run in the sandbox (the local kind here): the
// record says where it ran, and an edit reruns it there.
func TestWatchRemote(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Extra: "\n[remote.box]\nkind = \"local\"\n"}, map[string]string{
		"data/movies.csv":      moviesCSV(),
		"pipelines/three.yaml": threeSteps,
	})
	p := startWatch(t, w, "--json", "--debounce", "100ms", "--remote", "box", "pipelines/three.yaml")
	for i := 0; i < 2; i++ {
		r := p.Run(2 * time.Minute)
		if r["status"] != "success" {
			t.Fatalf("run %d: %v", i+1, r)
		}
		b, err := os.ReadFile(filepath.Join(w.Root, filepath.FromSlash(r["run_dir"].(string)), "status.json"))
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Where string `json:"where"`
		}
		if err := json.Unmarshal(b, &st); err != nil || st.Where != "box" {
			t.Errorf("run %d ran %q (%v), want in the sandbox box", i+1, st.Where, err)
		}
		if i == 0 {
			w.Write("pipelines/three.yaml", strings.Replace(threeSteps, "total >= 1400", "total >= 1450", 1))
		}
	}
	p.Stop()
}
