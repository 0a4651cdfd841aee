package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/workspace"
)

// ExecuteOptions describe one `osiris run --remote`.
type ExecuteOptions struct {
	Workspace   *workspace.Workspace
	Manifest    *compile.Manifest
	ManifestDir string
	// Remote names the [remote.<name>] to use ("" = the default one).
	Remote  string
	Engine  exec.Options
	Version string
	// Binary is the osiris executable for the sandbox when [remote.x] sets
	// none; "" means this process's own executable.
	Binary   string
	Progress exec.EventSink
	Transfer func(Transfer)
	// Wrap, when set, wraps the sandbox (tests inject faults with it).
	Wrap func(sandbox.Sandbox) sandbox.Sandbox
	// CancelGrace: see ClientOptions.
	CancelGrace time.Duration
	// Prestarted, when set, is the sandbox started while the pipeline
	// compiled (Prestart); used when it is the sandbox of this run.
	Prestarted *Prestarted
	// Interrupts, when set, lets a second Ctrl-C stop the run at once: the
	// sandbox is killed and the record completed before the process exits.
	Interrupts Interrupts
}

// Interrupts is how the command's signal handling stops a run at once (a
// second Ctrl-C): Recording hands it the function that does so, Finish
// completes the record excluding that function meanwhile.
type Interrupts interface {
	Recording(abandon func(sig os.Signal))
	Finish(f func())
}

// Execute runs a manifest in a sandbox and records it locally with the same
// exec.Recorder a local run uses: the run directory is complete whatever
// happens (status.json failed, events.jsonl ending in run_error, the index
// lines). relDir is that directory, workspace-relative ("" when the
// configuration was refused before a run directory existed). Errors that are
// the user's configuration are *diag.UsageError (exit 2).
func Execute(ctx context.Context, o ExecuteOptions) (res *exec.Result, relDir string, err error) {
	ws := o.Workspace
	rc, err := ws.ResolveRemote(o.Remote)
	if err != nil {
		return nil, "", &diag.UsageError{Err: err}
	}
	sb, err := sandbox.Open(rc, sandbox.Env{Root: ws.Root, StateDir: filepath.Join(ws.Root, ws.Config.Paths.State)})
	if err != nil {
		return nil, "", &diag.UsageError{Err: err}
	}
	sb, _ = o.Prestarted.take(sb)
	defer o.Prestarted.Discard()
	if o.Wrap != nil {
		sb = o.Wrap(sb)
	}
	procs := &tracked{Sandbox: sb}
	sb = procs
	runID := exec.NewRunID()
	rec, err := exec.StartRecorder(exec.RecorderOptions{
		RunLogsDir:    filepath.Join(ws.Root, ws.Config.Paths.RunLogs),
		StateDir:      filepath.Join(ws.Root, ws.Config.Paths.State),
		WorkspaceRoot: ws.Root,
		Manifest:      o.Manifest,
		ManifestDir:   o.ManifestDir,
		RunID:         runID,
		Started:       time.Now(),
		Where:         rc.Name,
		Masker:        ws.Masker,
	})
	if err != nil {
		return nil, "", fmt.Errorf("creating the run directory: %w", err)
	}
	sink := &gatedSink{inner: rec.Sink()}
	if o.Interrupts != nil {
		o.Interrupts.Recording(func(sig os.Signal) {
			// Nothing the dying session still emits may follow the end event.
			sink.close()
			// The worker, its container or ssh session go first: nothing of
			// the run may outlive the process.
			procs.killAll(10 * time.Second)
			rec.Finish(nil, fmt.Errorf("%w: stopped at once by a second %s; the sandbox worker was killed", exec.ErrCancelled, sig))
		})
	}
	defer func() {
		finish := func() {
			if ferr := rec.Finish(res, err); ferr != nil && err == nil {
				err = ferr
			}
		}
		if o.Interrupts != nil {
			o.Interrupts.Finish(finish)
		} else {
			finish()
		}
	}()
	plan, err := MakePlan(ws, o.Manifest, o.ManifestDir, rc.PassEnv)
	if err != nil {
		return nil, rec.RelDir(), err
	}
	bin, sum, err := SandboxBinary(ws, rc, o.Binary)
	if err != nil {
		return nil, rec.RelDir(), err
	}
	maxStore, keepRuns := rc.StoreBounds()
	res, err = Run(ctx, ClientOptions{
		Bound:     &GCRequest{MaxStore: maxStore, KeepRuns: keepRuns},
		NoNetwork: rc.Network == "none",
		// Unchanged inputs are not read again to be hashed (the step
		// cache's size+mtime+ctime+inode memo).
		HashFile:     exec.NewStepCache(ws.Root, filepath.Join(ws.Root, ws.Config.Paths.State)).FileHash,
		Sandbox:      sb,
		Binary:       bin,
		BinarySHA256: sum,
		Version:      o.Version,
		Plan:         plan,
		Manifest:     o.Manifest,
		Engine:       o.Engine,
		RunID:        runID,
		RunDir:       rec.Dir(),
		Sink:         exec.MultiSink{sink, o.Progress},
		Metrics:      rec.Sink().(exec.MetricSink),
		Masker:       ws.Masker,
		Transfer:     o.Transfer,
		Log:          recorderLog(rec.Logger()),
		CancelGrace:  o.CancelGrace,
	})
	return res, rec.RelDir(), err
}

// SandboxBinary is the osiris executable a sandbox runs — [remote.x].binary
// (another OS/arch; workspace-relative allowed), else def, else this
// process's executable — with its SHA-256.
func SandboxBinary(ws *workspace.Workspace, rc *workspace.RemoteConfig, def string) (string, string, error) {
	bin := rc.Binary
	switch {
	case bin != "" && !filepath.IsAbs(bin):
		bin = filepath.Join(ws.Root, bin)
	case bin == "" && def != "":
		bin = def
	case bin == "":
		exe, err := os.Executable()
		if err != nil {
			return "", "", err
		}
		bin = exe
	}
	// Through the step cache's file memo: the binary (~140 MB) is read
	// again only when it changed, not at every run.
	sum, err := exec.NewStepCache(ws.Root, filepath.Join(ws.Root, ws.Config.Paths.State)).FileHash(bin)
	if err != nil {
		return "", "", &diag.UsageError{Err: fmt.Errorf("remote %s: binary: %w", rc.Name, err)}
	}
	return bin, strings.TrimPrefix(sum, "sha256:"), nil
}

// recorderLog writes the worker's log lines (zerolog JSON) to the run's
// osiris.log through the Recorder's logger, as a local run's driver logs.
func recorderLog(l zerolog.Logger) func([]byte) {
	return func(line []byte) {
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			l.Info().Str("worker", strings.TrimSpace(string(line))).Msg("worker log")
			return
		}
		lvl, err := zerolog.ParseLevel(fmt.Sprint(m["level"]))
		if err != nil || m["level"] == nil {
			lvl = zerolog.InfoLevel
		}
		msg, _ := m["message"].(string)
		for _, k := range []string{"level", "message", "time", "run_id"} {
			delete(m, k)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		ev := l.WithLevel(lvl)
		for _, k := range keys {
			ev = ev.Interface(k, m[k])
		}
		ev.Msg(msg)
	}
}

// tracked remembers the workers a sandbox started, to kill them at once.
type tracked struct {
	sandbox.Sandbox
	mu    sync.Mutex
	procs []*trackedProcess
}

func (t *tracked) Start(ctx context.Context, opts sandbox.StartOptions) (sandbox.Process, error) {
	p, err := t.Sandbox.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	tp := &trackedProcess{Process: p, exited: make(chan struct{})}
	t.mu.Lock()
	t.procs = append(t.procs, tp)
	t.mu.Unlock()
	return tp, nil
}

// killAll kills every worker and waits, up to within, for each to be gone.
func (t *tracked) killAll(within time.Duration) {
	t.mu.Lock()
	procs := append([]*trackedProcess(nil), t.procs...)
	t.mu.Unlock()
	deadline := time.After(within)
	for _, p := range procs {
		p.Kill()
		select {
		case <-p.exited:
		case <-deadline:
			return
		}
	}
}

type trackedProcess struct {
	sandbox.Process
	once   sync.Once
	exited chan struct{}
}

func (p *trackedProcess) Wait() error {
	err := p.Process.Wait()
	p.once.Do(func() { close(p.exited) })
	return err
}

// BinaryBytesUploaded passes the kind's figure through.
func (p *trackedProcess) BinaryBytesUploaded() int64 {
	if bu, ok := p.Process.(interface{ BinaryBytesUploaded() int64 }); ok {
		return bu.BinaryBytesUploaded()
	}
	return 0
}

// gatedSink forwards events until closed.
type gatedSink struct {
	inner  exec.EventSink
	mu     sync.Mutex
	closed bool
}

func (g *gatedSink) Emit(e exec.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.inner.Emit(e)
	}
}

// close stops forwarding, after an event being forwarded.
func (g *gatedSink) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
