package remotetest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// Freeze stops the sandbox's running worker where it is (SIGSTOP, docker
// pause) and returns a function that lists what is left of it (processes,
// containers) at the time it is called.
type Freeze func(t *testing.T, root string) (left func() []string)

func (s Sandbox) freeze(t *testing.T, root string) func() []string {
	t.Helper()
	if s.Freeze != nil {
		return s.Freeze(t, root)
	}
	dir, _ := filepath.Abs(filepath.Join(root, ".osiris", "sandboxes", s.Name))
	return FreezeProcesses(dir)(t, root)
}

// FreezeProcesses is a Freeze for workers on this machine: every process
// whose command line names dir (the worker, or bwrap around it), and its
// descendants, gets SIGSTOP. Whatever is left when the test ends is
// killed by its pid.
func FreezeProcesses(dir string) Freeze {
	return func(t *testing.T, _ string) func() []string {
		t.Helper()
		pids := processesNaming(dir)
		if len(pids) == 0 {
			t.Fatalf("no worker process names %s", dir)
		}
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGSTOP)
		}
		alive := func() []string {
			var out []string
			for _, p := range pids {
				if b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat"); err == nil {
					// A zombie (Z) is gone but for its parent's wait.
					if f := strings.Fields(string(b)); len(f) > 2 && f[2] != "Z" {
						out = append(out, "pid "+strconv.Itoa(p)+" "+f[1]+" "+f[2])
					}
				}
			}
			return out
		}
		t.Cleanup(func() {
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
				syscall.Kill(p, syscall.SIGCONT)
			}
		})
		return alive
	}
}

// processesNaming returns the pids whose command line contains s, and all
// their descendants.
func processesNaming(s string) []int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	var roots []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 {
				if f := strings.Fields(string(st[i+1:])); len(f) > 1 {
					parent[pid], _ = strconv.Atoi(f[1])
				}
			}
		}
		cl, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.Contains(cl, []byte(s)) && bytes.Contains(cl, []byte("worker")) || bytes.Contains(cl, []byte("bwrap")) && bytes.Contains(cl, []byte(s)) {
			roots = append(roots, pid)
		}
	}
	in := map[int]bool{}
	for _, r := range roots {
		in[r] = true
	}
	for changed := true; changed; {
		changed = false
		for pid, pp := range parent {
			if !in[pid] && in[pp] {
				in[pid], changed = true, true
			}
		}
	}
	var out []int
	for p := range in {
		out = append(out, p)
	}
	return out
}

// SecondInterrupt: a second Ctrl-C while the worker is frozen (it cannot
// answer cancel) stops the run at once: exit 130, a complete record
// (status.json final, no run.lock, the end event, the index end line), and
// nothing of the sandbox left running — no worker, no container, no
// docker or ssh client.
func SecondInterrupt(t *testing.T, sb Sandbox) {
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
	left := sb.freeze(t, w.Root)
	clients := childProcesses(cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(500 * time.Millisecond) // the first signal sent cancel, which no one answers
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit: %v, want 130\n%s", err, stderr.String())
	}
	st := e2e.ReadStatus(t, runDir)
	if st.Status != osexec.StatusCancelled {
		t.Errorf("status.json: %s (%s), want cancelled", st.Status, st.Error)
	}
	if _, err := os.Stat(filepath.Join(runDir, osexec.RunLockFile)); err == nil {
		t.Error("run.lock left behind")
	}
	evs := e2e.ReadEvents(t, runDir)
	if last := evs[len(evs)-1]; !last.IsTerminal() {
		t.Errorf("events.jsonl ends with %s, not the run's end event", last.Event)
	}
	ended := false
	for _, r := range w.Index() {
		if r.RunID == st.RunID && r.Status == osexec.StatusCancelled {
			ended = true
		}
	}
	if !ended {
		t.Errorf("the run index has no end line for %s", st.RunID)
	}
	// A killed process takes a moment to be gone (reaped by its parent).
	var l []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if l = left(); len(l) == 0 {
			break
		}
	}
	if len(l) > 0 {
		t.Errorf("the frozen worker is still there after the run ended: %v", l)
	}
	for _, p := range clients {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("a process the run started is still running: %s", strings.TrimSpace(string(b)))
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

// childProcesses lists the direct children of pid (the docker or ssh
// client, bwrap).
func childProcesses(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(st, ')'); i > 0 {
			if f := strings.Fields(string(st[i+1:])); len(f) > 1 && f[1] == strconv.Itoa(pid) {
				out = append(out, p)
			}
		}
	}
	return out
}

func readProc(pid int, name string) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + name)
	return string(b)
}
