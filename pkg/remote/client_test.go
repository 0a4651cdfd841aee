package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/workspace"
)

// scriptSandbox's worker is a function speaking frames over pipes: a
// worker that misbehaves in exactly one way.
type scriptSandbox struct {
	worker func(dec *Decoder, enc *Encoder)
}

func (s scriptSandbox) Describe() sandbox.Description {
	return sandbox.Description{Name: "script", Kind: "test", Isolation: "none"}
}

func (s scriptSandbox) Start(ctx context.Context, _ sandbox.StartOptions) (sandbox.Process, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &pipeProcess{in: inW, out: outR, done: make(chan struct{})}
	go func() {
		s.worker(NewDecoder(inR), NewEncoder(outW))
		outW.Close()
		inR.Close()
		close(p.done)
	}()
	return p, nil
}

// inprocWorkspace compiles a one-step pipeline reading data/in.csv.
func inprocWorkspace(t *testing.T, extra map[string]string) (*workspace.Workspace, *compile.Manifest, *Plan) {
	t.Helper()
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
`,
	}
	for p, c := range extra {
		files[p] = c
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
	return ws, m, plan
}

func runWith(ctx context.Context, t *testing.T, sb sandbox.Sandbox, ws *workspace.Workspace, m *compile.Manifest, plan *Plan) (*exec.Result, error) {
	return Run(ctx, ClientOptions{
		Sandbox: sb, Binary: "unused", BinarySHA256: "unused", Version: "test", Plan: plan, Manifest: m,
		Engine: exec.Options{MemoryBudget: -1, MaxParallel: 1}, RunID: exec.NewRunID(), RunDir: t.TempDir(),
		Sink: &eventLog{}, Masker: ws.Masker, HandshakeTimeout: 5 * time.Second, CancelGrace: time.Second,
	})
}

// A session that ends early (a refused hello) while the worker goes on
// writing must not leave the frame reader blocked, holding frames, after
// Run returns.
func TestSessionEndingEarlyLeaksNoReader(t *testing.T) {
	ws, m, plan := inprocWorkspace(t, nil)
	base := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		// A worker that answers hello with a flood of frames the client does
		// not expect: the session ends at the first one, the worker writes on.
		sb := scriptSandbox{worker: func(dec *Decoder, enc *Encoder) {
			dec.Decode()
			for j := 0; j < 200; j++ {
				if enc.Encode(NewFrame(TypeEvent, 0, 99, struct{}{})) != nil {
					return
				}
			}
		}}
		if _, err := runWith(context.Background(), t, sb, ws, m, plan); err == nil || !strings.Contains(err.Error(), "expected hello") {
			t.Fatalf("run: %v, want the unexpected frame refused", err)
		}
	}
	// Goroutines end asynchronously after Run returns: wait for them.
	deadline := time.Now().Add(20 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left after 5 early-ended sessions (%d before):\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

// Ctrl-C during an upload ends it even when the worker stopped reading
// (a frozen sandbox): the run is cancelled, not waiting for the blob.
func TestCancelDuringUploadEndsIt(t *testing.T) {
	ws, m, plan := inprocWorkspace(t, map[string]string{"data/in.csv": "id,v\n" + strings.Repeat("1,2\n", 1<<20)})
	stalled := make(chan struct{})
	sb := scriptSandbox{worker: func(dec *Decoder, enc *Encoder) {
		f, _ := dec.Decode()
		enc.Encode(NewFrame(TypeHello, 0, f.ID, Hello{Protocol: ProtocolVersion}))
		for {
			f, err := dec.Decode()
			if err != nil {
				return
			}
			if f.Type == TypeHave {
				var h Hashes
				f.DecodeBody(&h)
				enc.Encode(NewFrame(TypeMissing, 0, f.ID, h))
				break
			}
		}
		close(stalled) // reads nothing more: the client's writes block
		<-time.After(time.Minute)
	}}
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() { <-stalled; time.Sleep(100 * time.Millisecond); cancel(errors.New("interrupt")) }()
	done := make(chan error, 1)
	go func() { _, err := runWith(ctx, t, sb, ws, m, plan); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, exec.ErrCancelled) {
			t.Errorf("run: %v, want cancelled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Ctrl-C did not end an upload to a worker that stopped reading")
	}
}

// The worker is not trusted with the client's disk: an artifact path
// leaving the run directory is refused before anything reads it.
func TestWorkerArtifactPathOutsideRunDirRefused(t *testing.T) {
	ws, m, plan := inprocWorkspace(t, nil)
	for _, bad := range []string{"../../../../etc/passwd", "artifacts/../../x", "/etc/passwd", "status.json"} {
		sb := scriptSandbox{worker: func(dec *Decoder, enc *Encoder) {
			for {
				f, err := dec.Decode()
				if err != nil {
					return
				}
				switch f.Type {
				case TypeHello:
					enc.Encode(NewFrame(TypeHello, 0, f.ID, Hello{Protocol: ProtocolVersion}))
				case TypeHave:
					enc.Encode(NewFrame(TypeMissing, 0, f.ID, Hashes{Hashes: []string{}}))
				case TypeRun:
					res := &exec.Result{Status: exec.StatusSuccess, Steps: []exec.StepResult{{ID: "read", Status: exec.StatusSuccess,
						Artifact: &exec.Artifact{Path: bad, SHA256: "sha256:" + strings.Repeat("0", 64)}}}}
					enc.Encode(NewFrame(TypeDone, 0, f.ID, Done{Status: exec.StatusSuccess, Result: wireResult(res)}))
				case TypeBye:
					return
				}
			}
		}}
		_, err := runWith(context.Background(), t, sb, ws, m, plan)
		if err == nil || !strings.Contains(err.Error(), "outside the run's artifacts/") {
			t.Errorf("artifact path %q: %v, want it refused", bad, err)
		}
	}
}

// A run of ~15k files (more than one frame's worth of hashes and paths)
// syncs and runs.
func TestFifteenThousandFilesSync(t *testing.T) {
	ws, m, plan := inprocWorkspace(t, nil)
	dir := filepath.Join(ws.Root, "many")
	os.MkdirAll(dir, 0o755)
	for i := 0; i < 15000; i++ {
		p := filepath.Join(dir, fmt.Sprintf("file-with-a-long-name-%05d.csv", i))
		os.WriteFile(p, []byte(fmt.Sprintf("n\n%d\n", i)), 0o644)
		plan.Files[fmt.Sprintf("ws/many/file-with-a-long-name-%05d.csv", i)] = p
	}
	log := &eventLog{}
	res, err := Run(context.Background(), ClientOptions{
		Sandbox: pipeSandbox{dir: t.TempDir()}, Binary: "unused", BinarySHA256: "unused", Version: "test", Plan: plan, Manifest: m,
		Engine: exec.Options{MemoryBudget: -1, MaxParallel: 1}, RunID: exec.NewRunID(), RunDir: t.TempDir(),
		Sink: log, Masker: ws.Masker,
	})
	if err != nil || res.Status != exec.StatusSuccess {
		t.Fatalf("run with 15k files: %v", err)
	}
	if s := log.named(exec.EventSyncComplete); len(s) != 1 || s[0].Fields["files"].(int) < 15000 {
		t.Errorf("sync_complete: %v", s)
	}
}

// Connection values keep their types across the protocol: a port stays an
// integer (not JSON's float), nested tables keep integers too.
func TestConnectionValuesKeepTheirTypes(t *testing.T) {
	in := &workspace.Connection{Family: "postgres", Alias: "dst", Values: map[string]any{
		"host": "db", "port": int64(5432), "ratio": 0.5, "tls": true, "big": int64(1 << 60),
		"options": map[string]any{"timeout": int64(30), "names": []any{"a", int64(2)}},
	}}
	wc, err := wireConnection(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(wc)
	var back WireConnection
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	out, err := back.connection()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n in %#v\nout %#v", in.Values, out.Values)
	}
}

// The result travels as the protocol's type: every field of exec.Result
// survives the round trip (a field added to the engine's struct and not
// to the protocol fails here).
func TestResultRoundTrip(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	in := &exec.Result{RunID: "r", Status: "failed", Started: now, Ended: now, DurationMs: 3, RowsTotal: 4, FailedStep: "b", Error: "e",
		Steps: []exec.StepResult{{ID: "a", Component: "c", Status: "success", Started: &now, Ended: &now, RowsIn: 1, RowsOut: 2, DurationMs: 5,
			Error: "x", Artifact: &exec.Artifact{Path: "artifacts/a/output.parquet", Rows: 2, Bytes: 9, SHA256: "sha256:x", TableDigest: "d",
				Schema: []exec.Column{{Name: "n", Type: "int64", Nullable: true}}},
			Inputs: []exec.InputSource{{Step: "z", Names: []string{"input_df"}, Source: "memory", Rows: 1, Bytes: 8}},
			Files:  []string{"out/x.csv"}, PeakMemoryBytes: 7, Cache: "miss", CacheReason: "r", ReusedRun: "u"}}}
	b, _ := json.Marshal(wireResult(in))
	var back RunResult
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	out := back.result()
	got, _ := json.Marshal(out)
	want, _ := json.Marshal(in)
	if string(got) != string(want) {
		t.Errorf("round trip:\n got %s\nwant %s", got, want)
	}
}

// Sync hashes workspace files through ClientOptions.HashFile (the step
// cache's memo: unchanged files are not read again); what it uploads is
// still verified, so a stale memo cannot put a wrong blob under a name.
func TestSyncUsesTheHashMemoAndStillVerifies(t *testing.T) {
	ws, m, plan := inprocWorkspace(t, nil)
	cache := exec.NewStepCache(ws.Root, filepath.Join(ws.Root, ".osiris"))
	calls := 0
	run := func(hash func(string) (string, error)) error {
		_, err := Run(context.Background(), ClientOptions{
			Sandbox: pipeSandbox{dir: t.TempDir()}, Binary: "unused", BinarySHA256: "unused", Version: "test", Plan: plan, Manifest: m,
			Engine: exec.Options{MemoryBudget: -1, MaxParallel: 1}, RunID: exec.NewRunID(), RunDir: t.TempDir(),
			Sink: &eventLog{}, Masker: ws.Masker, HashFile: hash,
		})
		return err
	}
	if err := run(func(p string) (string, error) { calls++; return cache.FileHash(p) }); err != nil {
		t.Fatal(err)
	}
	if calls != len(plan.Files) {
		t.Errorf("HashFile called %d times for %d files", calls, len(plan.Files))
	}
	stale := sum([]byte("not the content"))
	err := run(func(p string) (string, error) {
		if strings.HasSuffix(p, "in.csv") {
			return "sha256:" + stale, nil
		}
		return cache.FileHash(p)
	})
	if err == nil || !strings.Contains(err.Error(), "changed while it was being uploaded") {
		t.Errorf("a stale hash: %v, want the upload refused", err)
	}
}
