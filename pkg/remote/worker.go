package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/workspace"
)

// WorkerOptions configure Serve.
type WorkerOptions struct {
	// Dir is the worker's directory: cas/ (the store), runs/<run id>/ (a
	// run's tree while it runs), tmp/.
	Dir     string
	Version string // the osiris version, stated in hello
	// Stderr receives the worker's log lines, masked by value.
	Stderr io.Writer
	// OnRun is called with the engine options before a run starts (the
	// command sets the Go memory limit from the budget).
	OnRun func(exec.Options)
}

// Serve speaks the protocol on in/out until bye, the end of in, or a
// protocol error. It runs at most one manifest at a time, with the same
// exec.Engine a local run uses.
func Serve(ctx context.Context, in io.Reader, out io.Writer, opts WorkerOptions) error {
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	store, err := OpenStore(abs)
	if err != nil {
		return err
	}
	// Dead workers' leftovers go first: their run trees and partial
	// blobs; then this worker takes a tmp/ of its own.
	swept := sweepDead(filepath.Join(abs, "tmp")) + sweepDead(filepath.Join(abs, "runs"))
	sweepPids(filepath.Join(abs, "pids"))
	tmp, err := own(filepath.Join(abs, "tmp", randomID()))
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer tmp.release()
	store.tmp = tmp.path
	stderr := opts.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	w := &worker{
		dir:    abs,
		store:  store,
		enc:    NewEncoder(out),
		dec:    NewDecoder(in),
		opts:   opts,
		masker: workspace.NewMasker(),
		puts:   map[uint64]*BlobWriter{},
	}
	w.stderr = stderr
	w.log = zerolog.New(w.masker.Writer(&lockedStderr{w: stderr})).With().Timestamp().Str("worker", "osiris").Logger()
	if swept > 0 {
		w.log.Info().Int("removed", swept).Msg("removed run trees and partial uploads of workers that died")
	}
	defer w.cleanup()
	return w.serve(ctx)
}

type lockedStderr struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedStderr) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type worker struct {
	dir    string
	store  *Store
	enc    *Encoder
	dec    *Decoder
	opts   WorkerOptions
	masker *workspace.Masker
	log    zerolog.Logger
	stderr io.Writer

	puts map[uint64]*BlobWriter
	// files are the next run's files, sent ahead in files frames.
	files map[string]string
	// outputs are the run directory's files by hash, served to get from
	// the run tree itself: the store keeps inputs and workspace outputs
	// (what a next run syncs), not every run's artifacts. The trees go when
	// the connection ends.
	outMu   sync.Mutex
	outputs map[string]string
	trees   []*ownedDir

	// bound is the client's max_store/keep_runs, applied after each run.
	bound *GCRequest

	runMu     sync.Mutex
	runCancel context.CancelCauseFunc
	runDone   chan struct{}
}

func (w *worker) send(f *Frame) error { return w.enc.Encode(f) }

func (w *worker) fail(re uint64, format string, args ...any) error {
	return w.send(NewFrame(TypeError, 0, re, ErrorBody{Message: w.masker.Mask(fmt.Sprintf(format, args...))}))
}

func (w *worker) serve(ctx context.Context) error {
	first, err := w.dec.Decode()
	if err != nil {
		return fmt.Errorf("worker: reading hello: %w", err)
	}
	if first.Type != TypeHello {
		w.fail(first.ID, "the first frame must be hello, got %s", first.Type)
		return fmt.Errorf("worker: first frame %s, not hello", first.Type)
	}
	var h Hello
	if err := first.DecodeBody(&h); err != nil {
		return err
	}
	w.bound = h.GC
	if h.Protocol != ProtocolVersion {
		msg := fmt.Sprintf("protocol version mismatch: the client (osiris %s) speaks protocol %d, this worker (osiris %s) speaks %d; use the same osiris version on both sides",
			orUnknown(h.OsirisVersion), h.Protocol, orUnknown(w.opts.Version), ProtocolVersion)
		w.fail(first.ID, "%s", msg)
		return errors.New("worker: " + msg)
	}
	casBytes, _ := w.store.Usage()
	if err := w.send(NewFrame(TypeHello, 0, first.ID, Hello{
		Protocol: ProtocolVersion, OsirisVersion: w.opts.Version, OS: runtime.GOOS, Arch: runtime.GOARCH,
		CASBytes: casBytes, FreeBytes: w.store.FreeBytes(), Dir: w.dir,
	})); err != nil {
		return err
	}
	for {
		f, err := w.dec.Decode()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("worker: the client closed the connection without bye")
			}
			return fmt.Errorf("worker: %w", err)
		}
		switch f.Type {
		case TypeHave:
			var b Hashes
			if err := f.DecodeBody(&b); err != nil {
				return err
			}
			miss := []string{}
			for _, h := range b.Hashes {
				if !w.store.Verify(h) {
					miss = append(miss, h)
				}
			}
			bad := w.store.Corrupted()
			for _, h := range bad {
				w.log.Warn().Str("blob", h).Msg("a blob in the store did not match its sha256 (changed on the sandbox's disk); removed it and asked the client for it again")
			}
			err = w.send(NewFrame(TypeMissing, 0, f.ID, Hashes{Hashes: miss, Corrupted: bad}))
		case TypePut:
			err = w.put(f)
		case TypeData:
			err = w.data(f)
		case TypeFiles:
			var fc FilesChunk
			if err := f.DecodeBody(&fc); err != nil {
				return err
			}
			if w.files == nil {
				w.files = map[string]string{}
			}
			for p, h := range fc.Files {
				w.files[p] = h
			}
		case TypeRun:
			err = w.startRun(ctx, f)
		case TypeCancel:
			w.runMu.Lock()
			if w.runCancel != nil {
				w.runCancel(errors.New("the client asked to cancel"))
			}
			w.runMu.Unlock()
		case TypeGet:
			err = w.get(f)
		case TypeStatus:
			err = w.status(ctx, f)
		case TypeGC:
			var req GCRequest
			if err := f.DecodeBody(&req); err != nil {
				return err
			}
			w.waitRun()
			err = w.send(NewFrame(TypeGC, 0, f.ID, w.collect(req)))
		case TypeBye:
			w.waitRun()
			if w.bound != nil {
				w.collect(*w.bound)
			}
			return nil
		default:
			err = w.fail(f.ID, "unknown request %q", f.Type)
		}
		if err != nil {
			return err
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (w *worker) put(f *Frame) error {
	var p Put
	if err := f.DecodeBody(&p); err != nil {
		return err
	}
	if w.store.Has(p.Hash) && p.Size == 0 {
		return w.send(NewFrame(TypeStored, 0, f.ID, Stored{Hash: p.Hash}))
	}
	bw, err := w.store.Writer(p.Hash, p.Size)
	if err != nil {
		return w.fail(f.ID, "%v", err)
	}
	if p.Size == 0 {
		return w.commit(f.ID, bw, p.Hash)
	}
	w.puts[f.ID] = bw
	return nil
}

func (w *worker) data(f *Frame) error {
	bw := w.puts[f.Re]
	if bw == nil {
		return w.fail(f.Re, "data for no open put")
	}
	if _, err := bw.Write(f.Payload); err != nil {
		bw.Abort()
		delete(w.puts, f.Re)
		return w.fail(f.Re, "%v", err)
	}
	if bw.Remaining() == 0 {
		delete(w.puts, f.Re)
		return w.commit(f.Re, bw, bw.want)
	}
	return nil
}

func (w *worker) commit(id uint64, bw *BlobWriter, h string) error {
	if err := bw.Commit("upload of blob " + short(h)); err != nil {
		w.log.Error().Err(err).Msg("refused a blob")
		return w.fail(id, "%v", err)
	}
	return w.send(NewFrame(TypeStored, 0, id, Stored{Hash: h}))
}

func (w *worker) get(f *Frame) error {
	var g Get
	if err := f.DecodeBody(&g); err != nil {
		return err
	}
	file, size, err := w.store.Open(g.Hash)
	if err != nil {
		w.outMu.Lock()
		p, ok := w.outputs[g.Hash]
		w.outMu.Unlock()
		if !ok {
			return w.fail(f.ID, "get: %v", err)
		}
		if file, err = os.Open(p); err != nil {
			return w.fail(f.ID, "get: %v", err)
		}
		st, err := file.Stat()
		if err != nil {
			file.Close()
			return w.fail(f.ID, "get: %v", err)
		}
		size = st.Size()
	}
	defer file.Close()
	if err := w.send(NewFrame(TypeBlob, 0, f.ID, Blob{Hash: g.Hash, Size: size})); err != nil {
		return err
	}
	return sendChunks(w.enc, f.ID, file, size)
}

// sendChunks streams size bytes of r as data frames answering id.
func sendChunks(enc *Encoder, id uint64, r io.Reader, size int64) error {
	buf := make([]byte, ChunkBytes)
	for size > 0 {
		n := int64(len(buf))
		if size < n {
			n = size
		}
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return fmt.Errorf("reading blob: %w", err)
		}
		if err := enc.Encode(&Frame{Type: TypeData, Re: id, Payload: buf[:n]}); err != nil {
			return err
		}
		size -= n
	}
	return nil
}

func (w *worker) status(ctx context.Context, f *Frame) error {
	var req StatusRequest
	if err := f.DecodeBody(&req); err != nil {
		return err
	}
	st := Status{FreeBytes: w.store.FreeBytes()}
	st.CASBytes, st.CASBlobs = w.store.Usage()
	st.RunsBytes = dirBytes(filepath.Join(w.dir, "runs"))
	st.TmpBytes = dirBytes(filepath.Join(w.dir, "tmp"))
	st.BinBytes = dirBytes(filepath.Join(w.dir, "bin"))
	if refs, err := os.ReadDir(filepath.Join(w.dir, "refs")); err == nil {
		st.KeptRuns = len(refs)
	}
	var d net.Dialer
	for _, c := range req.Reach {
		if c.Addr == "" {
			st.Reach = append(st.Reach, c)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		conn, err := d.DialContext(cctx, "tcp", c.Addr)
		cancel()
		if err == nil {
			conn.Close()
			c.OK = true
		} else {
			c.Error = err.Error()
		}
		st.Reach = append(st.Reach, c)
	}
	return w.send(NewFrame(TypeStatus, 0, f.ID, st))
}

func (w *worker) waitRun() {
	w.runMu.Lock()
	done := w.runDone
	w.runMu.Unlock()
	if done != nil {
		<-done
	}
}

// cleanup cancels a run still going (the client went away) and drops the
// run artifacts this connection stored.
func (w *worker) cleanup() {
	w.runMu.Lock()
	if w.runCancel != nil {
		w.runCancel(errors.New("the client went away"))
	}
	w.runMu.Unlock()
	w.waitRun()
	for _, bw := range w.puts {
		bw.Abort()
	}
	w.outMu.Lock()
	defer w.outMu.Unlock()
	for _, t := range w.trees {
		t.release()
	}
	w.trees = nil
}

// collect bounds the sandbox: dead workers' leftovers, run records beyond
// keep_runs, then unreferenced blobs least recently used first.
func (w *worker) collect(req GCRequest) GCResult {
	runs := sweepDead(filepath.Join(w.dir, "tmp")) + sweepDead(filepath.Join(w.dir, "runs"))
	pinned := keptRefs(filepath.Join(w.dir, "refs"), req.KeepRuns)
	// While another client's worker runs on this sandbox, blobs used in
	// the last hour stay: its run may have checked them and not yet laid
	// them out.
	var keepAfter int64
	if liveOthers(filepath.Join(w.dir, "tmp"), w.store.tmp) {
		keepAfter = time.Now().Add(-time.Hour).UnixNano()
	}
	res := w.store.Prune(req.MaxStore, pinned, keepAfter)
	res.RunsRemoved = runs
	res.BinsRemoved = pruneBinaries(filepath.Join(w.dir, "bin"))
	if res.BlobsRemoved > 0 || res.OverBound {
		w.log.Info().Int("blobs_removed", res.BlobsRemoved).Int64("bytes_freed", res.BytesFreed).Int64("store_bytes", res.StoreBytes).
			Bool("over_bound", res.OverBound).Msg("bounded the sandbox store")
	}
	return res
}

func (w *worker) startRun(ctx context.Context, f *Frame) error {
	var req RunRequest
	if err := f.DecodeBody(&req); err != nil {
		return err
	}
	if req.Files == nil {
		req.Files = map[string]string{}
	}
	for p, h := range w.files {
		req.Files[p] = h
	}
	w.files = nil
	w.runMu.Lock()
	defer w.runMu.Unlock()
	if w.runDone != nil {
		select {
		case <-w.runDone:
		default:
			return w.fail(f.ID, "a run is already going on this connection")
		}
	}
	if !safeRunID(req.RunID) {
		return w.fail(f.ID, "run id %q is not a plain name", req.RunID)
	}
	// Secrets first: everything the run emits from here on is masked.
	conns := map[string]*workspace.Connection{}
	for _, c := range req.Connections {
		conn, err := c.Conn.connection()
		if err != nil {
			return w.fail(f.ID, "%v", err)
		}
		if conn == nil {
			return w.fail(f.ID, "connection %s without values", c.Ref)
		}
		w.masker.Add(connectionSecrets(conn.Values)...)
		conns[c.Family+"\x00"+c.Ref] = conn
	}
	for k, v := range req.Env {
		if workspace.IsSecretKey(k) || workspace.HasCredential(v) {
			w.masker.Add(v)
		}
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	w.runCancel = cancel
	if req.TimeoutMs > 0 {
		var stop context.CancelFunc
		runCtx, stop = context.WithTimeout(runCtx, time.Duration(req.TimeoutMs)*time.Millisecond)
		prev := cancel
		cancel = func(err error) { prev(err); stop() }
	}
	w.runDone = make(chan struct{})
	go func() {
		defer close(w.runDone)
		defer cancel(nil)
		done := w.run(runCtx, f.ID, &req, conns)
		if err := w.send(NewFrame(TypeDone, 0, f.ID, done)); err != nil {
			w.log.Error().Err(err).Msg("sending done")
		}
	}()
	return nil
}

func safeRunID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func connectionSecrets(vals map[string]any) []string {
	var out []string
	for k, v := range vals {
		if s, ok := v.(string); ok && (workspace.IsSecretKey(k) || workspace.HasCredential(s)) {
			out = append(out, s)
		}
	}
	return out
}

// logFrames sends each log line (one zerolog write) as a log frame
// answering the run request, masked and bounded.
type logFrames struct {
	w  *worker
	re uint64
}

func (l logFrames) Write(p []byte) (int, error) {
	line := l.w.masker.MaskBytes(p)
	if len(line) > 64<<10 {
		line = append(line[:64<<10:64<<10], '\n')
	}
	if err := l.w.send(&Frame{Type: TypeLog, Re: l.re, Payload: line}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// frameSink sends events and metrics as frames answering the run request.
type frameSink struct {
	w  *worker
	re uint64
}

func (s frameSink) Emit(e exec.Event) {
	if err := s.w.send(NewFrame(TypeEvent, 0, s.re, e)); err != nil {
		s.w.log.Error().Err(err).Msg("sending an event")
	}
}

func (s frameSink) EmitMetric(m exec.Metric) {
	if err := s.w.send(NewFrame(TypeMetric, 0, s.re, m)); err != nil {
		s.w.log.Error().Err(err).Msg("sending a metric")
	}
}

// run materialises the tree, runs the engine and stores what it produced.
func (w *worker) run(ctx context.Context, id uint64, req *RunRequest, conns map[string]*workspace.Connection) Done {
	owned, err := own(filepath.Join(w.dir, "runs", req.RunID))
	if err != nil {
		return Done{Status: exec.StatusFailed, Error: fmt.Sprintf("run tree: %v", err)}
	}
	tree := owned.path
	w.outMu.Lock()
	w.trees = append(w.trees, owned)
	w.outMu.Unlock()
	fail := func(err error) Done {
		msg := w.masker.Mask(err.Error())
		w.log.Error().Str("run_id", req.RunID).Msg(msg)
		return Done{Status: exec.StatusFailed, Error: msg}
	}
	if err := os.RemoveAll(tree); err != nil {
		return fail(err)
	}
	writable := map[string]bool{}
	for _, p := range req.Writable {
		writable[p] = true
	}
	if err := w.store.Materialize(tree, req.Files, writable); err != nil {
		var cb *CorruptBlobsError
		if errors.As(err, &cb) {
			w.store.Corrupted()
			w.log.Warn().Strs("blobs", cb.Hashes).Msg(err.Error() + "; asking the client for them again")
			d := fail(err)
			d.Missing = cb.Hashes
			return d
		}
		return fail(err)
	}
	m, err := compile.LoadManifest(filepath.Join(tree, "manifest"))
	if err != nil {
		return fail(err)
	}
	wsDir := filepath.Join(tree, "ws")
	runDir := filepath.Join(tree, "run")
	for _, d := range []string{wsDir, runDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(err)
		}
	}
	files, err := workspace.NewFiles(wsDir)
	if err != nil {
		return fail(err)
	}
	for k, v := range req.Env {
		os.Setenv(k, v)
	}
	if w.opts.OnRun != nil {
		w.opts.OnRun(req.Options.engine())
	}
	engine := &exec.Engine{Options: req.Options.engine()}
	sink := frameSink{w: w, re: id}
	// SQL names files relative to the workspace root and DuckDB resolves
	// them against the working directory: the run's ws/ is it while the
	// engine runs (one run at a time per worker), as the root is for a
	// local run.
	back, err := chdir(wsDir)
	if err != nil {
		return fail(err)
	}
	res, runErr := engine.Run(ctx, m, exec.RunEnv{
		RunID:  req.RunID,
		RunDir: runDir,
		Files:  files,
		Connect: func(_ context.Context, ref, family string) (*workspace.Connection, error) {
			if c, ok := conns[family+"\x00"+ref]; ok {
				return c, nil
			}
			return nil, fmt.Errorf("connection %s was not sent to the sandbox", orDefaultRef(ref, family))
		},
		Sink:    sink,
		Metrics: sink,
		Masker:  w.masker,
		// Driver logs go to stderr and, as log frames, into the client's
		// osiris.log: the same run directory as a local run. Masked first.
		Log: zerolog.New(io.MultiWriter(w.masker.Writer(&lockedStderr{w: w.stderr}), logFrames{w: w, re: id})).
			With().Timestamp().Str("run_id", req.RunID).Logger(),
	})
	if err := back(); err != nil {
		return fail(err)
	}
	done := Done{Result: wireResult(res), Artifacts: map[string]string{}, Sizes: map[string]int64{}}
	if res != nil {
		done.Status = res.Status
	} else {
		done.Status = exec.StatusFailed
	}
	if runErr != nil {
		done.Error = w.masker.Mask(runErr.Error())
	}
	// What the run produced, into the store: the run directory's files
	// (artifacts) and the workspace outputs the client asked for.
	var paths []string
	filepath.WalkDir(runDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == ".tmp" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(tree, p)
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	for _, p := range req.Outputs {
		if CheckTreePath(p) != nil || !strings.HasPrefix(p, "ws/") {
			continue
		}
		if st, err := os.Stat(filepath.Join(tree, filepath.FromSlash(p))); err == nil && st.Mode().IsRegular() {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		abs := filepath.Join(tree, filepath.FromSlash(p))
		var h string
		var size int64
		var err error
		if strings.HasPrefix(p, "run/") {
			h, size, err = HashFile(abs)
			if err == nil {
				w.outMu.Lock()
				if w.outputs == nil {
					w.outputs = map[string]string{}
				}
				w.outputs[h] = abs
				w.outMu.Unlock()
			}
		} else {
			h, size, err = w.store.AddFile(abs)
		}
		if err != nil {
			d := fail(fmt.Errorf("storing output %s: %w", p, err))
			d.Result = done.Result
			return d
		}
		done.Artifacts[p], done.Sizes[p] = h, size
	}
	// The blobs this run used, so that the store keeps them for the next
	// keep_runs runs whatever its size.
	var used []string
	for _, h := range req.Files {
		used = append(used, h)
	}
	for p, h := range done.Artifacts {
		if strings.HasPrefix(p, "ws/") {
			used = append(used, h)
		}
	}
	if err := writeRefs(filepath.Join(w.dir, "refs"), req.RunID, used); err != nil {
		w.log.Warn().Err(err).Msg("recording the run's blobs")
	}
	return done
}

func orDefaultRef(ref, family string) string {
	if ref != "" {
		return ref
	}
	return "the default " + family + " connection"
}

// chdir makes dir the working directory; back restores the previous one.
func chdir(dir string) (back func() error, err error) {
	prev, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if err := os.Chdir(dir); err != nil {
		return nil, err
	}
	return func() error { return os.Chdir(prev) }, nil
}
