package remote

import (
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/e2e/remotetest"
)

// box is the local sandbox under test; its directory is the default,
// .osiris/sandboxes/box inside each test workspace.
var box = remotetest.Sandbox{Name: "box", TOML: "[remote.box]\nkind = \"local\"\n"}

func TestLocalParity(t *testing.T) { t.Parallel(); remotetest.Parity(t, box) }

func TestLocalSeedBug(t *testing.T) { t.Parallel(); remotetest.SeedBug(t, box) }

func TestLocalFaults(t *testing.T) { t.Parallel(); remotetest.Faults(t, box) }

func TestLocalIncrementalSync(t *testing.T) { t.Parallel(); remotetest.Incremental(t, box) }

func TestLocalSecretsCanary(t *testing.T) { t.Parallel(); remotetest.SecretsCanary(t, box) }

func TestLocalInterrupt(t *testing.T) { t.Parallel(); remotetest.Interrupt(t, box) }

// Without bubblewrap the local kind is a plain child, and says so; the run
// is the same.
func TestLocalPlainChild(t *testing.T) {
	t.Parallel()
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Extra: "\n" + box.TOML + "\n"}, map[string]string{
		"data/in.csv": "a,b\n1,2\n3,4\n",
		"pipelines/p.yaml": `oml_version: "0.1.0"
name: plain
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
`})
	w.Env = append(w.Env, "OSIRIS_SANDBOX_NO_BWRAP=1")
	runDir := w.MustRun("pipelines/p.yaml", "--remote", box.Name)
	started := e2e.EventsNamed(e2e.ReadEvents(t, runDir), "sandbox_started", "")
	if len(started) != 1 || started[0].Fields["isolation"] != "plain" {
		t.Errorf("sandbox_started: %v; want isolation plain", started)
	}
	if st := e2e.ReadStatus(t, runDir); st.Status != "success" || st.Step(t, "sum").RowsOut != 1 {
		t.Errorf("plain run: %s %+v", st.Status, st.Steps)
	}
}

func TestLocalStoreFaults(t *testing.T) { t.Parallel(); remotetest.StoreFaults(t, box) }

func TestLocalSecondInterrupt(t *testing.T) { t.Parallel(); remotetest.SecondInterrupt(t, box) }

func TestLocalKillFaults(t *testing.T) {
	t.Parallel()
	remotetest.KillFaults(t, remotetest.Sandbox{Name: "bounded", TOML: "[remote.bounded]\nkind = \"local\"\n" + remotetest.BoundTOML})
}
