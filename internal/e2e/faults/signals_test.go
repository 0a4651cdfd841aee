package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// A step that ignores cancellation: the CSV extractor opening a FIFO nobody
// writes blocks in open(2), inside DuckDB. The first Ctrl-C cancels the run
// but cannot stop that step; the second must end the process at once, with
// exit 130 and the run recorded (status.json, index end line).
func TestSecondInterruptExitsAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorkspace(t, wsConfig{}, map[string]string{
		"pipelines/stuck.yaml": `oml_version: "0.1.0"
name: flt-stuck
steps:
  - id: read-fifo
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/never.csv
`,
	})
	if err := os.MkdirAll(filepath.Join(w.Root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(w.Root, "data", "never.csv"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := startOsiris(t, w, "run", "pipelines/stuck.yaml")
	run.waitUntil(t, time.Minute, "the step blocked on the FIFO", func() bool {
		d := runDirs(w, "run_logs")
		return len(d) == 1 && hasStepEvent(d[0], osexec.EventStepStart, "read-fifo")
	})
	time.Sleep(300 * time.Millisecond) // into open(2)
	if err := run.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if run.exited() {
		t.Fatalf("the run ended on the first interrupt (exit %d): this test needs a step that ignores cancellation\nstderr:\n%s", run.result.ExitCode, run.result.Stderr)
	}
	if err := run.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	res := run.wait(t, 10*time.Second)
	if res.ExitCode != 130 {
		t.Fatalf("exit %d after the second interrupt, want 130\nstderr:\n%s", res.ExitCode, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "at once") {
		t.Errorf("stderr does not say the run was stopped at once:\n%s", res.Stderr)
	}
	dirs := runDirs(w, "run_logs")
	if len(dirs) != 1 {
		t.Fatalf("run directories: %v", dirs)
	}
	checkRecord(t, w, dirs[0], osexec.StatusCancelled, "")
}

// SIGHUP (the terminal closed, an ssh session dropped) stops a run the way
// SIGTERM does: exit 130, status cancelled, the index end line written.
func TestSIGHUPIsHandledLikeSIGTERM(t *testing.T) {
	t.Parallel()
	marker := fmt.Sprintf("flt_sighup_%d", time.Now().UnixNano())
	w := newWorkspace(t, wsConfig{MySQLDB: dbFaults}, map[string]string{
		"pipelines/endless.yaml": endlessPipeline("flt-sighup", marker),
	})
	run := startOsiris(t, w, "--json", "run", "pipelines/endless.yaml")
	run.waitUntil(t, time.Minute, "rows streaming from the extractor", func() bool {
		d := runDirs(w, "run_logs")
		return len(d) == 1 && hasStepEvent(d[0], osexec.EventStepProgress, "extract-endless")
	})
	if err := run.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	res := run.wait(t, time.Minute)
	if res.ExitCode != 130 {
		t.Fatalf("exit %d, want 130\nstdout:\n%s\nstderr:\n%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	rec := checkRecord(t, w, w.RunDirOf(res), osexec.StatusCancelled, "")
	if s := rec.Status.Step(t, "extract-endless"); s.Status != osexec.StatusCancelled {
		t.Errorf("extract-endless: status %q, want cancelled", s.Status)
	}
}
