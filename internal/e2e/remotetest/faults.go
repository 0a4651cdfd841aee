package remotetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
	osexec "github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	_ "github.com/osiris-go/osiris/pkg/remote/sandbox/docker" // every kind, as the binary has them
	_ "github.com/osiris-go/osiris/pkg/remote/sandbox/local"
	_ "github.com/osiris-go/osiris/pkg/remote/sandbox/ssh"
	"github.com/osiris-go/osiris/pkg/remote/wire"
	"github.com/osiris-go/osiris/workspace"

	_ "github.com/osiris-go/osiris/pkg/component/all" // the components the worker's manifest names
)

// faultSandbox wraps a sandbox so that its frames pass through a proxy
// that can corrupt, rewrite, cut or kill: what a bad network or a crash
// does to a real worker.
type faultSandbox struct {
	sandbox.Sandbox
	up   func(f *wire.Frame) *wire.Frame    // client → worker
	down func(p *proxy, f *wire.Frame) bool // worker → client; false: do not forward
	// upP is up with the proxy (to kill the worker mid-upload).
	upP func(p *proxy, f *wire.Frame) *wire.Frame
	// started receives the proxy once the worker runs.
	started chan *proxy
}

func (s *faultSandbox) Start(ctx context.Context, opts sandbox.StartOptions) (sandbox.Process, error) {
	p, err := s.Sandbox.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	up := func(_ *proxy, f *wire.Frame) *wire.Frame { return f }
	switch {
	case s.upP != nil:
		up = s.upP
	case s.up != nil:
		up = func(_ *proxy, f *wire.Frame) *wire.Frame { return s.up(f) }
	}
	px := newProxy(p, up, s.down)
	if s.started != nil {
		s.started <- px
	}
	return px, nil
}

// proxy is a sandbox.Process whose stdio is relayed frame by frame.
type proxy struct {
	inner       sandbox.Process
	inW         *io.PipeWriter
	outR        *io.PipeReader
	outW        *io.PipeWriter
	cutOnce     sync.Once
	corruptOnce sync.Once
	// faultAt is when the fault was injected.
	mu      sync.Mutex
	faultAt time.Time
}

func newProxy(inner sandbox.Process, up func(*proxy, *wire.Frame) *wire.Frame, down func(*proxy, *wire.Frame) bool) *proxy {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &proxy{inner: inner, inW: inW, outR: outR, outW: outW}
	go func() {
		dec, enc := wire.NewDecoder(inR), wire.NewEncoder(inner.Stdin())
		for {
			f, err := dec.Decode()
			if err != nil {
				inner.Stdin().Close()
				return
			}
			f = up(p, f)
			if f != nil && enc.Encode(f) != nil {
				inR.CloseWithError(errors.New("worker stdin closed"))
				return
			}
		}
	}()
	go func() {
		dec, enc := wire.NewDecoder(inner.Stdout()), wire.NewEncoder(outW)
		for {
			f, err := dec.Decode()
			if err != nil {
				outW.CloseWithError(err)
				return
			}
			if down != nil && !down(p, f) {
				continue
			}
			if enc.Encode(f) != nil {
				io.Copy(io.Discard, inner.Stdout()) // the client stopped reading
				return
			}
		}
	}()
	return p
}

func (p *proxy) Stdin() io.WriteCloser { return p.inW }
func (p *proxy) Stdout() io.Reader     { return p.outR }
func (p *proxy) Wait() error           { return p.inner.Wait() }
func (p *proxy) Kill() error           { return p.inner.Kill() }

func (p *proxy) mark() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.faultAt.IsZero() {
		p.faultAt = time.Now()
	}
}

// cutStdout ends the client's view of the worker's stdout (the worker goes
// on running).
func (p *proxy) cutStdout() {
	p.cutOnce.Do(func() { p.mark(); p.outW.Close() })
}

func isEvent(f *wire.Frame, name, step string) bool {
	if f.Type != wire.TypeEvent {
		return false
	}
	var e osexec.Event
	if f.DecodeBody(&e) != nil {
		return false
	}
	return e.Event == name && (step == "" || e.Step == step)
}

// faultPipeline's DuckDB step runs QUERY: a slow one makes a fault
// injected when it starts strike mid-step.
const faultPipeline = `oml_version: "0.1.0"
name: remote-slow
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/in.csv}
  - id: crunch
    component: duckdb.processor
    mode: transform
    needs: [extract]
    config:
      query: QUERY
  - id: out
    component: filesystem.csv_writer
    mode: write
    needs: [crunch]
    config: {path: output/out.csv}
`

// inProcess compiles pipeline in w and runs it with remote.Execute (what
// `osiris run --remote` calls) through wrap. It returns the error, the
// run directory and when Execute returned.
func inProcess(t *testing.T, w *e2e.Workspace, sb Sandbox, pipeline string, wrap func(sandbox.Sandbox) sandbox.Sandbox) (error, string, time.Time) {
	t.Helper()
	ws, err := workspace.LoadWithEnv(w.Root, append(os.Environ(), w.Env...))
	if err != nil {
		t.Fatal(err)
	}
	m, ds := compile.Compile(compile.FromWorkspace(ws), filepath.Join(w.Root, pipeline), compile.Options{})
	if ds.HasErrors() {
		t.Fatalf("compile: %v", ds)
	}
	dir, _, err := compile.WriteBuild(ws.Root, filepath.Join(ws.Root, ws.Config.Paths.Build), filepath.Join(ws.Root, ws.Config.Paths.State), m)
	if err != nil {
		t.Fatal(err)
	}
	budget, _ := ws.Config.Run.MemoryBudgetBytes()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, rel, err := remote.Execute(ctx, remote.ExecuteOptions{
		Workspace: ws, Manifest: m, ManifestDir: dir, Remote: sb.Name, Version: "test",
		Engine: osexec.Options{MemoryBudget: budget, MaxParallel: 1, BatchRows: ws.Config.Run.BatchRows, Compression: ws.Config.Run.ParquetCompression},
		Binary: e2e.Binary(t), Wrap: wrap,
	})
	ended := time.Now()
	if err == nil {
		t.Fatalf("the run succeeded (%v); the fault did not strike", res.Status)
	}
	if rel == "" {
		t.Fatalf("no run directory: %v", err)
	}
	return err, filepath.Join(w.Root, filepath.FromSlash(rel)), ended
}

// checkFailedRecord: status.json failed with the error, events.jsonl ending
// in run_error, the index holding the run's end line.
func checkFailedRecord(t *testing.T, w *e2e.Workspace, runDir string) {
	t.Helper()
	st := e2e.ReadStatus(t, runDir)
	if st.Status != osexec.StatusFailed || st.Error == "" {
		t.Errorf("status.json: %s %q; want failed with the error", st.Status, st.Error)
	}
	evs := e2e.ReadEvents(t, runDir)
	if last := evs[len(evs)-1]; last.Event != osexec.EventRunError {
		t.Errorf("events.jsonl ends with %s, want run_error", last.Event)
	}
	for _, f := range []string{"manifest.yaml", "events.jsonl", "metrics.jsonl", "osiris.log"} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	ended := false
	for _, r := range w.Index() {
		if r.RunID == st.RunID && r.Status == osexec.StatusFailed {
			ended = true
		}
	}
	if !ended {
		t.Errorf("the run index has no failed end line for %s", st.RunID)
	}
}

// Faults: the worker killed mid-step, its stdout closed, a blob corrupted
// in flight each way, a protocol version mismatch each way. Each ends the
// run within 10 s of the fault with an error naming the cause (exit 1: not
// a configuration error) and a complete run record saying failed.
func Faults(t *testing.T, sb Sandbox) {
	newWS := func(t *testing.T) *e2e.Workspace {
		var b strings.Builder
		b.WriteString("id,v\n")
		for i := 0; i < 500; i++ {
			b.WriteString("1,2\n")
		}
		// A row of its own: a sandbox whose store persists across
		// workspaces (docker, ssh) must still lack this input, or no
		// upload would happen to corrupt.
		fmt.Fprintf(&b, "%d,2\n", time.Now().UnixNano())
		return e2e.NewConfiguredWorkspace(t, e2e.Config{MaxParallel: 1, Extra: "\n" + sb.TOML + "\n"},
			map[string]string{"data/in.csv": b.String(),
				"pipelines/slow.yaml":  strings.Replace(faultPipeline, "QUERY", "SELECT count(*) AS n, sum(r.range % 7) AS s FROM input_df, range(4000000000) r", 1),
				"pipelines/quick.yaml": strings.Replace(faultPipeline, "QUERY", "SELECT count(*) AS n FROM input_df", 1)})
	}
	for _, tc := range []struct {
		name  string
		slow  bool // the fault strikes mid-step
		up    func(f *wire.Frame) *wire.Frame
		down  func(p *proxy, f *wire.Frame) bool
		cause []string // all in the error
	}{
		{name: "worker killed mid-step", slow: true,
			down: func(p *proxy, f *wire.Frame) bool {
				if isEvent(f, osexec.EventStepStart, "crunch") {
					p.mark()
					p.inner.Kill()
				}
				return true
			},
			cause: []string{"worker died"}},
		{name: "stdout closed", slow: true,
			down: func(p *proxy, f *wire.Frame) bool {
				if isEvent(f, osexec.EventStepStart, "crunch") {
					p.cutStdout()
					return false
				}
				return true
			},
			cause: []string{"closed its stdout"}},
		{name: "blob corrupted on upload",
			up:    corruptFirst(wire.TypeData),
			cause: []string{"corrupted in transit", "upload"}},
		{name: "blob corrupted on download",
			down: func(p *proxy, f *wire.Frame) bool {
				if f.Type == wire.TypeData && len(f.Payload) > 0 {
					// Only blobs answering get flow this way.
					p.corruptOnce.Do(func() { p.mark(); f.Payload[len(f.Payload)/2] ^= 0x40 })
				}
				return true
			},
			cause: []string{"corrupted in transit", "download of run/artifacts/"}},
		{name: "client speaks another protocol version",
			up: func(f *wire.Frame) *wire.Frame {
				if f.Type == wire.TypeHello {
					f.Body = []byte(`{"protocol":99,"osiris_version":"v99.0.0"}`)
				}
				return f
			},
			cause: []string{"protocol version mismatch", "protocol 99", fmt.Sprintf("speaks %d", remote.ProtocolVersion), "v99.0.0"}},
		{name: "worker speaks another protocol version",
			down: func(p *proxy, f *wire.Frame) bool {
				if f.Type == wire.TypeHello {
					p.mark()
					f.Body = []byte(`{"protocol":99,"osiris_version":"v99.0.0"}`)
				}
				return true
			},
			cause: []string{"protocol version mismatch", fmt.Sprintf("speaks protocol %d", remote.ProtocolVersion), "speaks 99", "v99.0.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWS(t)
			var px *proxy
			started := make(chan *proxy, 1)
			pipeline := "pipelines/quick.yaml"
			if tc.slow {
				pipeline = "pipelines/slow.yaml"
			}
			err, runDir, ended := inProcess(t, w, sb, pipeline, func(inner sandbox.Sandbox) sandbox.Sandbox {
				return &faultSandbox{Sandbox: inner, up: tc.up, down: tc.down, started: started}
			})
			select {
			case px = <-started:
			default:
				t.Fatal("the sandbox was never started")
			}
			msg := err.Error()
			for _, c := range tc.cause {
				if !strings.Contains(msg, c) {
					t.Errorf("error does not say %q:\n%s", c, msg)
				}
			}
			var ue *diag.UsageError
			if errors.As(err, &ue) {
				t.Errorf("a fault reported as a configuration error (exit 2): %v", err)
			}
			px.mu.Lock()
			at := px.faultAt
			px.mu.Unlock()
			if !at.IsZero() && ended.Sub(at) > 10*time.Second {
				t.Errorf("the run ended %s after the fault; want within 10 s", ended.Sub(at).Round(time.Millisecond))
			}
			checkFailedRecord(t, w, runDir)
			// Every artifact the record names is in the run directory.
			for _, s := range e2e.ReadStatus(t, runDir).Steps {
				if s.Artifact != nil {
					if h, _, err := remote.HashFile(filepath.Join(runDir, filepath.FromSlash(s.Artifact.Path))); err != nil || "sha256:"+h != s.Artifact.SHA256 {
						t.Errorf("status.json names the artifact of %s, which is not in the run directory intact (%v)", s.ID, err)
					}
				}
			}
			if _, err := os.Stat(filepath.Join(w.Root, "output", "out.csv")); err == nil {
				t.Error("output/out.csv exists: a failed remote run wrote a target")
			}
		})
	}
}

// corruptFirst flips a byte in the payload of the first frame of type typ.
func corruptFirst(typ string) func(*wire.Frame) *wire.Frame {
	var once sync.Once
	return func(f *wire.Frame) *wire.Frame {
		if f.Type == typ && len(f.Payload) > 0 {
			once.Do(func() { f.Payload[0] ^= 0x01 })
		}
		return f
	}
}
