package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/rs/zerolog"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// DefaultBatchRows is used when Options.BatchRows is not set.
const DefaultBatchRows = 65536

// batchBytesFor is the payload bound of a batch (and of a parquet row
// group) for a memory budget: an eighth of the budget, between 1 MiB and
// component.DefaultBatchBytes (64 MiB); 64 MiB when the budget is 0 or
// unlimited. Batches end at run.batch_rows rows or at this many bytes,
// whichever comes first: narrow rows never reach it, 1 MB TEXT values do.
func batchBytesFor(budget int64) int64 {
	if budget <= 0 {
		return component.DefaultBatchBytes
	}
	return min(max(budget/8, 1<<20), component.DefaultBatchBytes)
}

// Options are the run settings from osiris.toml [run].
type Options struct {
	// MemoryBudget is shared by all steps' in-memory outputs: 0 keeps nothing
	// in memory (everything goes through parquet), -1 is unlimited.
	MemoryBudget int64
	// MaxParallel is run.max_parallel_steps; values < 1 mean 1.
	MaxParallel int
	// BatchRows is run.batch_rows, the target rows per record batch.
	BatchRows int
	// Compression is the parquet codec: zstd (default), snappy, gzip, none.
	Compression string
	// Streaming is run.streaming: a consumer may start while its upstream
	// still runs and read its batches as they are produced (stream.go).
	Streaming bool
}

// Engine executes compiled manifests. The zero value runs one step at a time
// with no memory budget.
type Engine struct{ Options Options }

// RunEnv is everything a run needs from its caller. The engine does not know
// whether it runs locally or in a sandbox.
type RunEnv struct {
	RunID string // a ULID from NewRunID
	// RunDir is absolute; artifacts go to RunDir/artifacts/<step>/output.parquet.
	RunDir string
	Files  *workspace.Files
	// Connect resolves "@family.alias" (or "" → the family's default) at run
	// time. It is called once per distinct reference, before the first step.
	Connect func(ctx context.Context, ref, family string) (*workspace.Connection, error)
	// Sink receives every event, envelope complete.
	Sink EventSink
	// Metrics receives per-step and per-run metrics. When nil and Sink also
	// implements MetricSink (the Recorder's does), Sink gets them.
	Metrics MetricSink
	// Masker hides secret values in every error text and event string; may be nil.
	Masker *workspace.Masker
	Log    zerolog.Logger
	// Alloc is the Arrow allocator handed to drivers and parquet readers;
	// nil means memory.DefaultAllocator (tests pass a checked one).
	Alloc memory.Allocator
	// StepCache reuses step outputs of earlier runs (spec 05); nil executes
	// every step and records nothing.
	StepCache *StepCache
}

// stepPlan is a step with everything resolved before the run starts.
type stepPlan struct {
	idx     int
	step    *compile.Step
	spec    component.Spec
	driver  any
	timeout time.Duration
	conn    *workspace.Connection
	out     *stepOutput // nil for writers
	sink    bool        // no consumers: its rows count in rows_total
	// cacheKey is set by cacheLookup for cacheStore (stepcache.go).
	cacheKey *stepKey
	// streamable: the step may start while an upstream still runs. Its
	// cache key needs the inputs' digests, so only a step the step cache
	// would execute anyway streams: a writer unless --reuse-writes, a
	// transform when nothing is reused (no step cache or --no-cache).
	streamable bool
}

// run is the state of one Engine.Run.
type run struct {
	opts      Options
	m         *compile.Manifest
	env       RunEnv
	em        *emitter
	cache     *hybridCache
	codec     compress.Compression
	batchRows int
	// batchBytes bounds a batch's payload and a parquet row group's.
	batchBytes int64
	plans      []*stepPlan
	byID       map[string]*stepPlan
	tmpRoot    string
	alloc      memory.Allocator
	// wake tells the scheduler that a stream opened (a consumer may start).
	wake chan struct{}
}

// wakeScheduler lets the scheduler look for steps that became ready.
func (r *run) wakeScheduler() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *run) mask(s string) string { return r.env.Masker.Mask(s) }

// Run executes m. It returns a Result for every run that got as far as
// run_start (always, unless m is nil), and a non-nil error when the run did
// not succeed: a *StepError for a failed step or a configuration problem,
// an error wrapping ErrCancelled when ctx was cancelled.
func (e *Engine) Run(ctx context.Context, m *compile.Manifest, env RunEnv) (*Result, error) {
	if m == nil {
		return nil, errors.New("exec: nil manifest")
	}
	started := time.Now()
	metrics := env.Metrics
	if metrics == nil {
		metrics, _ = env.Sink.(MetricSink)
	}
	r := &run{
		opts:      e.Options,
		m:         m,
		env:       env,
		batchRows: e.Options.BatchRows,
		byID:      map[string]*stepPlan{},
		alloc:     env.Alloc,
		wake:      make(chan struct{}, 1),
	}
	if r.alloc == nil {
		r.alloc = memory.DefaultAllocator
	}
	if r.batchRows <= 0 {
		r.batchRows = DefaultBatchRows
	}
	r.batchBytes = batchBytesFor(e.Options.MemoryBudget)
	r.em = &emitter{runID: env.RunID, sink: env.Sink, metrics: metrics, mask: r.mask, now: time.Now}
	r.cache = newHybridCache(e.Options.MemoryBudget)
	defer r.cache.releaseAll()

	res := &Result{RunID: env.RunID, Started: started, Steps: make([]StepResult, len(m.Steps))}
	defer func() { res.Started, res.Ended = displayTime(res.Started), displayTime(res.Ended) }()
	for i, s := range m.Steps {
		res.Steps[i] = StepResult{ID: s.ID, Component: s.Component}
	}
	r.em.emit(EventRunStart, "", map[string]any{
		"pipeline":           m.Pipeline.Name,
		"pipeline_file":      m.Pipeline.File,
		"profile":            m.Profile,
		"manifest_hash":      m.ManifestHash,
		"steps":              len(m.Steps),
		"memory_budget":      e.Options.MemoryBudget,
		"max_parallel_steps": max(e.Options.MaxParallel, 1),
		"batch_rows":         r.batchRows,
		"batch_bytes":        r.batchBytes,
		// Who ran it: the binary's version, the host and the process.
		"osiris_version": compile.Version,
		"host":           hostname(),
		"pid":            os.Getpid(),
	})

	if failStep, err := r.prepare(ctx); err != nil {
		return r.finishConfigError(res, failStep, err)
	}
	r.em.emit(EventConnectionsResolved, "", map[string]any{"connections": r.connectionRefs()})
	defer os.RemoveAll(r.tmpRoot)

	r.schedule(ctx, res)
	return r.finish(res)
}

// prepare checks everything that can be checked before a step runs:
// options, drivers, timeouts, artifact paths, connections. It returns the
// id of the step a problem belongs to ("" for run-level problems).
func (r *run) prepare(ctx context.Context) (string, error) {
	if r.env.RunDir == "" || !filepath.IsAbs(r.env.RunDir) {
		return "", fmt.Errorf("run directory %q must be an absolute path", r.env.RunDir)
	}
	codec, err := compressionCodec(r.opts.Compression)
	if err != nil {
		return "", err
	}
	r.codec = codec
	r.tmpRoot = filepath.Join(r.env.RunDir, ".tmp")

	conns := map[string]*workspace.Connection{}
	for i := range r.m.Steps {
		s := &r.m.Steps[i]
		if !safeSegment(s.ID) {
			return s.ID, fmt.Errorf("step id %q cannot be used as a directory name", s.ID)
		}
		if _, dup := r.byID[s.ID]; dup {
			return s.ID, fmt.Errorf("step id %q appears twice in the manifest", s.ID)
		}
		spec, ok := component.Lookup(s.Component)
		if !ok {
			return s.ID, fmt.Errorf("unknown component %q (the binary has no such component; recompile the pipeline)", s.Component)
		}
		drv := component.Driver(s.Component)
		if drv == nil {
			return s.ID, fmt.Errorf("component %q has no driver in this build", s.Component)
		}
		p := &stepPlan{idx: i, step: s, spec: spec, driver: drv}
		if s.Timeout != "" {
			d, err := time.ParseDuration(s.Timeout)
			if err != nil || d <= 0 {
				return s.ID, fmt.Errorf("timeout %q is not a positive duration such as 10m", s.Timeout)
			}
			p.timeout = d
		}
		for _, n := range s.Needs {
			up, ok := r.byID[n]
			if !ok {
				return s.ID, fmt.Errorf("needs %q, which is not an earlier step of the manifest", n)
			}
			if up.out == nil {
				return s.ID, fmt.Errorf("needs %q, a %s step that produces no table", n, up.spec.Role)
			}
		}
		if spec.Role == component.RoleWrite && len(s.Needs) != 1 {
			return s.ID, fmt.Errorf("a writer takes exactly one input; it needs %d steps", len(s.Needs))
		}
		consumers := r.m.Consumers(s.ID)
		p.sink = len(consumers) == 0
		if spec.Role != component.RoleWrite {
			abs := filepath.Join(r.env.RunDir, "artifacts", s.ID, "output.parquet")
			p.out = &stepOutput{
				cache:         r.cache,
				stepID:        s.ID,
				path:          abs,
				relPath:       "artifacts/" + s.ID + "/output.parquet",
				holding:       r.opts.MemoryBudget != 0 && len(consumers) > 0,
				consumersLeft: len(consumers),
				streaming:     r.opts.Streaming && len(consumers) > 0,
				endedCh:       make(chan struct{}),
			}
			r.cache.add(p.out)
		}
		if family, ref, needsConn := StepConnection(s); needsConn {
			if r.env.Connect == nil {
				return s.ID, errors.New("needs a connection but the run has no connection resolver")
			}
			key := family + "\x00" + ref
			c, ok := conns[key]
			if !ok {
				c, err = r.env.Connect(ctx, ref, family)
				if err != nil {
					return s.ID, fmt.Errorf("resolving connection %s: %w", orDefault(s.Connection, spec.Families[0]), err)
				}
				if c == nil {
					return s.ID, fmt.Errorf("resolving connection %s: no connection", orDefault(s.Connection, spec.Families[0]))
				}
				conns[key] = c
			}
			p.conn = c
		}
		if r.opts.Streaming && len(s.Needs) > 0 {
			c := r.env.StepCache
			switch spec.Role {
			case component.RoleWrite:
				p.streamable = c == nil || !c.ReuseWrites
			case component.RoleTransform:
				p.streamable = c == nil || c.NoReuse
			}
		}
		r.plans = append(r.plans, p)
		r.byID[s.ID] = p
	}
	return "", nil
}

// StepConnection says whether step s needs a connection at run time and
// which: the family and the reference as the manifest wrote it ("" means
// the family's default). The engine resolves exactly these through
// RunEnv.Connect; a remote client sends exactly these to its sandbox.
func StepConnection(s *compile.Step) (family, ref string, needs bool) {
	spec, ok := component.Lookup(s.Component)
	if !ok || len(spec.Families) == 0 || !(spec.ConnectionRequired || s.Connection != "") {
		return "", "", false
	}
	return spec.Families[0], s.Connection, true
}

func orDefault(ref, family string) string {
	if ref != "" {
		return ref
	}
	return "the default " + family + " connection"
}

func safeSegment(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsAny(id, `/\`+"\x00")
}

func (r *run) connectionRefs() []string {
	seen := map[string]bool{}
	refs := []string{}
	for _, p := range r.plans {
		if p.conn != nil && !seen[p.conn.Ref()] {
			seen[p.conn.Ref()] = true
			refs = append(refs, p.conn.Ref())
		}
	}
	sort.Strings(refs)
	return refs
}

// finishConfigError ends a run that failed before its first step.
func (r *run) finishConfigError(res *Result, failStep string, err error) (*Result, error) {
	msg := r.mask(err.Error())
	for i := range res.Steps {
		s := &res.Steps[i]
		if s.ID == failStep {
			s.Status = StatusFailed
			s.Error = msg
			r.em.emit(EventStepError, s.ID, map[string]any{"error": msg, "status": StatusFailed})
			continue
		}
		s.Status = StatusSkipped
		r.em.emit(EventStepSkipped, s.ID, map[string]any{"reason": "the run failed before its first step"})
	}
	res.Status = StatusFailed
	res.FailedStep = failStep
	res.Error = msg
	res.Ended = time.Now()
	res.DurationMs = res.Ended.Sub(res.Started).Milliseconds()
	r.em.emit(EventRunError, "", map[string]any{"error": msg, "failed_step": failStep, "duration_ms": res.DurationMs})
	r.runMetrics(res)
	return res, &StepError{Step: failStep, Msg: msg, Err: err}
}

type stepDone struct {
	idx int
	res StepResult
	err error
}

// schedule runs the DAG: a step starts when all its needs succeeded, at
// most MaxParallel at once, ties in manifest order. The first failure
// cancels the running steps and nothing new starts.
func (r *run) schedule(ctx context.Context, res *Result) {
	const (
		pending = iota
		running
		finished
	)
	n := len(r.plans)
	state := make([]int, n)
	maxPar := max(r.opts.MaxParallel, 1)
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	doneCh := make(chan stepDone)
	active := 0
	stopping := false
	ctxDone := ctx.Done()

	ready := func(i int) bool {
		for _, need := range r.plans[i].step.Needs {
			up := r.byID[need]
			if res.Steps[up.idx].Status == StatusSuccess {
				continue
			}
			// Streaming: a running upstream whose stream still has every
			// batch can be consumed while it runs.
			if r.plans[i].streamable && state[up.idx] == running && up.out.canSubscribe() {
				continue
			}
			return false
		}
		return true
	}
	for {
		if !stopping && ctx.Err() != nil {
			// Cancelled between steps (or before the first): start nothing more.
			stopping = true
			cancelRun(fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx)))
		}
		if !stopping {
			var starting []int
			for i := 0; i < n && active < maxPar; i++ {
				if state[i] == pending && ready(i) {
					state[i] = running
					active++
					starting = append(starting, i)
					// Subscribe to running upstreams now, before any step
					// started together takes a batch that would then be
					// let go.
					if p := r.plans[i]; p.streamable {
						for _, need := range p.step.Needs {
							if up := r.byID[need]; state[up.idx] == running {
								up.out.subscribe(p.step.ID, len(p.step.Needs) == 1)
							}
						}
					}
				}
			}
			for _, i := range starting {
				// step_start is emitted here, not on the step's goroutine,
				// so events of steps started together keep manifest order.
				started := time.Now()
				s := r.plans[i].step
				r.em.emit(EventStepStart, s.ID, map[string]any{"component": s.Component, "mode": s.Mode, "needs": append([]string{}, s.Needs...)})
				go r.execStep(runCtx, r.plans[i], started, doneCh)
			}
		}
		if active == 0 {
			break
		}
		select {
		case d := <-doneCh:
			active--
			state[d.idx] = finished
			res.Steps[d.idx] = d.res
			for _, need := range r.plans[d.idx].step.Needs {
				r.byID[need].out.consumerFinished(r.plans[d.idx].step.ID)
			}
			if d.res.Status == StatusFailed && res.FailedStep == "" {
				res.FailedStep = d.res.ID
				res.Error = d.res.Error
			}
			if d.res.Status != StatusSuccess && d.res.ReusedRun == "" && !stopping {
				stopping = true
				if d.res.Status == StatusFailed {
					cancelRun(fmt.Errorf("step %q failed", d.res.ID))
				} else {
					cancelRun(context.Cause(runCtx))
				}
			}
		case <-r.wake:
			// A stream opened: look for consumers that can start.
		case <-ctxDone:
			ctxDone = nil
			if !stopping {
				stopping = true
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					// The caller's time limit (osiris run --timeout): the
					// running steps fail, the run fails (exit 1).
					cancelRun(ErrRunTimedOut)
				} else {
					cancelRun(fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx)))
				}
			}
		}
	}
	for i := range state {
		if state[i] != pending {
			continue
		}
		s := &res.Steps[i]
		s.Status = StatusSkipped
		reason := "an earlier step failed"
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			reason = ErrRunTimedOut.Error()
		case ctx.Err() != nil:
			reason = "the run was cancelled"
		case res.FailedStep == "":
			// No failure, yet the step never became ready: a manifest whose
			// needs cannot be met. Fail the run rather than hide it.
			res.FailedStep = s.ID
			res.Error = "the step's needs never succeeded"
			reason = res.Error
		}
		r.em.emit(EventStepSkipped, s.ID, map[string]any{"reason": reason})
		for _, need := range r.plans[i].step.Needs {
			r.byID[need].out.consumerFinished(s.ID)
		}
	}
}

// execStep runs one step on its own goroutine and reports to done. A
// driver panic becomes a step error, not a crashed run.
func (r *run) execStep(ctx context.Context, p *stepPlan, started time.Time, done chan<- stepDone) {
	var sr StepResult
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				r.env.Log.Error().Str("step", p.step.ID).Str("stack", r.mask(string(debug.Stack()))).Msg("driver panicked")
				err = fmt.Errorf("driver panicked: %v", v)
				if sr.ID == "" {
					sr = StepResult{ID: p.step.ID, Component: p.step.Component, Cache: "miss", mono: started}
				}
				if p.out != nil {
					p.out.mu.Lock()
					p.out.complete = false
					p.out.mu.Unlock()
				}
				sr = r.endStep(ctx, p, sr, ctx, err)
			}
		}()
		sr, err = r.runStep(ctx, p, started)
	}()
	done <- stepDone{idx: p.idx, res: sr, err: err}
}

// runStep executes one step: inputs, driver, tee or write check, events.
func (r *run) runStep(ctx context.Context, p *stepPlan, start time.Time) (StepResult, error) {
	step := p.step
	sr := StepResult{ID: step.ID, Component: step.Component, Cache: "miss", mono: start}
	// A step started on a running upstream's stream looks its key up once
	// the inputs' digests exist; it would not reuse anything (streamable).
	deferLookup := p.streamable && r.anyNeedRunning(p)
	if !deferLookup && r.cacheLookup(p, &sr) {
		if sr.Status == StatusSkipped {
			return r.skipReused(p, sr), nil
		}
		sr = r.endStep(ctx, p, sr, ctx, nil)
		if p.out != nil {
			p.out.endStream(nil)
		}
		r.cacheStore(p, sr)
		return sr, nil
	}
	r.beforeWrite(p)

	stepCtx := ctx
	if p.timeout > 0 {
		var cancel context.CancelFunc
		stepCtx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	tmp := filepath.Join(r.tmpRoot, step.ID)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return r.endStep(ctx, p, sr, stepCtx, fmt.Errorf("creating temp dir: %w", err)), nil
	}
	defer os.RemoveAll(tmp)

	var delivered atomic.Int64
	inputs, sources, rowsIn, err := r.resolveInputs(stepCtx, p, &delivered)
	sr.Inputs, sr.RowsIn = sources, rowsIn
	if err != nil {
		return r.endStep(ctx, p, sr, stepCtx, err), nil
	}
	if len(sources) > 0 {
		list := make([]map[string]any, 0, len(sources))
		for _, s := range sources {
			list = append(list, map[string]any{"step": s.Step, "names": s.Names, "source": s.Source, "rows": s.Rows, "bytes": s.Bytes})
		}
		r.em.emit(EventInputsResolved, step.ID, map[string]any{"inputs": list})
	}

	log := r.env.Log.With().Str("step", step.ID).Str("component", step.Component).Logger()
	req := &component.Request{
		StepID:     step.ID,
		Component:  step.Component,
		Mode:       step.Mode,
		Config:     component.Config(step.Config),
		Conn:       p.conn,
		Files:      r.env.Files,
		BatchRows:  r.batchRows,
		BatchBytes: r.batchBytes,
		Alloc:      r.alloc,
		Log:        log,
		Warn: func(code, message string) {
			r.em.emit(EventStepWarning, step.ID, map[string]any{"code": code, "message": message})
		},
		Event:         func(name string, fields map[string]any) { r.em.emit(name, step.ID, fields) },
		TempDir:       tmp,
		WorkingMemory: r.cache.workingMemory,
	}
	if req.Config == nil {
		req.Config = component.Config{}
	}

	var rdr array.RecordReader
	switch p.spec.Role {
	case component.RoleExtract:
		rdr, err = p.driver.(component.Extractor).Extract(stepCtx, req)
	case component.RoleTransform:
		rdr, err = p.driver.(component.Transformer).Transform(stepCtx, req, inputs)
	case component.RoleWrite:
		in := inputs[0].Table
		stopProgress := r.writerProgress(stepCtx, step.ID, &delivered)
		var wr component.WriteResult
		wr, err = p.driver.(component.Writer).Write(stepCtx, req, in)
		stopProgress()
		if err == nil && wr.RowsWritten != in.Rows() {
			err = fmt.Errorf("rows written %d != rows received %d", wr.RowsWritten, in.Rows())
		}
		if err == nil {
			sr.RowsOut = wr.RowsWritten
			sr.Files = wr.Files
		}
	default:
		err = fmt.Errorf("component %q has unknown role %q", step.Component, p.spec.Role)
	}
	if err == nil && rdr == nil && p.spec.Role != component.RoleWrite {
		err = errors.New("driver returned no stream and no error")
	}
	if rdr != nil {
		var st teeStats
		st, err = r.tee(stepCtx, step.ID, p.out, rdr)
		rdr.Release()
		if err == nil {
			sr.RowsOut = st.rows
			sr.Artifact = st.artifact
			p.out.mu.Lock()
			p.out.rows = st.rows
			p.out.artifact = st.artifact
			p.out.complete = true
			p.out.mu.Unlock()
		}
	}
	if err == nil {
		err = r.streamedInputsDone(stepCtx, p, &sr)
	}
	if err == nil && deferLookup {
		r.cacheLookup(p, &sr)
	}
	if err != nil {
		return r.endStep(ctx, p, sr, stepCtx, err), err
	}
	sr = r.endStep(ctx, p, sr, stepCtx, nil)
	if p.out != nil {
		// Only now may its subscribers see the end of the stream (and a
		// writer commit): the artifact is committed and recorded.
		p.out.endStream(nil)
	}
	r.cacheStore(p, sr)
	return sr, nil
}

// failedStreamedInput is the id of an input of p whose step failed while
// p was running (only a streamed input can), or "".
func (r *run) failedStreamedInput(p *stepPlan) string {
	for _, need := range p.step.Needs {
		o := r.byID[need].out
		o.mu.Lock()
		failed := o.failErr != nil
		o.mu.Unlock()
		if failed {
			return need
		}
	}
	return ""
}

// anyNeedRunning reports whether an input of p has not ended yet.
func (r *run) anyNeedRunning(p *stepPlan) bool {
	for _, need := range p.step.Needs {
		o := r.byID[need].out
		o.mu.Lock()
		running := o.streaming && !o.ended
		o.mu.Unlock()
		if running {
			return true
		}
	}
	return false
}

// streamedInputsDone waits until every input the step read as a stream
// has ended successfully (a consumer never succeeds on an upstream that
// did not) and records the rows it delivered.
func (r *run) streamedInputsDone(ctx context.Context, p *stepPlan, sr *StepResult) error {
	for i := range sr.Inputs {
		in := &sr.Inputs[i]
		if in.Source != SourceStream {
			continue
		}
		up := r.byID[in.Step].out
		if err := up.waitEnded(ctx); err != nil {
			return err
		}
		up.mu.Lock()
		in.Rows = up.rows
		if up.artifact != nil {
			in.Bytes = up.artifact.Bytes
		}
		up.mu.Unlock()
		sr.RowsIn += in.Rows
	}
	return nil
}

// writerProgress emits step_progress for a writer (rows it has read) at most
// once a second until stopped.
func (r *run) writerProgress(ctx context.Context, step string, delivered *atomic.Int64) func() {
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.em.emit(EventStepProgress, step, map[string]any{"rows": delivered.Load()})
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { close(stop); <-finished }
}

// resolveInputs builds the consumer's tables for its needs, fixing each
// one's source (memory or parquet) now.
func (r *run) resolveInputs(ctx context.Context, p *stepPlan, delivered *atomic.Int64) (component.Inputs, []InputSource, int64, error) {
	step := p.step
	var inputs component.Inputs
	var sources []InputSource
	var rowsIn int64
	for _, need := range step.Needs {
		up := r.byID[need].out
		if up.streaming {
			if up.subscribe(step.ID, len(step.Needs) == 1) {
				src := InputSource{Step: need, Names: inputNames(step, need), Source: SourceStream}
				t := &inputTable{out: up, source: SourceStream, batchRows: r.batchRows, batchBytes: r.batchBytes, alloc: r.alloc, consumer: step.ID}
				if p.spec.Role == component.RoleWrite {
					t.delivered = delivered
				}
				inputs = append(inputs, component.Input{Names: src.Names, Table: t})
				sources = append(sources, src)
				continue
			}
			// Started while its upstream runs but too late to get every
			// batch: wait for the step to end, then read as without
			// streaming.
			if err := up.waitEnded(ctx); err != nil {
				return nil, nil, 0, err
			}
		}
		up.mu.Lock()
		complete, art, rows := up.complete, up.artifact, up.rows
		up.mu.Unlock()
		if !complete || art == nil {
			return nil, nil, 0, fmt.Errorf("input from step %q has no output (the step did not complete)", need)
		}
		src := InputSource{Step: need, Names: inputNames(step, need), Rows: rows}
		if mem, bytes := up.inMemory(); mem {
			src.Source, src.Bytes = SourceMemory, bytes
		} else {
			if _, err := os.Stat(up.path); err != nil {
				return nil, nil, 0, missingArtifactError(need, up.path, err)
			}
			src.Source, src.Bytes = SourceParquet, art.Bytes
		}
		t := &inputTable{out: up, source: src.Source, batchRows: r.batchRows, batchBytes: r.batchBytes, alloc: r.alloc, consumer: step.ID}
		if p.spec.Role == component.RoleWrite {
			t.delivered = delivered
		}
		inputs = append(inputs, component.Input{Names: src.Names, Table: t})
		sources = append(sources, src)
		rowsIn += rows
	}
	return inputs, sources, rowsIn, nil
}

// inputNames are the names a transform may use for an input
// (compile.InputNames: the validator checks the same names).
func inputNames(step *compile.Step, need string) []string { return compile.InputNames(step, need) }

// endStep classifies the outcome, emits the closing events and metrics.
// runCtx is the run's context, stepCtx the step's (with its timeout).
func (r *run) endStep(runCtx context.Context, p *stepPlan, sr StepResult, stepCtx context.Context, err error) StepResult {
	end := time.Now()
	if sr.mono.IsZero() {
		sr.mono = end
	}
	started, ended := displayTime(sr.mono), displayTime(end)
	sr.Started, sr.Ended = &started, &ended
	sr.DurationMs = end.Sub(sr.mono).Milliseconds()
	if p.out != nil {
		p.out.mu.Lock()
		sr.PeakMemoryBytes = p.out.peak
		p.out.mu.Unlock()
	}
	id := p.step.ID
	if err != nil {
		switch {
		case p.timeout > 0 && errors.Is(stepCtx.Err(), context.DeadlineExceeded) && runCtx.Err() == nil:
			err = fmt.Errorf("timed out after %s: %w", p.timeout, err)
			sr.Status = StatusFailed
		case errors.Is(runCtx.Err(), context.DeadlineExceeded) || errors.Is(context.Cause(runCtx), ErrRunTimedOut):
			sr.Status = StatusFailed
			err = fmt.Errorf("%w: %s", ErrRunTimedOut, trimStepPrefix(err.Error(), p.step.ID, p.step.Component))
		case runCtx.Err() != nil:
			sr.Status = StatusCancelled
			err = fmt.Errorf("cancelled: %v", context.Cause(runCtx))
		case r.failedStreamedInput(p) != "":
			// Its upstream failed mid-stream: that step is the run's
			// failure, this one stopped because of it.
			sr.Status = StatusCancelled
			err = fmt.Errorf("cancelled: input from step %q failed", r.failedStreamedInput(p))
		default:
			sr.Status = StatusFailed
		}
		sr.Error = r.mask(trimStepPrefix(err.Error(), p.step.ID, p.step.Component))
		sr.Artifact = nil
		sr.RowsOut = 0
		if p.out != nil {
			p.out.releaseMemory()
			p.out.endStream(errors.New(sr.Error))
		}
		r.em.emit(EventStepError, id, map[string]any{"error": sr.Error, "status": sr.Status, "duration_ms": sr.DurationMs})
	} else {
		sr.Status = StatusSuccess
		if a := sr.Artifact; a != nil {
			r.em.emit(EventArtifactWritten, id, map[string]any{
				"path": a.Path, "rows": a.Rows, "bytes": a.Bytes, "sha256": a.SHA256,
				"table_digest": a.TableDigest, "schema": columnsAny(a.Schema),
			})
		}
		fields := map[string]any{"rows_in": sr.RowsIn, "rows_out": sr.RowsOut, "duration_ms": sr.DurationMs, "cache": sr.Cache}
		if sr.CacheReason != "" {
			fields["cache_reason"] = sr.CacheReason
		}
		if sr.ReusedRun != "" {
			fields["reused_run"] = sr.ReusedRun
		}
		if len(sr.Files) > 0 {
			fields["files"] = append([]string{}, sr.Files...)
		}
		r.em.emit(EventStepComplete, id, fields)
	}
	var bytesWritten int64
	if sr.Artifact != nil {
		bytesWritten = sr.Artifact.Bytes
	}
	r.em.metric(id, MetricRowsRead, float64(sr.RowsIn), "rows")
	r.em.metric(id, MetricRowsWritten, float64(sr.RowsOut), "rows")
	r.em.metric(id, MetricBytesWritten, float64(bytesWritten), "bytes")
	r.em.metric(id, MetricDurationMs, float64(sr.DurationMs), "ms")
	r.em.metric(id, MetricPeakMemoryBytes, float64(sr.PeakMemoryBytes), "bytes")
	return sr
}

// skipReused ends a writer the step cache skipped (StepCache.ReuseWrites):
// step_skipped says which run's write it keeps, and every record counts 0
// rows read and written.
func (r *run) skipReused(p *stepPlan, sr StepResult) StepResult {
	end := time.Now()
	started, ended := displayTime(sr.mono), displayTime(end)
	sr.Started, sr.Ended = &started, &ended
	sr.DurationMs = end.Sub(sr.mono).Milliseconds()
	sr.RowsIn, sr.RowsOut, sr.Files = 0, 0, nil
	r.em.emit(EventStepSkipped, p.step.ID, map[string]any{
		"reason": sr.CacheReason, "cache": sr.Cache, "reused_run": sr.ReusedRun,
		"rows_in": int64(0), "rows_out": int64(0), "duration_ms": sr.DurationMs,
	})
	r.em.metric(p.step.ID, MetricRowsRead, 0, "rows")
	r.em.metric(p.step.ID, MetricRowsWritten, 0, "rows")
	r.em.metric(p.step.ID, MetricBytesWritten, 0, "bytes")
	r.em.metric(p.step.ID, MetricDurationMs, float64(sr.DurationMs), "ms")
	r.em.metric(p.step.ID, MetricPeakMemoryBytes, 0, "bytes")
	return sr
}

func columnsAny(cols []Column) []map[string]any {
	out := make([]map[string]any, len(cols))
	for i, c := range cols {
		out[i] = map[string]any{"name": c.Name, "type": c.Type, "nullable": c.Nullable}
	}
	return out
}

// finish computes the run's status and emits the terminal event.
func (r *run) finish(res *Result) (*Result, error) {
	res.Ended = time.Now()
	res.DurationMs = res.Ended.Sub(res.Started).Milliseconds()
	for i, s := range res.Steps {
		if s.Status == StatusSuccess && r.plans[i].sink {
			res.RowsTotal += s.RowsOut
		}
	}
	cancelled := false
	for _, s := range res.Steps {
		if s.Status == StatusCancelled {
			cancelled = true
		}
	}
	var err error
	switch {
	case res.FailedStep != "":
		res.Status = StatusFailed
		err = &StepError{Step: res.FailedStep, Msg: res.Error}
		r.em.emit(EventRunError, "", map[string]any{"error": res.Error, "failed_step": res.FailedStep, "duration_ms": res.DurationMs})
	case cancelled || anySkipped(res):
		res.Status = StatusCancelled
		res.Error = "run cancelled"
		err = fmt.Errorf("%w", ErrCancelled)
		r.em.emit(EventRunCancelled, "", map[string]any{"duration_ms": res.DurationMs})
	default:
		res.Status = StatusSuccess
		r.em.emit(EventRunComplete, "", map[string]any{"status": StatusSuccess, "duration_ms": res.DurationMs, "rows_total": res.RowsTotal})
	}
	r.runMetrics(res)
	return res, err
}

// displayTime is how times are recorded: UTC, millisecond precision.
func displayTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func anySkipped(res *Result) bool {
	for _, s := range res.Steps {
		// A writer skipped because its target holds what it would write
		// (ReusedRun set) is part of a complete run.
		if s.Status == StatusSkipped && s.ReusedRun == "" {
			return true
		}
	}
	return false
}

func (r *run) runMetrics(res *Result) {
	r.em.metric("", MetricDurationMs, float64(res.DurationMs), "ms")
	r.em.metric("", MetricRowsTotal, float64(res.RowsTotal), "rows")
}

// trimStepPrefix drops a leading `step "id": ` or `component step "id": `
// that a driver put on its error: the engine names the step itself, and
// users should not read it twice.
func trimStepPrefix(msg, id, comp string) string {
	for _, p := range []string{fmt.Sprintf("%s step %q: ", comp, id), fmt.Sprintf("step %q: ", id)} {
		if strings.HasPrefix(msg, p) {
			return msg[len(p):]
		}
	}
	return msg
}
