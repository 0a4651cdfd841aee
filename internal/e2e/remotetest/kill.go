package remotetest

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	osexec "github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/pkg/remote/wire"
)

// Live lists what of the sandbox still runs (worker processes, containers).
type Live func(t *testing.T, root string) []string

func (s Sandbox) live(t *testing.T, root string) []string {
	t.Helper()
	if s.Live != nil {
		return s.Live(t, root)
	}
	dir, _ := filepath.Abs(filepath.Join(root, ".osiris", "sandboxes", s.Name))
	return LiveProcesses(dir)(t, root)
}

// LiveProcesses is a Live for workers on this machine: the processes whose
// command line names dir, and their descendants (zombies excepted).
func LiveProcesses(dir string) Live {
	return func(t *testing.T, _ string) []string {
		var out []string
		for _, p := range processesNaming(dir) {
			if st := procState(p); st != "" && st != "Z" {
				out = append(out, "pid "+strconv.Itoa(p)+" "+st)
			}
		}
		return out
	}
}

func procState(pid int) string {
	b := readProc(pid, "stat")
	if i := strings.LastIndexByte(b, ')'); i > 0 {
		if f := strings.Fields(b[i+1:]); len(f) > 0 {
			return f[0]
		}
	}
	return ""
}

// BoundTOML is the [remote] keys KillFaults needs in the sandbox's table:
// a store bound small enough to check.
const BoundTOML = "max_store = \"4MiB\"\nkeep_runs = 1\n"

// KillFaults: the worker killed mid-step and the worker killed in the
// middle of an upload. Each ends the run with an error naming the cause
// and a complete record; nothing of the sandbox keeps running; and after
// the next run (which succeeds) the sandbox holds no run tree and no
// partial upload, and its store is under its bound (sb.TOML must hold
// BoundTOML).
func KillFaults(t *testing.T, sb Sandbox) {
	for _, tc := range []struct {
		name  string
		slow  bool
		big   bool
		upP   func(p *proxy, f *wire.Frame) *wire.Frame
		down  func(p *proxy, f *wire.Frame) bool
		cause []string
	}{
		{name: "worker killed mid-step", slow: true,
			down: func(p *proxy, f *wire.Frame) bool {
				if isEvent(f, osexec.EventStepStart, "crunch") {
					p.mark()
					p.inner.Kill()
				}
				return true
			},
			cause: []string{"killed"}},
		{name: "upload killed midway", big: true,
			upP: func(p *proxy, f *wire.Frame) *wire.Frame {
				if f.Type == wire.TypeData && len(f.Payload) == wire.ChunkBytes {
					p.cutOnce.Do(func() { p.mark(); p.inner.Kill() })
				}
				return f
			},
			cause: []string{"uploading in.csv", "killed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("id,v\n")
			rows := 500
			if tc.big {
				rows = 600000 // 2.4 MB: several data frames, the kill strikes after the first
			}
			for i := 0; i < rows; i++ {
				b.WriteString("1,2\n")
			}
			fmt.Fprintf(&b, "%d,2\n", time.Now().UnixNano())
			w := e2e.NewConfiguredWorkspace(t, e2e.Config{MaxParallel: 1, Extra: "\n" + sb.TOML + "\n"},
				map[string]string{"data/in.csv": b.String(),
					"pipelines/slow.yaml":  strings.Replace(faultPipeline, "QUERY", "SELECT count(*) AS n, sum(r.range % 7) AS s FROM input_df, range(4000000000) r", 1),
					"pipelines/quick.yaml": strings.Replace(faultPipeline, "QUERY", "SELECT count(*) AS n FROM input_df", 1)})
			pipeline := "pipelines/quick.yaml"
			if tc.slow {
				pipeline = "pipelines/slow.yaml"
			}
			err, runDir, _ := inProcess(t, w, sb, pipeline, func(inner sandbox.Sandbox) sandbox.Sandbox {
				return &faultSandbox{Sandbox: inner, upP: tc.upP, down: tc.down}
			})
			for _, c := range tc.cause {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error does not say %q:\n%s", c, err)
				}
			}
			checkFailedRecord(t, w, runDir)
			var left []string
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if left = sb.live(t, w.Root); len(left) == 0 {
					break
				}
			}
			if len(left) > 0 {
				t.Errorf("still running after the run ended: %v", left)
			}
			// The next run succeeds and leaves the sandbox bounded.
			w.MustRun("pipelines/quick.yaml", "--remote", sb.Name)
			checkBounded(t, sb, w.Root, 4<<20)
		})
	}
}

// checkBounded lists the sandbox directory: no run tree, no partial
// upload, and at most max bytes of blobs.
func checkBounded(t *testing.T, sb Sandbox, root string, max int64) {
	t.Helper()
	out := sb.shell(t, root, "mkdir -p runs tmp cas; ls -lR runs tmp cas")
	var section string
	var cas int64
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, ":") {
			section = strings.SplitN(strings.TrimSuffix(line, ":"), "/", 2)[0]
			continue
		}
		f := strings.Fields(line)
		if len(f) < 9 || line[0] == 't' {
			continue
		}
		switch section {
		case "runs", "tmp":
			t.Errorf("%s/ holds %s after the next run ended", section, f[len(f)-1])
		case "cas":
			if line[0] == '-' {
				n, _ := strconv.ParseInt(f[4], 10, 64)
				cas += n
			}
		}
	}
	if cas > max {
		t.Errorf("the store holds %d bytes, over its bound of %d", cas, max)
	}
}
