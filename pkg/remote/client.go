package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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

// startProcess starts the worker; the start itself is bounded by startCtx,
// the worker's life by procCtx.
func startProcess(startCtx, procCtx context.Context, sb sandbox.Sandbox, opts sandbox.StartOptions) (sandbox.Process, error) {
	type result struct {
		p   sandbox.Process
		err error
	}
	ch := make(chan result, 1)
	go func() {
		p, err := sb.Start(procCtx, opts)
		ch <- result{p, err}
	}()
	select {
	case r := <-ch:
		return r.p, r.err
	case <-startCtx.Done():
		go func() {
			if r := <-ch; r.p != nil {
				r.p.Kill()
			}
		}()
		return nil, fmt.Errorf("the sandbox did not start: %w", context.Cause(startCtx))
	}
}

// attach starts reading the worker's frames and waiting for its exit.
func (c *client) attach(proc sandbox.Process) {
	c.proc = proc
	c.enc = NewEncoder(proc.Stdin())
	c.frames = make(chan *Frame, 64)
	c.readDone = make(chan struct{})
	c.quit = make(chan struct{})
	c.waitCh = make(chan struct{})
	go func() {
		c.waitErr = proc.Wait()
		close(c.waitCh)
	}()
	go c.readLoop(proc.Stdout())
}

// detach ends the reader when the session is over (the worker stopped).
func (c *client) detach() { close(c.quit) }

// readLoop feeds c.frames until the stream ends or the session does
// (quit): it never outlives the run holding frames no one will read.
func (c *client) readLoop(r io.Reader) {
	dec := NewDecoder(r)
	for {
		f, err := dec.Decode()
		if err != nil {
			c.readErr = err
			close(c.readDone)
			close(c.frames)
			return
		}
		select {
		case c.frames <- f:
		case <-c.quit:
			c.readErr = errors.New("the session ended")
			close(c.readDone)
			// Unblock a worker still writing, so that it can exit.
			go io.Copy(io.Discard, r)
			return
		}
	}
}

// streamErr is why the frame stream ended, if it has.
func (c *client) streamErr() error {
	select {
	case <-c.readDone:
		return c.readErr
	default:
		return nil
	}
}

// deadErr explains why the frame stream ended.
func (c *client) deadErr(what string) error {
	// Give the process a moment to exit so its status can be reported.
	select {
	case <-c.waitCh:
	case <-time.After(2 * time.Second):
	}
	// The reader ends within moments of the process.
	select {
	case <-c.readDone:
	case <-time.After(500 * time.Millisecond):
	}
	var fe *FrameError
	cause := ""
	switch {
	case errors.As(c.streamErr(), &fe):
		cause = fe.Error()
	case isClosed(c.waitCh):
		cause = "the sandbox worker died (" + exitText(c.waitErr) + ")"
	default:
		cause = "the sandbox worker closed its stdout while still running"
	}
	return fmt.Errorf("%s: %s%s", what, cause, c.stderrTail())
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func (c *client) stderrTail() string {
	t := strings.TrimSpace(c.mask(c.stderr.String()))
	if t == "" {
		return ""
	}
	lines := strings.Split(t, "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\nlast lines of the worker's stderr:\n  " + strings.Join(lines, "\n  ")
}

func (c *client) send(typ string, body any) (uint64, error) {
	c.nextID++
	id := c.nextID
	if err := c.enc.Encode(NewFrame(typ, id, 0, body)); err != nil {
		return 0, c.deadErr("sending " + typ)
	}
	return id, nil
}

// next waits for a frame; a zero timeout waits as long as ctx.
func (c *client) next(ctx context.Context, timeout time.Duration, what string) (*Frame, error) {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return nil, c.deadErr(what)
			}
			if f.Type == TypeLog {
				c.logLine(f)
				continue
			}
			return f, nil
		case <-ctx.Done():
			return nil, interrupted(ctx, what)
		case <-tc:
			return nil, fmt.Errorf("%s: no answer from the sandbox worker within %s%s", what, timeout, c.stderrTail())
		}
	}
}

func (c *client) logLine(f *Frame) {
	if c.o.Log != nil && len(f.Payload) > 0 {
		c.o.Log(f.Payload)
	}
}

// expect waits for the answer to request id of type typ; an error frame
// becomes an error.
func (c *client) expect(ctx context.Context, id uint64, typ string, timeout time.Duration, what string, body any) (*Frame, error) {
	for {
		f, err := c.next(ctx, timeout, what)
		if err != nil {
			return nil, err
		}
		if f.Type == TypeError {
			var eb ErrorBody
			f.DecodeBody(&eb)
			return nil, fmt.Errorf("%s: the sandbox worker refused: %s", what, eb.Message)
		}
		if f.Re != id || f.Type != typ {
			return nil, &FrameError{Msg: fmt.Sprintf("%s: expected %s answering %d, got %s answering %d", what, typ, id, f.Type, f.Re)}
		}
		if body != nil {
			if err := f.DecodeBody(body); err != nil {
				return nil, err
			}
		}
		return f, nil
	}
}

// stop ends the worker: bye and a wait, or a kill. It returns the exit code
// (-1 when killed or unknown).
func (c *client) stop(kill bool) int {
	if !kill {
		if _, err := c.send(TypeBye, nil); err != nil {
			kill = true
		}
	}
	if !kill {
		c.proc.Stdin().Close()
		select {
		case <-c.waitCh:
		case <-time.After(10 * time.Second):
			kill = true
		}
	}
	if kill {
		c.proc.Kill()
		c.proc.Stdin().Close()
		select {
		case <-c.waitCh:
		case <-time.After(5 * time.Second):
		}
	}
	if !isClosed(c.waitCh) {
		return -1
	}
	if c.waitErr == nil {
		return 0
	}
	var ec interface{ ExitCode() int }
	if errors.As(c.waitErr, &ec) {
		return ec.ExitCode()
	}
	return -1
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

// sendFiles sends the run's files ahead of the run request, in chunks
// that each fit a frame; the worker adds them to the next run.
func (c *client) sendFiles(files map[string]string) error {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for i := 0; i < len(paths); i += ListChunk {
		chunk := FilesChunk{Files: map[string]string{}}
		for _, p := range paths[i:min(i+ListChunk, len(paths))] {
			chunk.Files[p] = files[p]
		}
		if _, err := c.send(TypeFiles, chunk); err != nil {
			return err
		}
	}
	return nil
}

// noNetworkHint adds to a connection failure that the sandbox has no
// network, which "connection refused" alone does not tell.
func noNetworkHint(msg, name string) string {
	l := strings.ToLower(msg)
	for _, s := range []string{"connection refused", "network is unreachable", "no such host", "no route to host", "dial tcp", "i/o timeout", "can't connect", "could not connect"} {
		if strings.Contains(l, s) {
			return msg + fmt.Sprintf(` (sandbox %s has network = "none": it cannot reach any host; remove network = "none" to let steps connect)`, name)
		}
	}
	return msg
}

func clientHost() string {
	h, _ := os.Hostname()
	return h
}

// checkResultPaths refuses a result whose paths leave the run directory
// (artifacts) or the workspace (files a writer wrote): they are read
// locally — hashed, previewed in the report — and a worker is not trusted
// with the client's disk.
func checkResultPaths(res *exec.Result) error {
	for _, s := range res.Steps {
		if a := s.Artifact; a != nil {
			if err := CheckTreePath("run/" + a.Path); err != nil || !strings.HasPrefix(a.Path, "artifacts/") {
				return &FrameError{Msg: fmt.Sprintf("the worker reported artifact path %q for step %s, outside the run's artifacts/", a.Path, s.ID)}
			}
		}
		for _, f := range s.Files {
			if err := CheckTreePath("ws/" + f); err != nil {
				return &FrameError{Msg: fmt.Sprintf("the worker reported a written file %q for step %s, outside the workspace", f, s.ID)}
			}
		}
	}
	return nil
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

// sync hashes the plan's files and uploads the blobs the sandbox lacks.
func (c *client) sync(ctx context.Context) (map[string]string, error) {
	start := time.Now()
	paths := make([]string, 0, len(c.o.Plan.Files))
	for p := range c.o.Plan.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	files := map[string]string{}
	sizes := map[string]int64{}
	local := map[string]string{} // hash → a local path holding it
	c.local, c.sizes = local, sizes
	var hashes []string
	for _, p := range paths {
		h, n, err := HashFile(c.o.Plan.Files[p])
		if err != nil {
			return nil, fmt.Errorf("reading %s for the sandbox: %w", p, err)
		}
		files[p] = h
		if _, dup := local[h]; !dup {
			local[h] = c.o.Plan.Files[p]
			sizes[h] = n
			hashes = append(hashes, h)
		}
	}
	// In chunks: a workspace of many files would not fit one frame.
	var miss Hashes
	for i := 0; i == 0 || i < len(hashes); i += ListChunk {
		part := hashes[i:min(i+ListChunk, len(hashes))]
		id, err := c.send(TypeHave, Hashes{Hashes: part})
		if err != nil {
			return nil, err
		}
		var m Hashes
		if _, err := c.expect(ctx, id, TypeMissing, c.o.HandshakeTimeout, "asking the sandbox what it has", &m); err != nil {
			return nil, err
		}
		miss.Hashes = append(miss.Hashes, m.Hashes...)
		miss.Corrupted = append(miss.Corrupted, m.Corrupted...)
	}
	if len(miss.Corrupted) > 0 {
		c.warn(fmt.Sprintf("%d blob(s) in the sandbox store did not match their sha256 (changed on the sandbox's disk); the sandbox removed them and they are uploaded again", len(miss.Corrupted)))
	}
	total, err := c.upload(ctx, miss.Hashes)
	if err != nil {
		return nil, err
	}
	var all int64
	for _, h := range hashes {
		all += sizes[h]
	}
	fields := map[string]any{
		"files": len(paths), "blobs_missing": len(miss.Hashes), "bytes_uploaded": total,
		"bytes_skipped": all - total, "duration_ms": time.Since(start).Milliseconds(),
	}
	if len(miss.Corrupted) > 0 {
		fields["blobs_corrupted"] = len(miss.Corrupted)
	}
	// The binary is provisioned by the sandbox kind when it starts (by
	// hash, once per version); the kind says how much that moved.
	if bu, ok := c.proc.(interface{ BinaryBytesUploaded() int64 }); ok {
		fields["binary_bytes_uploaded"] = bu.BinaryBytesUploaded()
	}
	c.emit(EventSyncComplete, "", fields)
	return files, nil
}

// upload sends the blobs hashes (all offered by sync) and returns the
// bytes sent.
func (c *client) upload(ctx context.Context, hashes []string) (int64, error) {
	var total, done int64
	for _, h := range hashes {
		if _, ok := c.local[h]; !ok {
			return 0, &FrameError{Msg: fmt.Sprintf("the worker asked for blob %s, which was not offered", short(h))}
		}
		total += c.sizes[h]
	}
	// A write to a worker that stopped reading blocks: Ctrl-C (or the time
	// limit) closes its stdin, which ends the write; the worker drops the
	// partial blob.
	stop := context.AfterFunc(ctx, func() { c.proc.Stdin().Close() })
	defer stop()
	for _, h := range hashes {
		if _, err := c.put(ctx, h, c.local[h], c.sizes[h], func(k int64) {
			done += k
			if c.o.Transfer != nil {
				c.o.Transfer(Transfer{Direction: "upload", Done: done, Total: total})
			}
		}); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// warn writes a warning into the run's log (osiris.log), as the worker's
// log lines go.
func (c *client) warn(msg string) {
	if c.o.Log == nil {
		return
	}
	line, _ := json.Marshal(map[string]string{"level": "warn", "message": msg})
	c.o.Log(line)
}

func (c *client) put(ctx context.Context, h, path string, size int64, progress func(int64)) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	id, err := c.send(TypePut, Put{Hash: h, Size: size})
	if err != nil {
		if ctx.Err() != nil {
			return 0, interrupted(ctx, "uploading "+filepath.Base(path))
		}
		return 0, err
	}
	sum := sha256.New()
	buf := make([]byte, ChunkBytes)
	left := size
	for left > 0 {
		if ctx.Err() != nil {
			// A blob half sent leaves the stream mid-put: the caller stops
			// the worker, which drops the partial blob.
			return 0, interrupted(ctx, "uploading "+filepath.Base(path))
		}
		n := int64(len(buf))
		if left < n {
			n = left
		}
		if _, err := io.ReadFull(f, buf[:n]); err != nil {
			return 0, fmt.Errorf("reading %s: %w (did it change during the upload?)", path, err)
		}
		sum.Write(buf[:n])
		if err := c.enc.Encode(&Frame{Type: TypeData, Re: id, Payload: buf[:n]}); err != nil {
			if ctx.Err() != nil {
				return 0, interrupted(ctx, "uploading "+filepath.Base(path))
			}
			return 0, c.deadErr("uploading " + filepath.Base(path))
		}
		left -= n
		progress(n)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h {
		return 0, fmt.Errorf("%s changed while it was being uploaded; run again", path)
	}
	if _, err := c.expect(ctx, id, TypeStored, 0, "uploading "+filepath.Base(path), nil); err != nil {
		return 0, err
	}
	return size, nil
}

// runLoop relays the run's events until done. The terminal event is held
// back: it is delivered after the artifacts are fetched and the sandbox
// stopped, so the event stream still ends with it.
func (c *client) runLoop(ctx context.Context, runID uint64) (*Done, error) {
	var grace <-chan time.Time
	waitCtx := ctx
	for {
		var f *Frame
		var err error
		select {
		case fr, ok := <-c.frames:
			if !ok {
				return nil, c.deadErr("running the pipeline in the sandbox")
			}
			f = fr
		case <-waitCtx.Done():
			// Ctrl-C: ask the worker to cancel, give it a moment to end the
			// run properly, then stop it. The time limit is the worker's
			// own (TimeoutMs): it gets the same moment to report.
			waitCtx = context.Background()
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				if _, err := c.send(TypeCancel, struct{}{}); err != nil {
					return nil, err
				}
			}
			grace = time.After(c.o.CancelGrace)
			continue
		case <-grace:
			why := exec.ErrCancelled
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				why = exec.ErrRunTimedOut
			}
			return nil, fmt.Errorf("%w: the sandbox worker did not end the run within %s; stopped it%s", why, c.o.CancelGrace, c.stderrTail())
		}
		if err != nil {
			return nil, err
		}
		switch f.Type {
		case TypeLog:
			c.logLine(f)
		case TypeEvent:
			var e exec.Event
			if err := f.DecodeBody(&e); err != nil {
				return nil, err
			}
			e.RunID = c.o.RunID
			if e.Event == exec.EventRunStart && e.Fields != nil {
				// Who ran it is this process (the record's pid and host);
				// the worker's own, often a namespace's pid 1, is kept apart.
				e.Fields["worker_host"], e.Fields["worker_pid"] = e.Fields["host"], e.Fields["pid"]
				e.Fields["host"], e.Fields["pid"] = clientHost(), os.Getpid()
			}
			if e.IsTerminal() {
				c.held = &e
				continue
			}
			c.relay(e)
		case TypeMetric:
			var m exec.Metric
			if err := decodeMetric(f, &m); err != nil {
				return nil, err
			}
			if c.o.Metrics != nil {
				c.o.Metrics.EmitMetric(m)
			}
		case TypeDone:
			var d Done
			if err := f.DecodeBody(&d); err != nil {
				return nil, err
			}
			return &d, nil
		case TypeError:
			var eb ErrorBody
			f.DecodeBody(&eb)
			return nil, fmt.Errorf("the sandbox worker refused the run: %s", eb.Message)
		default:
			return nil, &FrameError{Msg: fmt.Sprintf("unexpected %s frame during the run", f.Type)}
		}
	}
}

func decodeMetric(f *Frame, m *exec.Metric) error {
	var raw struct {
		TS    string  `json:"ts"`
		Step  string  `json:"step"`
		Name  string  `json:"name"`
		Value float64 `json:"value"`
		Unit  string  `json:"unit"`
	}
	if err := f.DecodeBody(&raw); err != nil {
		return err
	}
	ts, _ := time.Parse(time.RFC3339Nano, raw.TS)
	*m = exec.Metric{TS: ts, Step: raw.Step, Name: raw.Name, Value: raw.Value, Unit: raw.Unit}
	return nil
}

// fetch gets the run's artifacts into the local run directory and the
// written workspace files into the workspace, verified by hash.
func (c *client) fetch(ctx context.Context, d *Done, res *exec.Result) error {
	start := time.Now()
	want := map[string]string{} // artifact path in the run dir → "sha256:…"
	for _, s := range res.Steps {
		if s.Artifact != nil {
			want["run/"+s.Artifact.Path] = s.Artifact.SHA256
		}
	}
	paths := make([]string, 0, len(d.Artifacts))
	var total int64
	for p := range d.Artifacts {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	type job struct{ tree, local, hash string }
	var jobs []job
	for _, p := range paths {
		h := d.Artifacts[p]
		if err := CheckTreePath(p); err != nil || !ValidHash(h) {
			return &FrameError{Msg: fmt.Sprintf("the worker reported an invalid artifact %q", p)}
		}
		var local string
		switch {
		case strings.HasPrefix(p, "run/artifacts/"):
			local = filepath.Join(c.o.RunDir, filepath.FromSlash(strings.TrimPrefix(p, "run/")))
		case c.o.Plan.Outputs[p] != "":
			local = c.o.Plan.Outputs[p]
			if lh, _, err := HashFile(local); err == nil && lh == h {
				continue // unchanged
			}
		default:
			// Never write a path the plan did not expect (a worker is not
			// trusted with the client's disk).
			return &FrameError{Msg: fmt.Sprintf("the worker reported an output %q the run does not write", p)}
		}
		if w, ok := want[p]; ok && w != "sha256:"+h {
			return fmt.Errorf("artifact %s: the worker's hash %s differs from the engine's %s", p, short(h), w)
		}
		jobs = append(jobs, job{p, local, h})
		total += d.Sizes[p]
	}
	var done, bytes int64
	for _, j := range jobs {
		n, err := c.get(ctx, j.hash, j.local, j.tree, func(k int64) {
			done += k
			if c.o.Transfer != nil {
				c.o.Transfer(Transfer{Direction: "download", Done: done, Total: total})
			}
		})
		if err != nil {
			return err
		}
		bytes += n
	}
	for p, sum := range want {
		if _, ok := d.Artifacts[p]; !ok {
			return fmt.Errorf("artifact %s (%s) did not come back from the sandbox", p, sum)
		}
	}
	c.emit(EventArtifactsFetched, "", map[string]any{"blobs": len(jobs), "bytes": bytes, "duration_ms": time.Since(start).Milliseconds()})
	return nil
}

// get downloads blob h to local (temp file, verify, rename).
func (c *client) get(ctx context.Context, h, local, tree string, progress func(int64)) (int64, error) {
	what := "downloading " + tree
	id, err := c.send(TypeGet, Get{Hash: h})
	if err != nil {
		return 0, err
	}
	var b Blob
	if _, err := c.expect(ctx, id, TypeBlob, 30*time.Second, what, &b); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), "."+filepath.Base(local)+".*.part")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	sum := sha256.New()
	left := b.Size
	for left > 0 {
		f, err := c.next(ctx, 30*time.Second, what)
		if err != nil {
			tmp.Close()
			return 0, err
		}
		if f.Type != TypeData || f.Re != id || int64(len(f.Payload)) > left {
			tmp.Close()
			return 0, &FrameError{Msg: fmt.Sprintf("%s: unexpected %s frame in a blob", what, f.Type)}
		}
		sum.Write(f.Payload)
		if _, err := tmp.Write(f.Payload); err != nil {
			tmp.Close()
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		left -= int64(len(f.Payload))
		progress(int64(len(f.Payload)))
	}
	// The mode a local run gives the files it writes (CreateTemp's is 0600).
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h {
		return 0, &HashMismatchError{Want: h, Got: got, What: "download of " + tree}
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return 0, err
	}
	return b.Size, nil
}

// tail keeps the last bytes written to it (the worker's stderr).
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
