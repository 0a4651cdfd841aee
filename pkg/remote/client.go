package remote

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/workspace"
)

// Events a remote run adds around the engine's own (spec 04).
const (
	EventSandboxStarted   = exec.EventSandboxStarted
	EventSyncComplete     = exec.EventSyncComplete
	EventArtifactsFetched = exec.EventArtifactsFetched
	EventSandboxStopped   = exec.EventSandboxStopped
)

// Transfer reports sync progress (for the progress line).
type Transfer struct {
	Direction   string // "upload" | "download"
	Done, Total int64  // bytes
}

// ClientOptions are everything one remote run needs.
type ClientOptions struct {
	Sandbox sandbox.Sandbox
	// Binary is the osiris executable the sandbox runs, BinarySHA256 its hash.
	Binary, BinarySHA256 string
	Version              string // this osiris's version, stated in hello
	Plan                 *Plan
	Manifest             *compile.Manifest
	Engine               exec.Options
	RunID                string
	// RunDir is the local run directory (the Recorder's): artifacts are
	// fetched into it.
	RunDir  string
	Sink    exec.EventSink  // every event, renumbered in arrival order
	Metrics exec.MetricSink // the worker's metrics
	Masker  *workspace.Masker
	// Transfer, when set, is called as bytes move.
	Transfer func(Transfer)
	// Log, when set, receives the worker's log lines (zerolog JSON, masked
	// by the worker) as they arrive.
	Log func(line []byte)
	// StartTimeout bounds starting the sandbox, which may include
	// provisioning the binary (default 5m); HandshakeTimeout bounds each
	// answer outside the run itself: hello, have, stored (default 30s);
	// CancelGrace is how long a cancelled run may take to end before the
	// sandbox is stopped (default 5s).
	StartTimeout, HandshakeTimeout, CancelGrace time.Duration
	// HashFile, when set, hashes a workspace file for sync ("sha256:<hex>"
	// or bare hex), e.g. the step cache's memoised hash; nil reads every
	// file. Uploads verify what they send whatever it says.
	HashFile func(path string) (string, error)
	// NoNetwork says the sandbox has no network (network = "none"): a
	// step's connection failure then says so.
	NoNetwork bool
	// Bound, when set, is applied to the sandbox after the run
	// ([remote.x] max_store, keep_runs).
	Bound *GCRequest
}

// Run executes the manifest in the sandbox. Like exec.Engine.Run it returns
// a Result whenever the worker got as far as a result, and an error when the
// run did not succeed; a *diag.UsageError for configuration problems. The
// events it delivers end with the worker's terminal event (held back until
// the artifacts are fetched and the sandbox stopped) unless the run failed
// on this side, in which case the caller's Recorder.Finish writes one.
func Run(ctx context.Context, o ClientOptions) (*exec.Result, error) {
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 30 * time.Second
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 5 * time.Minute
	}
	if o.CancelGrace == 0 {
		o.CancelGrace = 5 * time.Second
	}
	c := &client{o: o, stderr: newTail(8 << 10)}
	return c.run(ctx)
}

type client struct {
	o      ClientOptions
	seq    int64
	seqMu  sync.Mutex
	stderr *tail

	proc   sandbox.Process
	enc    *Encoder
	frames chan *Frame
	// readErr is why the frame stream ended; set before readDone closes
	// and read only after it.
	readErr  error
	readDone chan struct{}
	// quit ends readLoop when the session ends before the stream does.
	quit    chan struct{}
	waitCh  chan struct{}
	waitErr error
	nextID  uint64
	held    *exec.Event       // the worker's terminal event
	local   map[string]string // hash → a local file holding it (sync)
	sizes   map[string]int64
	runErr  error // the run's own failure (a step failed)
}

func (c *client) emit(name, step string, fields map[string]any) {
	c.relay(exec.Event{V: exec.EventVersion, TS: time.Now(), RunID: c.o.RunID, Event: name, Step: step, Fields: fields})
}

func (c *client) relay(e exec.Event) {
	c.seqMu.Lock()
	defer c.seqMu.Unlock()
	c.seq++
	e.Seq = c.seq
	if c.o.Sink != nil {
		c.o.Sink.Emit(e)
	}
}

func (c *client) mask(s string) string { return c.o.Masker.Mask(s) }

func (c *client) run(ctx context.Context) (*exec.Result, error) {
	desc := c.o.Sandbox.Describe()
	// The worker lives under its own context: Ctrl-C must first send
	// cancel, not kill it.
	procCtx, stopProc := context.WithCancel(context.Background())
	defer stopProc()
	startCtx, cancelStart := context.WithTimeout(ctx, c.o.StartTimeout)
	started := time.Now()
	proc, err := startProcess(startCtx, procCtx, c.o.Sandbox, sandbox.StartOptions{
		Binary: c.o.Binary, BinarySHA256: c.o.BinarySHA256, Stderr: c.stderr,
	})
	cancelStart()
	if err != nil {
		// The kinds' errors name the sandbox ("remote "x": …") already.
		if strings.Contains(err.Error(), fmt.Sprintf("remote %q", desc.Name)) {
			return nil, fmt.Errorf("starting the sandbox: %w", err)
		}
		return nil, fmt.Errorf("starting sandbox %s (%s): %w", desc.Name, desc.Kind, err)
	}
	c.attach(proc)
	defer c.detach()
	c.emit(EventSandboxStarted, "", map[string]any{
		"sandbox": desc.Name, "kind": desc.Kind, "isolation": desc.Isolation, "where": desc.Where,
		"duration_ms": time.Since(started).Milliseconds(),
	})

	res, err := c.session(ctx)
	exit := c.stop(err != nil)
	fields := map[string]any{"sandbox": desc.Name, "exit_code": exit}
	c.emit(EventSandboxStopped, "", fields)
	if err == nil && exit != 0 {
		// The exit status is the final authority.
		err = fmt.Errorf("the sandbox worker exited with status %d after reporting the run%s", exit, c.stderrTail())
		if res != nil {
			res.Status = exec.StatusFailed
		}
	}
	if err != nil {
		c.held = nil
		if res != nil && res.Status == exec.StatusSuccess {
			res.Status = exec.StatusFailed
			res.Error = c.mask(err.Error())
		}
		return res, err
	}
	if c.held != nil {
		c.relay(*c.held)
	}
	return res, c.runErr
}

func (c *client) session(ctx context.Context) (*exec.Result, error) {
	// Handshake.
	id, err := c.send(TypeHello, Hello{Protocol: ProtocolVersion, OsirisVersion: c.o.Version, GC: c.o.Bound})
	if err != nil {
		return nil, err
	}
	var h Hello
	if _, err := c.expect(ctx, id, TypeHello, c.o.HandshakeTimeout, "handshake with the sandbox worker", &h); err != nil {
		return nil, err
	}
	if h.Protocol != ProtocolVersion {
		return nil, fmt.Errorf("protocol version mismatch: this osiris (%s) speaks protocol %d, the sandbox worker (osiris %s) speaks %d; use the same osiris version on both sides",
			orUnknown(c.o.Version), ProtocolVersion, orUnknown(h.OsirisVersion), h.Protocol)
	}

	files, err := c.sync(ctx)
	if err != nil {
		return nil, err
	}

	// Run.
	req := RunRequest{
		RunID: c.o.RunID, Writable: c.o.Plan.Writable,
		Env: c.o.Plan.Env, Options: wireOptions(c.o.Engine),
	}
	for _, pc := range c.o.Plan.Connections {
		wc, err := wireConnection(pc.Conn)
		if err != nil {
			return nil, err
		}
		req.Connections = append(req.Connections, RunConnection{Ref: pc.Ref, Family: pc.Family, Conn: wc})
	}
	if dl, ok := ctx.Deadline(); ok {
		req.TimeoutMs = max(time.Until(dl).Milliseconds(), 1)
	}
	for p := range c.o.Plan.Outputs {
		req.Outputs = append(req.Outputs, p)
	}
	sort.Strings(req.Outputs)
	var done *Done
	for attempt := 0; ; attempt++ {
		if err := c.sendFiles(files); err != nil {
			return nil, err
		}
		runID, err := c.send(TypeRun, req)
		if err != nil {
			return nil, err
		}
		if done, err = c.runLoop(ctx, runID); err != nil {
			return nil, err
		}
		if len(done.Missing) == 0 || done.Result != nil || attempt > 0 {
			break
		}
		// Blobs that verified at sync no longer did when the run was laid
		// out: the worker removed them; send them again, once.
		c.warn(fmt.Sprintf("%d blob(s) changed on the sandbox's disk between sync and run; uploading them again", len(done.Missing)))
		if _, err := c.upload(ctx, done.Missing); err != nil {
			return nil, err
		}
	}
	res := done.Result.result()
	if res == nil {
		return nil, fmt.Errorf("the sandbox could not run the manifest: %s", done.Error)
	}
	if err := checkResultPaths(res); err != nil {
		return nil, err
	}
	if c.o.NoNetwork {
		res.Error = noNetworkHint(res.Error, c.o.Sandbox.Describe().Name)
		for i := range res.Steps {
			res.Steps[i].Error = noNetworkHint(res.Steps[i].Error, c.o.Sandbox.Describe().Name)
		}
	}
	if res.Status != exec.StatusSuccess {
		c.runErr = runError(res, done.Error)
	}
	// The artifacts of a cancelled or timed-out run come back too (the
	// steps that completed): fetching is bounded by its own per-frame
	// timeouts, not by the run's context.
	if err := c.fetch(context.WithoutCancel(ctx), done, res); err != nil {
		// The record must not claim artifacts that are not in the run
		// directory: keep only those that arrived intact.
		for i := range res.Steps {
			if a := res.Steps[i].Artifact; a != nil {
				if h, _, herr := HashFile(filepath.Join(c.o.RunDir, filepath.FromSlash(a.Path))); herr != nil || "sha256:"+h != a.SHA256 {
					res.Steps[i].Artifact = nil
				}
			}
		}
		return res, err
	}
	return res, nil
}

// interrupted is the error of work stopped because ctx ended: the run is
// cancelled (Ctrl-C) or out of time.
func interrupted(ctx context.Context, what string) error {
	why := exec.ErrCancelled
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why = exec.ErrRunTimedOut
	}
	return fmt.Errorf("%w while %s (%v)", why, what, context.Cause(ctx))
}

// runError rebuilds the engine's error from a result that did not succeed.
func runError(res *exec.Result, msg string) error {
	switch res.Status {
	case exec.StatusCancelled:
		return fmt.Errorf("%w", exec.ErrCancelled)
	case exec.StatusFailed:
		if res.FailedStep != "" {
			return &exec.StepError{Step: res.FailedStep, Msg: res.Error}
		}
	}
	if msg == "" {
		msg = res.Error
	}
	return errors.New(msg)
}
