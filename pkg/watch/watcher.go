package watch

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/exec"
)

// DefaultDebounce is used when Options.Debounce is 0.
const DefaultDebounce = 300 * time.Millisecond

// Target is a compiled pipeline as the watcher keeps it.
type Target struct {
	File        string // absolute pipeline file
	Manifest    *compile.Manifest
	ManifestDir string
	// Reads are the files (absolute paths or globs) the steps read: a
	// change to one reruns the pipeline. Writes are files it writes
	// itself: never a reason to rerun it (a run must not trigger itself).
	Reads, Writes []string
}

// Outcome is what one run gave.
type Outcome struct {
	Result *exec.Result // nil when the run could not start
	RunDir string       // workspace-relative; "" when no run directory was made
	Err    error
}

// Project is what the watcher needs from its caller, which owns the
// workspace and the engine (so that watch and run share one code path).
type Project interface {
	// Reload re-reads the workspace configuration after osiris.toml or .env
	// changed. An error keeps the previous configuration.
	Reload() error
	// Compile validates and compiles one pipeline file; an invalid pipeline
	// returns its diagnostics as the error (a diag.List).
	Compile(file string) (*Target, error)
	// UsedConfig returns what t uses of the workspace configuration beside
	// its manifest, encoded so that equal bytes mean equal use: its
	// connections resolved (${VAR}s expanded, secrets included) and the run
	// settings. The watcher keeps only a keyed hash of it, in memory: after
	// osiris.toml or .env changed, a pipeline whose manifest and used
	// configuration stay the same is not rerun.
	UsedConfig(t *Target) []byte
	// Run executes a compiled pipeline and records it; it stops when ctx is
	// cancelled (the run then ends cancelled). sink receives its events.
	Run(ctx context.Context, t *Target, sink exec.EventSink) Outcome
}

// Options configure a Watcher.
type Options struct {
	Root         string // workspace root, absolute
	PipelinesDir string // absolute; new pipeline files here join the watch
	// Pipelines named on the command line (absolute). Empty means every
	// *.yaml/*.yml under PipelinesDir, and new ones join as they appear;
	// otherwise exactly these are watched.
	Pipelines []string
	// ConfigFiles (osiris.toml, .env) reload the workspace when they change;
	// then the pipelines whose manifest or used configuration changed rerun.
	ConfigFiles []string
	// Ignore are directories never watched (run_logs/, build/, .osiris/).
	Ignore   []string
	Debounce time.Duration // 0 = DefaultDebounce
	Poll     time.Duration // > 0: poll mtimes and sizes instead of inotify
	// Retry > 0 reruns a pipeline whose run failed after that long, again
	// after each failure, until a run succeeds or a change starts a new one.
	Retry time.Duration
	// Report receives what happens, one call at a time.
	Report func(Report)
	Log    zerolog.Logger
}

// Report kinds.
const (
	ReportStarted   = "started"   // a run is starting (Paths, Retry set)
	ReportRun       = "run"       // a run ended (Outcome set)
	ReportWarning   = "warning"   // a run's step_warning (Step, Message)
	ReportInvalid   = "invalid"   // a pipeline does not validate (Err holds the diagnostics)
	ReportRemoved   = "removed"   // a pipeline file was deleted
	ReportConfig    = "config"    // osiris.toml/.env could not be reloaded (Err)
	ReportUnchanged = "unchanged" // a pipeline file was saved but its manifest is the same
	ReportWatching  = "watching"  // the initial runs have started; Paths are the pipelines
)

// Report is one thing the watcher tells its caller.
type Report struct {
	Kind string
	File string    // the pipeline file (absolute), when about one
	Time time.Time // when it happened
	// Trigger is when the debounce window ended for the change that caused
	// this run (zero for the initial run); RunStart is the run's run_start
	// event. RunStart - Trigger is what W7 of the benchmark measures.
	Trigger, RunStart time.Time
	// Paths are the changed files that caused the run.
	Paths []string
	// Superseded is set on a run that was cancelled for a newer change.
	Superseded bool
	// Retry numbers the reruns of a failed pipeline (Options.Retry); 0 for
	// a run caused by a change.
	Retry   int
	Outcome *Outcome
	Err     error
	// Step and Message are a step warning's (ReportWarning).
	Step, Message string
}

// Watcher runs pipelines and reruns them when what they depend on changes.
type Watcher struct {
	opts    Options
	project Project

	reportMu sync.Mutex
	src      source

	pipes map[string]*pipeline // by absolute file
	wg    sync.WaitGroup
	// key keys the hashes of the configuration pipelines use; it never
	// leaves the process.
	key []byte
	// beforeWait (tests) is called by a runner with a run in progress just
	// before it waits for the run's end or a newer request.
	beforeWait func(pl *pipeline)
	// afterFunc is time.AfterFunc; tests fire retries themselves.
	afterFunc func(d time.Duration, f func()) (stop func() bool)
}

// New returns a watcher; Run starts it.
func New(p Project, opts Options) *Watcher {
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Report == nil {
		opts.Report = func(Report) {}
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails on Linux (crypto/rand panics instead)
	return &Watcher{opts: opts, project: p, pipes: map[string]*pipeline{}, key: key,
		afterFunc: func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }}
}

// pipeline is one watched pipeline and the goroutine that runs it.
type pipeline struct {
	file   string
	target *Target // last good compile; nil when it never compiled
	used   []byte  // keyed hash of the configuration target uses
	broken bool    // the file's current content does not validate

	// mu guards pending and the wake token together: a token in wake
	// always means a request not yet taken (see enqueue and take).
	mu      sync.Mutex
	pending *request
	gen     uint64 // counts requests; a retry armed before a newer one is void
	wake    chan struct{}
	quit    chan struct{}
}

type request struct {
	target  *Target
	trigger time.Time
	paths   []string
	retry   int // > 0: the retry-th rerun after a failure
}

// Run runs every pipeline once, then watches until ctx is cancelled (Ctrl-C):
// it cancels the runs in progress, waits for them to be recorded, and
// returns nil. It returns an error only when watching cannot start.
func (w *Watcher) Run(ctx context.Context) error {
	ignore := make([]string, 0, len(w.opts.Ignore))
	for _, d := range w.opts.Ignore {
		ignore = append(ignore, filepath.Clean(d))
	}
	src, err := newSource(ctx, tree{root: filepath.Clean(w.opts.Root), ignore: ignore}, w.opts.Poll, w.opts.Log)
	if err != nil {
		return fmt.Errorf("watch: starting the file watcher: %w", err)
	}
	w.src = src
	defer src.Close()

	files := w.opts.Pipelines
	if len(files) == 0 {
		files = findPipelines(w.opts.PipelinesDir)
	}
	for _, f := range files {
		w.addPipeline(ctx, f)
	}
	w.report(Report{Kind: ReportWatching, Time: time.Now(), Paths: files})
	for _, f := range files {
		w.compileAndRun(w.pipes[f], time.Time{}, nil, true)
	}

	pending := map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	changes := src.Changes()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			w.stopAll()
			return nil
		case p, ok := <-changes:
			if !ok {
				w.stopAll()
				return errors.New("watch: the file watcher stopped")
			}
			pending[p] = true
			timer.Reset(w.opts.Debounce)
		case <-timer.C:
			end := time.Now()
			paths := make([]string, 0, len(pending))
			for p := range pending {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			clear(pending)
			w.handle(ctx, end, paths)
		}
	}
}

// handle acts on the changes of one debounce window.
func (w *Watcher) handle(ctx context.Context, end time.Time, paths []string) {
	w.opts.Log.Debug().Time("debounce_end", end).Strs("paths", paths).Msg("changes")
	for _, p := range paths {
		if w.isConfig(p) || p == w.opts.Root {
			// osiris.toml or .env: reload, recompile, and rerun the
			// pipelines whose manifest or used configuration changed. An
			// inotify overflow (the root) lost events: everything reruns.
			if err := w.project.Reload(); err != nil {
				w.report(Report{Kind: ReportConfig, Time: time.Now(), File: p, Err: err})
				return
			}
			added := w.discoverNew(ctx, end, paths)
			overflow := slices.Contains(paths, w.opts.Root)
			for _, f := range w.sortedPipes() {
				if added[f] {
					continue
				}
				pl := w.pipes[f]
				if _, err := os.Stat(f); err != nil {
					w.removePipeline(f)
					continue
				}
				w.compileAndRun(pl, end, paths, overflow || w.readsAny(pl, paths))
			}
			return
		}
	}
	added := w.discoverNew(ctx, end, paths)
	for _, f := range w.sortedPipes() {
		if added[f] {
			continue // compiled and run just now
		}
		pl := w.pipes[f]
		var own, inputs []string
		for _, p := range paths {
			switch {
			case p == f:
				own = append(own, p)
			case pl.target != nil && matchesAny(p, pl.target.Reads) && !matchesAny(p, pl.target.Writes):
				inputs = append(inputs, p)
			}
		}
		switch {
		case len(own) > 0:
			if _, err := os.Stat(f); err != nil {
				w.removePipeline(f)
				continue
			}
			// An input change reruns it even when the manifest is the same.
			w.compileAndRun(pl, end, append(own, inputs...), len(inputs) > 0)
		case len(inputs) > 0 && !pl.broken:
			w.enqueue(pl, &request{target: pl.target, trigger: end, paths: inputs})
		}
	}
}

// readsAny reports whether one of paths is an input of pl.
func (w *Watcher) readsAny(pl *pipeline, paths []string) bool {
	if pl.target == nil {
		return false
	}
	for _, p := range paths {
		if matchesAny(p, pl.target.Reads) && !matchesAny(p, pl.target.Writes) {
			return true
		}
	}
	return false
}

// discoverNew adds pipeline files that appeared under PipelinesDir (when no
// pipelines were named), or named pipelines that were deleted and came back
// (a branch switch), and compiles and runs them.
func (w *Watcher) discoverNew(ctx context.Context, end time.Time, paths []string) (added map[string]bool) {
	added = map[string]bool{}
	for _, p := range paths {
		if _, known := w.pipes[p]; known {
			continue
		}
		if named := w.opts.Pipelines; len(named) > 0 {
			if !slices.Contains(named, p) {
				continue
			}
		} else if !isPipelineFile(w.opts.PipelinesDir, p) {
			continue
		}
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			continue
		}
		w.addPipeline(ctx, p)
		w.compileAndRun(w.pipes[p], end, []string{p}, true)
		added[p] = true
	}
	return added
}

// compileAndRun compiles pl's file and runs it when it validates and its
// manifest changed (or force). An invalid pipeline is reported and keeps
// its last good manifest; nothing runs.
func (w *Watcher) compileAndRun(pl *pipeline, trigger time.Time, paths []string, force bool) {
	if pl == nil {
		return
	}
	t, err := w.project.Compile(pl.file)
	if err != nil {
		pl.broken = true
		w.report(Report{Kind: ReportInvalid, File: pl.file, Time: time.Now(), Err: err})
		return
	}
	wasBroken := pl.broken
	pl.broken = false
	m := hmac.New(sha256.New, w.key)
	m.Write(w.project.UsedConfig(t))
	used := m.Sum(nil)
	same := pl.target != nil && pl.target.Manifest != nil && t.Manifest != nil &&
		pl.target.Manifest.ManifestHash == t.Manifest.ManifestHash && hmac.Equal(pl.used, used)
	pl.target, pl.used = t, used
	for _, r := range t.Reads {
		w.watchOutside(r)
	}
	if same && !force && !wasBroken {
		w.report(Report{Kind: ReportUnchanged, File: pl.file, Time: time.Now()})
		return
	}
	w.enqueue(pl, &request{target: t, trigger: trigger, paths: paths})
}

// watchOutside adds the directory of a read outside the workspace.
func (w *Watcher) watchOutside(p string) {
	root := filepath.Clean(w.opts.Root)
	if p == root || strings.HasPrefix(p, root+string(filepath.Separator)) {
		return
	}
	dir := filepath.Dir(p)
	for strings.ContainsAny(dir, "*?[") {
		dir = filepath.Dir(dir)
	}
	w.src.AddDir(dir)
}

func (w *Watcher) isConfig(p string) bool {
	for _, c := range w.opts.ConfigFiles {
		if p == c {
			return true
		}
	}
	return false
}

func (w *Watcher) sortedPipes() []string {
	out := make([]string, 0, len(w.pipes))
	for f := range w.pipes {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func (w *Watcher) addPipeline(ctx context.Context, file string) {
	pl := &pipeline{file: file, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	w.pipes[file] = pl
	w.wg.Add(1)
	go w.runner(ctx, pl)
}

func (w *Watcher) removePipeline(file string) {
	pl := w.pipes[file]
	delete(w.pipes, file)
	close(pl.quit)
	w.report(Report{Kind: ReportRemoved, File: file, Time: time.Now()})
}

// stopAll cancels every run in progress and waits until each is recorded.
func (w *Watcher) stopAll() {
	for f, pl := range w.pipes {
		close(pl.quit)
		delete(w.pipes, f)
	}
	w.wg.Wait()
}

// enqueue asks pl's runner to run r; a request not yet taken is replaced.
// The request and the wake token are set together under pl.mu, and take
// clears both: a token left over from a request the runner has already
// taken would make its next run cancel itself as superseded, and the
// newest change would never run.
func (w *Watcher) enqueue(pl *pipeline, r *request) {
	if r == nil || r.target == nil {
		return
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.put(r)
}

// put sets the pending request and its wake token; pl.mu is held.
func (pl *pipeline) put(r *request) {
	pl.gen++
	pl.pending = r
	select {
	case pl.wake <- struct{}{}:
	default:
	}
}

// take returns the request to run next (nil for none) and consumes its
// wake token; gen numbers it.
func (pl *pipeline) take() (r *request, gen uint64) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	r = pl.pending
	pl.pending = nil
	select {
	case <-pl.wake:
	default:
	}
	return r, pl.gen
}

// retryLater reruns req, taken as request gen, after d unless a newer
// request came meanwhile (then the newer one is what runs).
func (w *Watcher) retryLater(pl *pipeline, req *request, gen uint64, d time.Duration) (stop func() bool) {
	next := &request{target: req.target, paths: req.paths, trigger: req.trigger, retry: req.retry + 1}
	return w.afterFunc(d, func() {
		pl.mu.Lock()
		defer pl.mu.Unlock()
		if pl.gen == gen {
			next.trigger = time.Now()
			pl.put(next)
		}
	})
}

// runner runs pl's requests one at a time. A request arriving while a run
// is in progress cancels that run first (its writers roll back) and waits
// for it to be recorded, then starts the new one.
func (w *Watcher) runner(ctx context.Context, pl *pipeline) {
	defer w.wg.Done()
	var stopRetry func() bool
	defer func() {
		if stopRetry != nil {
			stopRetry()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-pl.quit:
			return
		case <-pl.wake:
		}
		for {
			req, gen := pl.take()
			if req == nil {
				break
			}
			if stopRetry != nil {
				stopRetry()
				stopRetry = nil
			}
			w.report(Report{Kind: ReportStarted, File: pl.file, Time: time.Now(), Trigger: req.trigger, Paths: req.paths, Retry: req.retry})
			runCtx, cancel := context.WithCancel(ctx)
			sink := &runSink{w: w, file: pl.file}
			done := make(chan Outcome, 1)
			go func(req *request) { done <- w.project.Run(runCtx, req.target, sink) }(req)
			var o Outcome
			superseded, stop := false, false
			if w.beforeWait != nil {
				w.beforeWait(pl)
			}
			select {
			case o = <-done:
			case <-pl.wake:
				superseded = true
				cancel()
				o = <-done
			case <-pl.quit:
				stop = true
				cancel()
				o = <-done
			case <-ctx.Done():
				stop = true
				cancel()
				o = <-done
			}
			cancel()
			w.report(Report{
				Kind: ReportRun, File: pl.file, Time: time.Now(), Trigger: req.trigger, RunStart: sink.at(),
				Paths: req.paths, Superseded: superseded, Retry: req.retry, Outcome: &o,
			})
			if stop {
				return
			}
			if w.opts.Retry > 0 && !superseded && failed(o) {
				stopRetry = w.retryLater(pl, req, gen, w.opts.Retry)
			}
		}
	}
}

// failed reports whether a run failed (a cancelled run did not).
func failed(o Outcome) bool {
	if o.Result == nil {
		return o.Err != nil && !errors.Is(o.Err, exec.ErrCancelled)
	}
	return o.Result.Status == exec.StatusFailed
}

func (w *Watcher) report(r Report) {
	w.reportMu.Lock()
	defer w.reportMu.Unlock()
	w.opts.Report(r)
}

// runSink notes when run_start was emitted and reports step warnings.
type runSink struct {
	w    *Watcher
	file string

	mu sync.Mutex
	ts time.Time
}

func (s *runSink) Emit(e exec.Event) {
	switch e.Event {
	case exec.EventRunStart:
		s.mu.Lock()
		s.ts = e.TS
		s.mu.Unlock()
	case exec.EventStepWarning:
		msg, _ := e.Fields["message"].(string)
		s.w.report(Report{Kind: ReportWarning, File: s.file, Time: e.TS, Step: e.Step, Message: msg})
	}
}

func (s *runSink) at() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ts
}

// matchesAny reports whether p is one of paths or matches one of them as a
// glob.
func matchesAny(p string, paths []string) bool {
	for _, x := range paths {
		if x == p {
			return true
		}
		if strings.ContainsAny(x, "*?[") {
			if ok, _ := filepath.Match(x, p); ok {
				return true
			}
		}
	}
	return false
}

// isPipelineFile: a *.yaml/*.yml under dir, not hidden (editor lock and
// swap files start with a dot).
func isPipelineFile(dir, p string) bool {
	if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
		return false
	}
	rel, _ := filepath.Rel(dir, p)
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if strings.HasPrefix(part, ".") {
			return false
		}
	}
	ext := filepath.Ext(p)
	return ext == ".yaml" || ext == ".yml"
}

// findPipelines lists the pipeline files under dir, sorted.
func findPipelines(dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if isPipelineFile(dir, p) {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}
