package remote

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

// Hermetic: in the bubblewrap sandbox a pipeline's DuckDB query can read
// neither a workspace file that was not synced nor the client's home
// directory, while the synced input is there.
func TestLocalBwrapIsHermetic(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bwrap"); err != nil {
		testenv.Need(t, "bubblewrap (apt-get install bubblewrap)")
	}
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "credentials.csv"), []byte("k,v\naws,secret\n"), 0o600)
	pipeline := func(path string) string {
		return `oml_version: "0.1.0"
name: hermetic
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/synced.csv}
  - id: peek
    component: duckdb.processor
    mode: transform
    needs: [extract]
    config:
      query: "SELECT * FROM read_csv('` + path + `')"
`
	}
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Extra: "\n" + box.TOML + "\n"}, map[string]string{
		"data/synced.csv":   "a,b\n1,2\n",
		"data/unsynced.csv": "k,v\nnot,synced\n",
	})
	w.Env = append(w.Env, "HOME="+home)
	for name, path := range map[string]string{
		"unsynced workspace file": filepath.Join(w.Root, "data", "unsynced.csv"),
		"the client's home":       filepath.Join(home, "credentials.csv"),
	} {
		w.Write("pipelines/peek.yaml", pipeline(path))
		r := w.Osiris("--json", "run", "pipelines/peek.yaml", "--remote", box.Name)
		if r.ExitCode != 1 {
			t.Fatalf("%s: exit %d, want 1 (the query must fail)\n%s\n%s", name, r.ExitCode, r.Stdout, r.Stderr)
		}
		runDir := w.RunDirOf(r)
		st := e2e.ReadStatus(t, runDir)
		if st.FailedStep != "peek" || st.Step(t, "extract").Status != "success" {
			t.Errorf("%s: failed step %q (extract %s); want peek failing after extract read the synced file", name, st.FailedStep, st.Step(t, "extract").Status)
		}
		if strings.Contains(r.Stdout, "not,synced") || strings.Contains(r.Stdout, "secret") {
			t.Errorf("%s: the sandbox read it", name)
		}
		started := e2e.EventsNamed(e2e.ReadEvents(t, runDir), "sandbox_started", "")
		if len(started) != 1 || started[0].Fields["isolation"] != "bwrap" {
			t.Errorf("%s: sandbox_started %v; want isolation bwrap", name, started)
		}
	}
}
