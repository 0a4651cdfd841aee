package runlog

import (
	"bufio"
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
	if d.Steps[0].Status != exec.StatusKilled || d.Error == "" {
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
