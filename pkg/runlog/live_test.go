package runlog

import (
	"bufio"
	"context"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/exec"
)

func TestMain(m *testing.M) {
	if root := os.Getenv("RUNLOG_TEST_HOLD_RUN"); root != "" {
		holdRun(root)
		return
	}
	if root := os.Getenv("RUNLOG_TEST_FIFO_RUN"); root != "" {
		fifoRun(root)
		return
	}
	if spec := os.Getenv("RUNLOG_TEST_GC"); spec != "" {
		gcHelper(spec)
		return
	}
	os.Exit(m.Run())
}

// holdRun is the helper process: it starts recording a run in the
// workspace root, says "ready" and then lives until it is killed, as a run
// whose steps take long does.
func holdRun(root string) {
	m := &compile.Manifest{
		Format:       compile.ManifestFormat,
		Pipeline:     compile.ManifestPipeline{Name: "slow", Slug: "slow", File: "pipelines/slow.yaml"},
		Profile:      "dev",
		Steps:        []compile.Step{{ID: "wait", Component: "duckdb.processor", Mode: "transform", Needs: []string{}, Config: map[string]any{}}},
		ManifestHash: "sha256:feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface",
	}
	rec, err := exec.StartRecorder(exec.RecorderOptions{RunLogsDir: filepath.Join(root, "run_logs"), StateDir: filepath.Join(root, ".osiris"), Manifest: m})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(3)
	}
	rec.Sink().Emit(exec.Event{V: exec.EventVersion, Seq: 1, TS: time.Now(), RunID: rec.RunID(), Event: exec.EventRunStart})
	os.Stdout.WriteString("ready\n")
	time.Sleep(2 * time.Minute)
	os.Exit(4)
}

func startHolder(t *testing.T, root string) *osexec.Cmd {
	t.Helper()
	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RUNLOG_TEST_HOLD_RUN="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper run did not start: %q %v", line, err)
	}
	return cmd
}

// A run whose process lives is listed as running; one whose process was
// SIGKILLed (no end line, status.json still "running") is listed as killed.
func TestRunningAndKilledRuns(t *testing.T) {
	f := newFixture(t)
	f.run("orders", "")
	victim := startHolder(t, f.root)
	time.Sleep(5 * time.Millisecond)
	startHolder(t, f.root) // stays alive for the whole test

	runs := f.list(Filter{Pipeline: "slow"})
	if len(runs) != 2 || runs[0].Status != exec.StatusRunning || runs[1].Status != exec.StatusRunning {
		t.Fatalf("two live runs: %+v", runs)
	}
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.Wait()
	runs = f.list(Filter{Pipeline: "slow"})
	if len(runs) != 2 || runs[0].Status != exec.StatusRunning || runs[1].Status != exec.StatusKilled {
		t.Fatalf("after SIGKILL of the older run: %+v", runs)
	}
	if n := len(f.list(Filter{Status: []string{"killed"}})); n != 1 {
		t.Errorf("--status killed: %d runs", n)
	}
	d, err := f.store.Show(runs[1])
	if err != nil {
		t.Fatal(err)
	}
	// Its one step never started: it is not "killed" (issue 18).
	if d.Steps[0].Status != StatusNotStarted || d.Error == "" {
		t.Errorf("killed run detail: steps %+v error %q", d.Steps, d.Error)
	}
	// The statuses survive an index rebuild: they come from the run
	// directories and the locks, not from the index.
	os.Remove(exec.IndexPath(f.store.StateDir))
	runs = f.list(Filter{Pipeline: "slow"})
	if len(runs) != 2 || runs[0].Status != exec.StatusRunning || runs[1].Status != exec.StatusKilled {
		t.Fatalf("after a rebuild: %+v", runs)
	}
}

// --follow prints events as a live run appends them and stops at its end:
// the terminal event, or the death of its process.
func TestFollowLiveRun(t *testing.T) {
	f := newFixture(t)
	holder := startHolder(t, f.root)
	runs := f.list(Filter{Pipeline: "slow"})
	if len(runs) != 1 || runs[0].Status != exec.StatusRunning {
		t.Fatalf("live run: %+v", runs)
	}
	r := runs[0]
	got := make(chan exec.Event, 16)
	done := make(chan error, 1)
	go func() {
		done <- f.store.Follow(context.Background(), r, "", func(e exec.Event) error { got <- e; return nil }, nil)
	}()
	next := func() exec.Event {
		select {
		case e := <-got:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
		}
		return exec.Event{}
	}
	if e := next(); e.Event != exec.EventRunStart {
		t.Fatalf("first event %s", e.Event)
	}
	events := filepath.Join(f.store.Dir(r), "events.jsonl")
	appendLine := func(s string) {
		fh, err := os.OpenFile(events, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteString(s)
		fh.Close()
	}
	// Half a line, then the rest: one event, whole.
	appendLine(`{"v":1,"seq":2,"ts":"2026-11-29T12:00:00.000Z","run_id":"` + r.RunID + `","event":"step_st`)
	time.Sleep(3 * FollowPoll)
	appendLine(`art","step":"wait"}` + "\n")
	if e := next(); e.Event != exec.EventStepStart || e.Step != "wait" {
		t.Fatalf("second event %+v", e)
	}
	// The process dies without a terminal event: follow ends, saying the
	// run was killed (the CLI exits non-zero with a closing line).
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	select {
	case err := <-done:
		if !errors.Is(err, ErrRunKilled) {
			t.Fatalf("follow of a killed run ended with %v, want ErrRunKilled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the run's process died")
	}
}
