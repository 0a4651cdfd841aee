package sandboxes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

// kinds are the sandbox kinds of this package, each with a way to list
// the files its sandbox holds.
type kind struct {
	name   string
	remote func(t *testing.T) (toml string, files func() map[string][]byte)
}

var kinds = []kind{
	{"docker", func(t *testing.T) (string, func() map[string][]byte) {
		toml, vol := dockerRemote(t, "box")
		return toml, func() map[string][]byte { return volumeFiles(t, vol) }
	}},
	{"ssh", func(t *testing.T) (string, func() map[string][]byte) {
		toml, dir := sshRemote(t, "box", nil)
		return toml, func() map[string][]byte { return dirFiles(t, dir) }
	}},
}

// A remote run writes the writer's output back into the workspace, and the
// binary travels once per version and sandbox: the second, unchanged run
// uploads no blob byte and leaves the installed binary as it was.
func TestRemoteRunAndIncrementalSync(t *testing.T) {
	bin := e2e.Binary(t)
	sha, err := fileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			toml, files := k.remote(t)
			w := offlineWorkspace(t, toml)
			var runDirs []string
			var installed []os.FileInfo // ssh: the binary's file after each run
			for i := 0; i < 2; i++ {
				runDirs = append(runDirs, w.MustRun("pipelines/offline.yaml", "--remote", "box"))
				if k.name == "ssh" {
					fi, err := os.Stat(filepath.Join(sharedSSHDir, "bin", "osiris-"+sha))
					if err != nil {
						t.Fatal(err)
					}
					installed = append(installed, fi)
				}
			}
			if len(installed) == 2 && (!os.SameFile(installed[0], installed[1]) || !installed[0].ModTime().Equal(installed[1].ModTime())) {
				t.Errorf("bin/osiris-%s was replaced by the second run (uploaded again)", sha)
			}
			got, err := os.ReadFile(filepath.Join(w.Root, "out", "totals.csv"))
			if err != nil || string(got) != "region,n,total\neast,1,7\nnorth,2,15\nsouth,1,20\n" {
				t.Errorf("out/totals.csv = %q, %v", got, err)
			}
			for i, dir := range runDirs {
				ev := e2e.ReadEvents(t, dir)
				started := e2e.EventsNamed(ev, "sandbox_started", "")
				if len(started) != 1 || started[0].Fields["kind"] != k.name {
					t.Errorf("run %d: sandbox_started = %+v, want one of kind %s", i, started, k.name)
				}
				sync := e2e.EventsNamed(ev, "sync_complete", "")
				if len(sync) != 1 {
					t.Fatalf("run %d: %d sync_complete events", i, len(sync))
				}
				if up := fmt.Sprint(sync[0].Fields["bytes_uploaded"]); i == 1 && up != "0" {
					t.Errorf("second unchanged run uploaded %s blob bytes, want 0", up)
				}
				binUp, ok := sync[0].Fields["binary_bytes_uploaded"]
				if !ok {
					t.Errorf("run %d: sync_complete has no binary_bytes_uploaded: %v", i, sync[0].Fields)
				}
				if up := fmt.Sprint(binUp); i == 1 && up != "0" {
					t.Errorf("second run uploaded the binary again (%s bytes)", up)
				}
			}
			// Exactly one binary, named by the hash of the one we run.
			var bins []string
			for name := range files() {
				if strings.Contains(name, "bin/") {
					bins = append(bins, name)
				}
			}
			if len(bins) != 1 || !strings.HasSuffix(bins[0], "bin/osiris-"+sha) {
				t.Errorf("the sandbox holds binaries %v, want only bin/osiris-%s", bins, sha)
			}
		})
	}
}

// Faults before the worker runs: a clear error naming the cause, exit 2
// for configuration (1 for an unreachable host), within 10 s, and a
// complete local run directory whose status.json says failed.
func TestStartFaultsNameTheCause(t *testing.T) {
	closed := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}()
	emptyKnownHosts := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(emptyKnownHosts, nil, 0o600)
	tests := []struct {
		name   string
		remote func(t *testing.T) string
		exit   int
		want   []string
	}{
		{"docker missing image", func(t *testing.T) string {
			toml, _ := dockerRemote(t, "box")
			return strings.Replace(toml, "image = ", "image = \"osiris-no-such-image:0\"\n# was: ", 1)
		}, 2, []string{`docker image "osiris-no-such-image:0" not found`, "osiris never pulls"}},
		{"ssh unreachable host", func(t *testing.T) string {
			toml, _ := sshRemote(t, "box", func(_ *testenv.SSH, port *int) { *port = closed })
			return toml
		}, 1, []string{"unreachable", "Connection refused"}},
		{"ssh bad key", func(t *testing.T) string {
			toml, _ := sshRemote(t, "box", func(s *testenv.SSH, _ *int) { s.Key = s.BadKey })
			return toml
		}, 2, []string{"the server refused the key", "Permission denied"}},
		{"ssh unknown host key", func(t *testing.T) string {
			toml, _ := sshRemote(t, "box", func(s *testenv.SSH, _ *int) { s.KnownHosts = emptyKnownHosts })
			return toml
		}, 2, []string{"the host key is not known"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := offlineWorkspace(t, tt.remote(t))
			start := time.Now()
			r := w.Osiris("--json", "run", "pipelines/offline.yaml", "--remote", "box")
			took := time.Since(start)
			if r.ExitCode != tt.exit {
				t.Errorf("exit %d, want %d\nstderr: %s", r.ExitCode, tt.exit, r.Stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
				}
			}
			if took > 10*time.Second {
				t.Errorf("took %s, want under 10 s", took)
			}
			dir := w.RunDirOf(r)
			st := e2e.ReadStatus(t, dir)
			if st.Status != "failed" || !strings.Contains(st.Error, tt.want[0]) {
				t.Errorf("status.json: status %q error %q", st.Status, st.Error)
			}
			if len(e2e.EventsNamed(e2e.ReadEvents(t, dir), "run_error", "")) != 1 {
				t.Errorf("events.jsonl has no run_error")
			}
		})
	}
}

// Hermetic: in a container, a DuckDB query cannot read a workspace file
// that was not synced, nor a file of the client's home directory.
func TestDockerIsHermetic(t *testing.T) {
	toml, _ := dockerRemote(t, "box")
	marker := "HERMETIC" + randomHex(t, 8)
	w := offlineWorkspace(t, toml)
	w.Write("private/unsynced.csv", "secret\n"+marker+"\n")
	targets := []string{filepath.Join(w.Root, "private", "unsynced.csv")}
	if home, err := os.UserHomeDir(); err == nil {
		if f, err := os.CreateTemp(home, ".osiris-hermetic-*.csv"); err == nil {
			f.WriteString("secret\n" + marker + "\n")
			f.Close()
			t.Cleanup(func() { os.Remove(f.Name()) })
			targets = append(targets, f.Name())
		}
	}
	for i, target := range targets {
		w.Write(fmt.Sprintf("pipelines/peek%d.yaml", i), fmt.Sprintf(`oml_version: "0.1.0"
name: sbx-peek%d
steps:
  - id: extract-sales
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/sales.csv
  - id: peek
    component: duckdb.processor
    mode: transform
    needs: [extract-sales]
    config:
      query: "SELECT * FROM read_csv('%s')"
  - id: write-peek
    component: filesystem.csv_writer
    mode: write
    needs: [peek]
    config:
      path: out/peek.csv
`, i, target))
		r := w.Osiris("--json", "run", fmt.Sprintf("pipelines/peek%d.yaml", i), "--remote", "box")
		if r.ExitCode != 1 {
			t.Errorf("%s: exit %d, want 1 (the file must not be readable in the container)\n%s", target, r.ExitCode, r.Stderr)
		}
		if strings.Contains(r.Stdout+r.Stderr, marker) {
			t.Errorf("%s: its content reached the output", target)
		}
		if b, err := os.ReadFile(filepath.Join(w.Root, "out", "peek.csv")); err == nil && strings.Contains(string(b), marker) {
			t.Errorf("%s was read in the container: out/peek.csv holds its content", target)
		}
		st := e2e.ReadStatus(t, w.RunDirOf(r))
		if st.Status != "failed" || st.FailedStep != "peek" {
			t.Errorf("%s: status %q failed step %q (%s)", target, st.Status, st.FailedStep, st.Error)
		}
	}
}

func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
