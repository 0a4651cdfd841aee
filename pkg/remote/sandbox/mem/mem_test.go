package mem_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/osiris-go/osiris/pkg/compile"
	_ "github.com/osiris-go/osiris/pkg/component/all"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote"
	"github.com/osiris-go/osiris/pkg/remote/sandbox/mem"
	"github.com/osiris-go/osiris/workspace"
)

// A package outside pkg/remote runs a manifest through the in-process
// sandbox: the written file comes back, and a second run uploads nothing.
func TestRunThroughTheMemSandbox(t *testing.T) {
	root := t.TempDir()
	for p, c := range map[string]string{
		"osiris.toml": "[project]\nname = \"mem\"\n",
		"data/in.csv": "a\n1\n2\n",
		"pipelines/p.yaml": `oml_version: "0.1.0"
name: mem
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/in.csv}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [read]
    config: {path: out/copy.csv}
`} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(c), 0o644)
	}
	ws, err := workspace.LoadWithEnv(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, ds := compile.Compile(compile.FromWorkspace(ws), filepath.Join(root, "pipelines", "p.yaml"), compile.Options{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	mdir, _, err := compile.WriteBuild(root, filepath.Join(root, "build"), filepath.Join(root, ".osiris"), m)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := remote.MakePlan(ws, m, mdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	sb := mem.New(t.TempDir())
	for i := 0; i < 2; i++ {
		var uploaded any
		res, err := remote.Run(context.Background(), remote.ClientOptions{
			Sandbox: sb, Binary: "unused", BinarySHA256: "unused", Version: "mem", Plan: plan, Manifest: m,
			Engine: exec.Options{MemoryBudget: -1, MaxParallel: 1}, RunID: exec.NewRunID(), RunDir: t.TempDir(), Masker: ws.Masker,
			Sink: sinkFunc(func(e exec.Event) {
				if e.Event == exec.EventSyncComplete {
					uploaded = e.Fields["bytes_uploaded"]
				}
			}),
		})
		if err != nil || res.Status != exec.StatusSuccess {
			t.Fatalf("run %d: %v", i, err)
		}
		if i == 1 && uploaded != int64(0) {
			t.Errorf("second run uploaded %v bytes", uploaded)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "out", "copy.csv")); len(b) == 0 {
		t.Error("out/copy.csv did not come back")
	}
	if sb.Starts() != 2 {
		t.Errorf("%d starts", sb.Starts())
	}
}

type sinkFunc func(exec.Event)

func (f sinkFunc) Emit(e exec.Event) { f(e) }
