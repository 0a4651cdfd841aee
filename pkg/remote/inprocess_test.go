package remote

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/osiris-go/osiris/pkg/compile"
	_ "github.com/osiris-go/osiris/pkg/component/all"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/workspace"
)

// pipeSandbox runs the worker in this process (Serve over pipes), so the
// race detector sees client and worker together.
type pipeSandbox struct{ dir string }

func (s pipeSandbox) Describe() sandbox.Description {
	return sandbox.Description{Name: "mem", Kind: "test", Isolation: "none", Where: s.dir}
}

func (s pipeSandbox) Start(ctx context.Context, _ sandbox.StartOptions) (sandbox.Process, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &pipeProcess{in: inW, out: outR, done: make(chan struct{})}
	go func() {
		p.err = Serve(ctx, inR, outW, WorkerOptions{Dir: s.dir, Version: "test", Stderr: io.Discard})
		outW.Close()
		inR.Close()
		close(p.done)
	}()
	return p, nil
}

type pipeProcess struct {
	in   *io.PipeWriter
	out  *io.PipeReader
	done chan struct{}
	err  error
	once sync.Once
}

func (p *pipeProcess) Stdin() io.WriteCloser { return p.in }
func (p *pipeProcess) Stdout() io.Reader     { return p.out }
func (p *pipeProcess) Wait() error           { <-p.done; return p.err }
func (p *pipeProcess) Kill() error           { p.in.Close(); p.out.Close(); return nil }

type eventLog struct {
	mu  sync.Mutex
	evs []exec.Event
}

func (l *eventLog) Emit(e exec.Event) { l.mu.Lock(); l.evs = append(l.evs, e); l.mu.Unlock() }

func (l *eventLog) named(name string) []exec.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []exec.Event
	for _, e := range l.evs {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

func TestClientAndWorkerInProcess(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"osiris.toml": "[project]\nname = \"inproc\"\n",
		"data/in.csv": "id,name\n1,a\n2,b\n3,c\n",
		"pipelines/p.yaml": `oml_version: "0.1.0"
name: inproc
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/in.csv}
  - id: shout
    component: duckdb.processor
    mode: transform
    needs: [read]
    config: {query: "SELECT id, upper(name) AS name FROM input_df ORDER BY id"}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [shout]
    config: {path: out/shout.csv}
`,
	}
	for p, c := range files {
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
	plan, err := MakePlan(ws, m, mdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plan.Files["ws/data/in.csv"]; !ok || plan.Outputs["ws/out/shout.csv"] == "" {
		t.Fatalf("plan: files %v outputs %v", plan.Files, plan.Outputs)
	}
	sb := pipeSandbox{dir: t.TempDir()}
	run := func() (*eventLog, string) {
		log := &eventLog{}
		runDir := t.TempDir()
		res, err := Run(context.Background(), ClientOptions{
			Sandbox: sb, Binary: "unused", BinarySHA256: "unused", Version: "test", Plan: plan, Manifest: m,
			Engine: exec.Options{MemoryBudget: -1, MaxParallel: 2}, RunID: exec.NewRunID(), RunDir: runDir,
			Sink: log, Masker: ws.Masker,
		})
		if err != nil || res.Status != exec.StatusSuccess {
			t.Fatalf("run: %v %+v", err, res)
		}
		for _, s := range res.Steps {
			if s.Artifact == nil {
				continue
			}
			h, _, err := HashFile(filepath.Join(runDir, filepath.FromSlash(s.Artifact.Path)))
			if err != nil || "sha256:"+h != s.Artifact.SHA256 {
				t.Errorf("artifact of %s: %v %s, want %s", s.ID, err, h, s.Artifact.SHA256)
			}
		}
		return log, runDir
	}
	first, _ := run()
	if got, _ := os.ReadFile(filepath.Join(root, "out", "shout.csv")); string(got) == "" {
		t.Error("the written CSV did not come back to the workspace")
	}
	if last := first.evs[len(first.evs)-1]; last.Event != exec.EventRunComplete {
		t.Errorf("last event %s, want run_complete", last.Event)
	}
	for i, e := range first.evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d (%s) has seq %d", i, e.Event, e.Seq)
		}
	}
	second, _ := run()
	sync := second.named(exec.EventSyncComplete)
	if len(sync) != 1 || sync[0].Fields["bytes_uploaded"] != int64(0) {
		t.Errorf("second run's sync: %v; want 0 bytes uploaded", sync)
	}
}

// An input blob edited in the sandbox's store between two runs is not
// served: the second run uploads it again and computes the right result.
func TestCorruptedStoreBlobIsUploadedAgain(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"osiris.toml": "[project]\nname = \"inproc\"\n",
		"data/in.csv": "id,v\n1,10\n2,20\n",
		"pipelines/p.yaml": `oml_version: "0.1.0"
name: inproc
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/in.csv}
  - id: total
    component: duckdb.processor
    mode: transform
    needs: [read]
    config: {query: "SELECT sum(v) AS s FROM input_df"}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [total]
    config: {path: out/total.csv}
`,
	}
	for p, c := range files {
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
	plan, err := MakePlan(ws, m, mdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	sbDir := t.TempDir()
	sb := pipeSandbox{dir: sbDir}
	run := func() *eventLog {
		log := &eventLog{}
		res, err := Run(context.Background(), ClientOptions{
			Sandbox: sb, Binary: "unused", BinarySHA256: "unused", Version: "test", Plan: plan, Manifest: m,
			Engine: exec.Options{MemoryBudget: -1, MaxParallel: 1}, RunID: exec.NewRunID(), RunDir: t.TempDir(),
			Sink: log, Masker: ws.Masker,
		})
		if err != nil || res.Status != exec.StatusSuccess {
			t.Fatalf("run: %v %+v", err, res)
		}
		return log
	}
	run()
	h := sum([]byte(files["data/in.csv"]))
	blob := filepath.Join(sbDir, "cas", "sha256", h[:2], h)
	os.Chmod(blob, 0o644)
	if err := os.WriteFile(blob, []byte("id,v\n1,90\n2,90\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	log := run()
	if got, _ := os.ReadFile(filepath.Join(root, "out", "total.csv")); !strings.Contains(string(got), "30") {
		t.Errorf("out/total.csv = %q after a corrupted blob; want the sum 30", got)
	}
	sync := log.named(exec.EventSyncComplete)
	if len(sync) != 1 || sync[0].Fields["bytes_uploaded"] == int64(0) || sync[0].Fields["blobs_corrupted"] != 1 {
		t.Errorf("sync_complete after a corrupted blob: %v; want the blob uploaded again and blobs_corrupted 1", sync)
	}
}
