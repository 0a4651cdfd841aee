package watch

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// SIGHUP (a closed terminal), SIGTERM and Ctrl-C stop watch the same way:
// the run in progress is cancelled and recorded as such (status.json
// cancelled, no run.lock left), and watch exits 130. Before, SIGHUP killed
// it (exit 129) leaving the run "running" with its lock, and the others
// exited 0. The run is held in progress by a pg_sleep on PostgreSQL.
func TestWatchSignalCancelsAndRecords(t *testing.T) {
	t.Parallel()
	const db = "osiris_e2e_watch"
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			marker := fmt.Sprintf("watch_stop_%d_%d", os.Getpid(), rand.Uint32())
			w := e2e.NewConfiguredWorkspace(t, e2e.Config{PGDB: db}, map[string]string{
				"pipelines/sleep.yaml": fmt.Sprintf(`oml_version: "0.1.0"
name: sleep
steps:
  - id: extract
    component: postgres.extractor
    mode: read
    needs: []
    config:
      connection: "@postgres.dst"
      query: SELECT pg_sleep(300) AS slept, '%s' AS marker
`, marker),
			})
			p := startWatch(t, w, "--json", "pipelines/sleep.yaml")
			probe := testenv.PGConn(t, db)
			waitFor(t, time.Minute, "the query to run on the server", func() bool {
				var n int
				_ = probe.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%'||$1||'%' AND pid <> pg_backend_pid()`, marker).Scan(&n)
				return n > 0
			})
			if err := p.Cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			r := p.Run(time.Minute)
			if r["status"] != osexec.StatusCancelled || r["superseded"] != false {
				t.Errorf("the run in progress at %s: %v, want cancelled", sig, r)
			}
			if code := p.Wait(); code != 130 {
				t.Errorf("exit %d after %s, want 130\nstderr:\n%s", code, sig, p.Stderr())
			}
			runDir := filepath.Join(w.Root, filepath.FromSlash(r["run_dir"].(string)))
			if st := e2e.ReadStatus(t, runDir); st.Status != osexec.StatusCancelled {
				t.Errorf("status.json says %s, want cancelled", st.Status)
			}
			if _, err := os.Stat(filepath.Join(runDir, osexec.RunLockFile)); !os.IsNotExist(err) {
				t.Errorf("run.lock left behind (%v)", err)
			}
		})
	}
}

// Ctrl-C exits 130 (interrupted, as `osiris help` says) also when the last
// run failed; before, watch exited 0.
func TestWatchCtrlCAfterFailedRunExits130(t *testing.T) {
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
	p := startWatch(t, w, "pipelines/bad.yaml")
	p.Line(`✗ bad  step "broken"`, time.Minute)
	if code := p.ExitCode(syscall.SIGINT); code != 130 {
		t.Errorf("exit %d after Ctrl-C, want 130", code)
	}
}

// A second Ctrl-C stops watch at once even when a step does not stop on
// cancel (a CSV extractor blocked opening a FIFO): the run is recorded as
// cancelled, run.lock is gone, exit 130. Before, the second Ctrl-C killed
// watch and left the run "running".
func TestWatchSecondCtrlCRecordsStuckRun(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{}, map[string]string{
		"pipelines/fifo.yaml": `oml_version: "0.1.0"
name: fifo
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/fifo.csv
`,
	})
	if err := os.MkdirAll(filepath.Join(w.Root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(w.Root, "data", "fifo.csv"), 0o644); err != nil {
		t.Skipf("cannot make a FIFO: %v", err)
	}
	p := startWatch(t, w, "pipelines/fifo.yaml")
	var runDir string
	waitFor(t, time.Minute, "the run to start", func() bool {
		dirs, _ := filepath.Glob(filepath.Join(w.Root, "run_logs", "dev", "fifo", "*"))
		if len(dirs) == 0 {
			return false
		}
		runDir = dirs[0]
		b, _ := os.ReadFile(filepath.Join(runDir, "events.jsonl"))
		return strings.Contains(string(b), `"run_start"`)
	})
	if err := p.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// Two signals sent at once are one for the kernel: the second is sent
	// once the first was handled.
	waitFor(t, time.Minute, "the first Ctrl-C to be handled", func() bool {
		return strings.Contains(p.Stderr(), "cancelling the runs in progress")
	})
	if code := p.ExitCode(syscall.SIGINT); code != 130 {
		t.Errorf("exit %d after a second Ctrl-C, want 130", code)
	}
	if st := e2e.ReadStatus(t, runDir); st.Status != osexec.StatusCancelled {
		t.Errorf("status.json says %s, want cancelled", st.Status)
	}
	if _, err := os.Stat(filepath.Join(runDir, osexec.RunLockFile)); !os.IsNotExist(err) {
		t.Errorf("run.lock left behind (%v)", err)
	}
	if !strings.Contains(p.Stderr(), "stopped at once") {
		t.Errorf("stderr does not say it stopped at once:\n%s", p.Stderr())
	}
}
