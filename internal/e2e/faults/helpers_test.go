package faults

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/internal/e2e"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// Database names of this package (MariaDB and PostgreSQL alike).
const (
	dbFaults = "osiris_t_flt"        // fault and concurrency tests; each uses its own tables
	dbCanary = "osiris_t_flt_canary" // the secrets test (owned by its canary role in PostgreSQL)
)

// wsConfig says what goes into a test workspace's osiris.toml.
type wsConfig = e2e.Config

// newWorkspace is e2e.NewConfiguredWorkspace with this package's name.
func newWorkspace(t *testing.T, cfg wsConfig, files map[string]string) *e2e.Workspace {
	t.Helper()
	cfg.Name = "e2e-faults"
	return e2e.NewConfiguredWorkspace(t, cfg, files)
}

// record is a run directory read back after checkRecord.
type record struct {
	Dir    string
	Status e2e.Status
	Events []osexec.Event
}

// checkRecord asserts that runDir is a complete record of a run that ended
// with wantStatus (and, when wantFailed != "", failed in that step):
// status.json with status, failed step and error; events.jsonl of one run,
// seq 1…n without a gap, starting with run_start and ending in the one
// terminal event that matches the status; a non-empty osiris.log; and the
// run's start and end lines in the index, every index line valid JSON.
func checkRecord(t *testing.T, w *e2e.Workspace, runDir, wantStatus, wantFailed string) record {
	t.Helper()
	st := e2e.ReadStatus(t, runDir)
	if st.Status != wantStatus {
		t.Errorf("status.json: status %q, want %q (failed step %q: %s)", st.Status, wantStatus, st.FailedStep, st.Error)
	}
	if wantFailed != "" && st.FailedStep != wantFailed {
		t.Errorf("status.json: failed_step %q, want %q (error: %s)", st.FailedStep, wantFailed, st.Error)
	}
	if wantStatus == osexec.StatusFailed && strings.TrimSpace(st.Error) == "" {
		t.Errorf("status.json of a failed run has no error")
	}
	if st.RunID == "" || !strings.Contains(filepath.Base(runDir), st.RunID) {
		t.Errorf("status.json run_id %q does not match the run directory %s", st.RunID, filepath.Base(runDir))
	}

	events := e2e.ReadEvents(t, runDir)
	if len(events) < 2 {
		t.Fatalf("events.jsonl has %d events", len(events))
	}
	terminals := 0
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Errorf("events.jsonl: event %d (%s) has seq %d, want %d (seq must be contiguous from 1)", i, e.Event, e.Seq, i+1)
		}
		if e.RunID != st.RunID {
			t.Errorf("events.jsonl: event %d (%s) has run_id %q, want %q", i, e.Event, e.RunID, st.RunID)
		}
		if e.V != osexec.EventVersion {
			t.Errorf("events.jsonl: event %d (%s) has v %d", i, e.Event, e.V)
		}
		if e.IsTerminal() {
			terminals++
		}
	}
	if events[0].Event != osexec.EventRunStart {
		t.Errorf("events.jsonl starts with %s, want run_start", events[0].Event)
	}
	wantLast := map[string]string{
		osexec.StatusSuccess:   osexec.EventRunComplete,
		osexec.StatusFailed:    osexec.EventRunError,
		osexec.StatusCancelled: osexec.EventRunCancelled,
	}[wantStatus]
	if last := events[len(events)-1]; last.Event != wantLast {
		t.Errorf("events.jsonl ends with %s, want %s", last.Event, wantLast)
	}
	if terminals != 1 {
		t.Errorf("events.jsonl has %d terminal events, want exactly 1", terminals)
	}

	if fi, err := os.Stat(filepath.Join(runDir, "osiris.log")); err != nil || fi.Size() == 0 {
		t.Errorf("osiris.log missing or empty (%v)", err)
	}

	rel, _ := filepath.Rel(w.Root, runDir)
	lines := rawIndex(t, w)
	var start, end map[string]any
	for _, l := range lines {
		if l["run_id"] != st.RunID {
			continue
		}
		switch l["kind"] {
		case "start":
			if start != nil {
				t.Errorf("index: two start lines for run %s", st.RunID)
			}
			start = l
		case "end":
			if end != nil {
				t.Errorf("index: two end lines for run %s", st.RunID)
			}
			end = l
		}
	}
	switch {
	case start == nil:
		t.Errorf("index: no start line for run %s", st.RunID)
	case start["run_dir"] != filepath.ToSlash(rel):
		t.Errorf("index: start line run_dir %v, want %s", start["run_dir"], filepath.ToSlash(rel))
	}
	switch {
	case end == nil:
		t.Errorf("index: no end line for run %s", st.RunID)
	case end["status"] != wantStatus:
		t.Errorf("index: end line status %v, want %s", end["status"], wantStatus)
	case wantFailed != "" && end["failed_step"] != wantFailed:
		t.Errorf("index: end line failed_step %v, want %s", end["failed_step"], wantFailed)
	}
	return record{Dir: runDir, Status: st, Events: events}
}

// rawIndex returns every line of the workspace's run index, each of which
// must be one valid JSON object.
func rawIndex(t *testing.T, w *e2e.Workspace) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(osexec.IndexPath(filepath.Join(w.Root, ".osiris")))
	if err != nil {
		t.Fatalf("run index: %v", err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("run index line %d is not valid JSON (%v): %q", n, err, sc.Text())
			continue
		}
		out = append(out, m)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("run index does not end with a newline (a torn line)")
	}
	// The lines of runs only: compile records (record "compile", spec 06)
	// and a rewritten index's header line are not runs.
	compiles := map[any]bool{}
	runs := out[:0]
	for _, m := range out {
		if m["kind"] == "header" {
			continue
		}
		if m["record"] == osexec.RecordKindCompile {
			compiles[m["run_id"]] = true
		}
		if !compiles[m["run_id"]] {
			runs = append(runs, m)
		}
	}
	return runs
}

// bgRun is an osiris process running in the background.
type bgRun struct {
	w      *e2e.Workspace
	cmd    *exec.Cmd
	out    *e2e.SyncBuffer
	errb   *e2e.SyncBuffer
	done   chan struct{}
	result e2e.Result
	err    error
}

// startOsiris starts `osiris -C root args...` and returns at once. The
// process is killed at the end of the test if it still runs.
func startOsiris(t *testing.T, w *e2e.Workspace, args ...string) *bgRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b := &bgRun{w: w, cmd: w.Command(ctx, args...), out: &e2e.SyncBuffer{}, errb: &e2e.SyncBuffer{}, done: make(chan struct{})}
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.errb
	if err := b.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting osiris: %v", err)
	}
	go func() {
		defer close(b.done)
		defer cancel()
		b.err = b.cmd.Wait()
		// ExitCode is -1 when a signal ended the process.
		b.result = e2e.Result{Stdout: b.out.String(), Stderr: b.errb.String(), ExitCode: b.cmd.ProcessState.ExitCode()}
	}()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// exited reports whether the process has ended.
func (b *bgRun) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to end and returns its output and exit code
// (-1 when a signal killed it).
func (b *bgRun) wait(t *testing.T, timeout time.Duration) e2e.Result {
	t.Helper()
	select {
	case <-b.done:
		b.w.CheckArtifacts()
		return b.result
	case <-time.After(timeout):
		b.cmd.Process.Kill()
		<-b.done
		t.Fatalf("osiris did not end within %s\nstdout:\n%s\nstderr:\n%s", timeout, b.result.Stdout, b.result.Stderr)
		return e2e.Result{}
	}
}

// waitUntil polls cond every 20 ms until it holds. It fails the test when
// the deadline passes or the process ends first (with its output: the
// fault came too late to hit the run mid-flight).
func (b *bgRun) waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if b.exited() {
			t.Fatalf("osiris ended (exit %d) before %s\nstdout:\n%s\nstderr:\n%s", b.result.ExitCode, what, b.result.Stdout, b.result.Stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s\nstderr so far:\n%s", what, timeout, b.errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runDirs returns the run directories under the workspace's run_logs
// (absolute, sorted).
func runDirs(w *e2e.Workspace, runLogs string) []string {
	m, _ := filepath.Glob(filepath.Join(w.Root, runLogs, "*", "*", "*"))
	var out []string
	for _, p := range m {
		if strings.HasSuffix(p, "-compile") { // a compile's record, not a run
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// hasStepEvent reports whether the events written so far in runDir hold
// event name for step (a partial last line is ignored).
func hasStepEvent(runDir, name, step string) bool {
	b, err := os.ReadFile(filepath.Join(runDir, "events.jsonl"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		var e osexec.Event
		if json.Unmarshal([]byte(line), &e) == nil && e.Event == name && e.Step == step {
			return true
		}
	}
	return false
}

// mysqlQueryID returns the id of the MariaDB connection running a
// statement that contains marker (0 when there is none), never the
// connection asking.
func mysqlQueryID(t *testing.T, db *sql.DB, marker string) int64 {
	t.Helper()
	var id int64
	err := db.QueryRow(`SELECT ID FROM information_schema.PROCESSLIST
		WHERE INFO LIKE CONCAT('%', ?, '%') AND ID <> CONNECTION_ID() AND COMMAND <> 'Sleep'
		ORDER BY ID LIMIT 1`, marker).Scan(&id)
	if err == sql.ErrNoRows {
		return 0
	}
	if err != nil {
		t.Fatalf("reading the processlist: %v", err)
	}
	return id
}

// pgTableState is a fingerprint of a table's whole content: the row count
// and an md5 of every row in key order. A statement timeout guards against
// a lock a dead writer would still hold.
func pgTableState(t *testing.T, conn *pgx.Conn, table string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int64
	var sum *string
	q := fmt.Sprintf(`SELECT count(*), md5(string_agg(t::text, E'\n' ORDER BY t::text)) FROM %s t`, pgx.Identifier{table}.Sanitize())
	if err := conn.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
		t.Fatalf("reading %s: %v", table, err)
	}
	s := "<nil>"
	if sum != nil {
		s = *sum
	}
	return fmt.Sprintf("%d rows, md5 %s", n, s)
}

// pgCopyInProgress returns the pid of the backend running a COPY into
// table in database db and the tuples it has processed so far (0, 0 when
// there is none).
func pgCopyInProgress(t *testing.T, conn *pgx.Conn, db, table string) (pid int32, tuples int64) {
	t.Helper()
	err := conn.QueryRow(context.Background(), `
		SELECT p.pid, p.tuples_processed
		FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid
		WHERE p.datname = $1 AND a.query LIKE 'COPY %' AND a.query LIKE '%' || $2 || '%'
		ORDER BY p.tuples_processed DESC LIMIT 1`, db, table).Scan(&pid, &tuples)
	if err == pgx.ErrNoRows {
		return 0, 0
	}
	if err != nil {
		t.Fatalf("reading pg_stat_progress_copy: %v", err)
	}
	return pid, tuples
}

// pgBackendsOn describes the backends of database db whose last query
// mentions table and that are not idle ("" when there is none): a writer
// that died must not leave one holding its locks.
func pgBackendsOn(t *testing.T, conn *pgx.Conn, db, table string) string {
	t.Helper()
	var desc string
	if err := conn.QueryRow(context.Background(), `
		SELECT coalesce(string_agg(format('pid %s %s (%s %s, since %s): %s', pid, state, wait_event_type, wait_event,
			now() - state_change, left(query, 80)), '; '), '')
		FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid() AND query LIKE '%' || $2 || '%'
		  AND state <> 'idle'`, db, table).Scan(&desc); err != nil {
		t.Fatalf("reading pg_stat_activity: %v", err)
	}
	return desc
}

// waitNoBackendsOn waits until no backend of db is busy on table. The
// server notices a client that went away (or a cancel request) only
// between two pieces of work, so a backend in the middle of writing a COPY
// batch may outlive the osiris process by a moment; it must then roll back
// and end on its own, which is what this asserts.
func waitNoBackendsOn(t *testing.T, conn *pgx.Conn, db, table string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		b := pgBackendsOn(t, conn, db, table)
		if b == "" {
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Logf("the server ended the dead writer's backend %s after the process exited", d.Round(time.Millisecond))
			}
			return
		}
		if time.Since(start) > timeout {
			t.Errorf("backends still busy on %s %s after the run ended: %s", table, timeout, b)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustRead returns a file's content, failing the test when it cannot.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
