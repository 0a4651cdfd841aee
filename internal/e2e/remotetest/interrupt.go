package remotetest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// slowWorkspace has pipelines/slow.yaml, whose DuckDB step runs for minutes.
func slowWorkspace(t *testing.T, sb Sandbox) *e2e.Workspace {
	return e2e.NewConfiguredWorkspace(t, e2e.Config{MaxParallel: 1, Extra: "\n" + sb.TOML + "\n"}, map[string]string{
		"data/in.csv":         "id,v\n1,2\n3,4\n",
		"pipelines/slow.yaml": strings.Replace(faultPipeline, "QUERY", "SELECT count(*) AS n, sum(r.range % 7) AS s FROM input_df, range(40000000000) r", 1),
	})
}

// waitForEvent polls the workspace's run_logs until an events.jsonl holds
// the event of step, and returns that run directory.
func waitForEvent(t *testing.T, w *e2e.Workspace, event, step string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(w.Root, "run_logs", "*", "*", "*", "events.jsonl"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if bytes.Contains(b, []byte(`"event":"`+event+`","step":"`+step+`"`)) {
				return filepath.Dir(f)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s of %s within %s", event, step, within)
	return ""
}

// Interrupt: Ctrl-C during a remote step asks the worker to cancel, then
// stops the sandbox: exit 130 within seconds, status.json cancelled,
// events.jsonl ending in run_cancelled after sandbox_stopped. And a
// --timeout that strikes mid-step fails the run (exit 1) the same way a
// local run's does.
func Interrupt(t *testing.T, sb Sandbox) {
	t.Run("ctrl-c", func(t *testing.T) {
		w := slowWorkspace(t, sb)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := w.Command(ctx, "run", "pipelines/slow.yaml", "--remote", sb.Name)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		runDir := waitForEvent(t, w, osexec.EventStepStart, "crunch", time.Minute)
		time.Sleep(300 * time.Millisecond) // inside the step
		sent := time.Now()
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		took := time.Since(sent)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("exit: %v, want 130\n%s", err, stderr.String())
		}
		if took > 10*time.Second {
			t.Errorf("the run took %s to stop after Ctrl-C; want within 10 s", took.Round(time.Millisecond))
		}
		st := e2e.ReadStatus(t, runDir)
		if st.Status != osexec.StatusCancelled {
			t.Errorf("status.json: %s (%s), want cancelled", st.Status, st.Error)
		}
		evs := e2e.ReadEvents(t, runDir)
		if last := evs[len(evs)-1]; last.Event != osexec.EventRunCancelled {
			t.Errorf("events.jsonl ends with %s, want run_cancelled", last.Event)
		}
		if len(e2e.EventsNamed(evs, osexec.EventSandboxStopped, "")) != 1 {
			t.Error("no sandbox_stopped event")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		w := slowWorkspace(t, sb)
		start := time.Now()
		r := w.Osiris("--json", "run", "pipelines/slow.yaml", "--remote", sb.Name, "--timeout", "4s")
		if r.ExitCode != 1 {
			t.Errorf("exit %d, want 1\n%s", r.ExitCode, r.Stderr)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("a 4 s time limit ended the run after %s", took.Round(time.Millisecond))
		}
		runDir := w.RunDirOf(r)
		if st := e2e.ReadStatus(t, runDir); st.Status != osexec.StatusFailed || !strings.Contains(st.Error+r.Stderr, "time limit") {
			t.Errorf("status.json: %s %q; want failed naming the time limit\n%s", st.Status, st.Error, r.Stderr)
		}
	})
}
