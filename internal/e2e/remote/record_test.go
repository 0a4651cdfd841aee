package remote

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

const offline = `oml_version: "0.1.0"
name: rec
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/in.csv}
  - id: sum
    component: duckdb.processor
    mode: transform
    needs: [read]
    config: {query: "SELECT sum(a) AS s FROM input_df"}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [sum]
    config: {path: out/sum.csv}
`

// A remote run's record is a local run's: run_start names this process
// (not the worker's namespace pid 1 or 2), and fetched files get the
// mode a local run gives its files (0644, not CreateTemp's 0600).
func TestRemoteRecordIsTheClients(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Extra: "\n" + box.TOML + "\n"}, map[string]string{
		"data/in.csv": "a,b\n1,2\n3,4\n", "pipelines/p.yaml": offline})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := w.Command(ctx, "--json", "run", "pipelines/p.yaml", "--remote", box.Name)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	runDir := w.RunDirOf(e2e.Result{Stdout: out.String()})
	start := e2e.EventsNamed(e2e.ReadEvents(t, runDir), osexec.EventRunStart, "")
	if len(start) != 1 {
		t.Fatalf("%d run_start events", len(start))
	}
	if pid := fmt.Sprint(start[0].Fields["pid"]); pid != fmt.Sprint(cmd.Process.Pid) {
		t.Errorf("run_start pid %v, want the client's %d (worker's: %v)", start[0].Fields["pid"], cmd.Process.Pid, start[0].Fields["worker_pid"])
	}
	host, _ := os.Hostname()
	if start[0].Fields["host"] != host {
		t.Errorf("run_start host %v, want %s", start[0].Fields["host"], host)
	}
	files := []string{filepath.Join(w.Root, "out", "sum.csv")}
	var arts []string
	filepath.WalkDir(filepath.Join(runDir, "artifacts"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			arts = append(arts, p)
		}
		return nil
	})
	files = append(files, arts...)
	if len(arts) == 0 {
		t.Fatal("no artifacts fetched")
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v mode %v, want 0644 as a local run writes", f, err, st.Mode().Perm())
		}
	}
}

// `--remote dock` names the sandbox dock even when a folder dock/ exists.
func TestRemoteNameBesideAFolderOfThatName(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Extra: "\n[remote.dock]\nkind = \"local\"\n\n[remote.other]\nkind = \"local\"\n"}, map[string]string{
		"data/in.csv": "a,b\n1,2\n", "pipelines/p.yaml": offline, "dock/readme.txt": "not a manifest"})
	// From inside the workspace, where dock/ is a folder of the cwd.
	cmd := w.Command(context.Background(), "--json", "run", "--remote", "dock", "pipelines/p.yaml")
	cmd.Dir = w.Root
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run --remote dock: %v\n%s", err, stderr.String())
	}
	runDir := w.RunDirOf(e2e.Result{Stdout: out.String()})
	if s := e2e.EventsNamed(e2e.ReadEvents(t, runDir), osexec.EventSandboxStarted, ""); len(s) != 1 || s[0].Fields["sandbox"] != "dock" {
		t.Errorf("sandbox_started: %v, want sandbox dock", s)
	}
	// Bare --remote, two sandboxes, none the default: "local" (spec 04).
	runDir = w.MustRun("pipelines/p.yaml", "--remote")
	if s := e2e.EventsNamed(e2e.ReadEvents(t, runDir), osexec.EventSandboxStarted, ""); len(s) != 1 || s[0].Fields["sandbox"] != "local" {
		t.Errorf("sandbox_started: %v, want the local sandbox", s)
	}
}

// dir = "." or ".." would mount the workspace (with .env) writable into
// the sandbox: refused as a configuration error.
func TestLocalSandboxDirMustNotHoldTheWorkspace(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{".", "..", "./"} {
		w := e2e.NewConfiguredWorkspace(t, e2e.Config{Extra: "\n[remote.here]\nkind = \"local\"\ndir = \"" + dir + "\"\n"}, map[string]string{
			"data/in.csv": "a,b\n1,2\n", "pipelines/p.yaml": offline, ".env": "SECRET_TOKEN=abc\n"})
		r := w.Osiris("run", "pipelines/p.yaml", "--remote", "here")
		if r.ExitCode != 2 || !strings.Contains(r.Stderr, "is the workspace or a folder holding it") {
			t.Errorf("dir = %q: exit %d, want 2 refusing it\n%s", dir, r.ExitCode, r.Stderr)
		}
		if _, err := os.Stat(filepath.Join(w.Root, "cas")); err == nil {
			t.Errorf("dir = %q: the workspace became a sandbox store", dir)
		}
	}
}

// A step that needs the network in a sandbox without one says so.
func TestNoNetworkSandboxSaysSo(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{PGDB: "postgres", Extra: "\n[remote.offline]\nkind = \"local\"\nnetwork = \"none\"\n"}, map[string]string{
		"pipelines/p.yaml": `oml_version: "0.1.0"
name: nonet
steps:
  - id: read
    component: postgres.extractor
    mode: read
    config:
      connection: "@postgres.dst"
      query: "SELECT 1 AS one"
`})
	r := w.Osiris("--json", "run", "pipelines/p.yaml", "--remote", "offline")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, `network = "none"`) {
		t.Errorf("exit %d; want 1 with an error saying the sandbox has no network\n%s", r.ExitCode, r.Stderr)
	}
	if st := e2e.ReadStatus(t, w.RunDirOf(r)); !strings.Contains(st.Error, `network = "none"`) {
		t.Errorf("status.json error %q does not say the sandbox has no network", st.Error)
	}
}
