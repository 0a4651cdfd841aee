package watch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/exec"
)

// fakeProject compiles a pipeline file by reading it: a line "reads: P"
// names a file it reads (relative to the root), "writes: P" one it writes,
// "uses: NAME" a variable of .env (its configuration), "broken" makes it
// invalid, "slow" makes its run last until cancelled, "fail" makes its
// first run fail, "warn" makes its run emit a step warning. Runs are counted
// per pipeline. The file system and the watcher are real.
type fakeProject struct {
	root string

	mu      sync.Mutex
	runs    map[string]int
	reloads int
}

func (p *fakeProject) Reload() error {
	p.mu.Lock()
	p.reloads++
	p.mu.Unlock()
	return nil
}

func (p *fakeProject) Compile(file string) (*Target, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if strings.Contains(string(b), "broken") {
		return nil, fmt.Errorf("%s:1:1: error[yaml]: broken", filepath.Base(file))
	}
	t := &Target{File: file, Manifest: &compile.Manifest{ManifestHash: fmt.Sprintf("sha256:%x", sha256.Sum256(b))}}
	for _, line := range strings.Split(string(b), "\n") {
		if r, ok := strings.CutPrefix(line, "reads: "); ok {
			t.Reads = append(t.Reads, filepath.Join(p.root, r))
		}
		if r, ok := strings.CutPrefix(line, "writes: "); ok {
			t.Writes = append(t.Writes, filepath.Join(p.root, r))
		}
	}
	return t, nil
}

// UsedConfig is the values in .env of the variables the pipeline uses.
func (p *fakeProject) UsedConfig(t *Target) []byte {
	b, _ := os.ReadFile(t.File)
	env, _ := os.ReadFile(filepath.Join(p.root, ".env"))
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "uses: "); ok {
			for _, kv := range strings.Split(string(env), "\n") {
				if strings.HasPrefix(kv, name+"=") {
					out = append(out, kv)
				}
			}
		}
	}
	return []byte(strings.Join(out, "\n"))
}

func (p *fakeProject) Run(ctx context.Context, t *Target, sink exec.EventSink) Outcome {
	p.mu.Lock()
	p.runs[t.File]++
	n := p.runs[t.File]
	p.mu.Unlock()
	sink.Emit(exec.Event{Event: exec.EventRunStart, TS: time.Now()})
	b, _ := os.ReadFile(t.File)
	if strings.Contains(string(b), "slow") {
		<-ctx.Done()
		return Outcome{Result: &exec.Result{Status: exec.StatusCancelled}, Err: exec.ErrCancelled}
	}
	if strings.Contains(string(b), "warn") {
		sink.Emit(exec.Event{Event: exec.EventStepWarning, Step: "s1", TS: time.Now(), Fields: map[string]any{"message": "careful"}})
	}
	if strings.Contains(string(b), "fail") && n == 1 {
		return Outcome{Result: &exec.Result{Status: exec.StatusFailed, FailedStep: "s1", Error: "boom"}}
	}
	// Writes what the pipeline says it writes (a run must not trigger itself).
	for _, w := range t.Writes {
		_ = os.WriteFile(w, []byte(time.Now().String()), 0o644)
	}
	return Outcome{Result: &exec.Result{Status: exec.StatusSuccess}}
}

func (p *fakeProject) count(file string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runs[file]
}

type harness struct {
	t       *testing.T
	root    string
	pipes   string
	proj    *fakeProject
	reports chan Report
	cancel  context.CancelFunc
	done    chan error
}

func start(t *testing.T, files map[string]string, mod func(*Options)) *harness {
	t.Helper()
	root := t.TempDir()
	h := &harness{t: t, root: root, pipes: filepath.Join(root, "pipelines"), reports: make(chan Report, 1000), done: make(chan error, 1)}
	for _, d := range []string{"pipelines", "data", "run_logs", "build", ".osiris"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		h.write(name, content)
	}
	h.proj = &fakeProject{root: root, runs: map[string]int{}}
	opts := Options{
		Root:         root,
		PipelinesDir: h.pipes,
		ConfigFiles:  []string{filepath.Join(root, "osiris.toml"), filepath.Join(root, ".env")},
		Ignore:       []string{filepath.Join(root, "run_logs"), filepath.Join(root, "build"), filepath.Join(root, ".osiris")},
		Debounce:     100 * time.Millisecond,
		Report:       func(r Report) { h.reports <- r },
		Log:          zerolog.Nop(),
	}
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- New(h.proj, opts).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Error("watcher did not stop within 10s of its context's cancel")
		}
	})
	return h
}

func (h *harness) path(rel string) string { return filepath.Join(h.root, filepath.FromSlash(rel)) }

func (h *harness) write(rel, content string) {
	h.t.Helper()
	p := h.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// next waits for the next report of kind (others are skipped).
func (h *harness) next(kind string, within time.Duration) Report {
	h.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case r := <-h.reports:
			if r.Kind == kind {
				return r
			}
		case <-deadline:
			h.t.Fatalf("no %q report within %s", kind, within)
			return Report{}
		}
	}
}

// quiet asserts no report of kind arrives within d.
func (h *harness) quiet(kind string, d time.Duration) {
	h.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case r := <-h.reports:
			if r.Kind == kind {
				h.t.Fatalf("unexpected %q report for %s (paths %v)", kind, r.File, r.Paths)
			}
		case <-deadline:
			return
		}
	}
}

// running waits until the pipeline's first run has started.
func (h *harness) running(rel string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.proj.count(h.path(rel)) == 0 {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s did not start running within 10s", rel)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ready waits for the initial run of n pipelines.
func (h *harness) ready(n int) {
	h.t.Helper()
	h.next(ReportWatching, 5*time.Second)
	for i := 0; i < n; i++ {
		h.next(ReportRun, 10*time.Second)
	}
}

func TestBurstOfWritesGivesOneRerun(t *testing.T) {
	t.Parallel()
	for _, poll := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run(fmt.Sprintf("poll=%s", poll), func(t *testing.T) {
			t.Parallel()
			h := start(t, map[string]string{
				"pipelines/a.yaml": "reads: data/in.csv\n",
				"data/in.csv":      "id\n",
			}, func(o *Options) { o.Debounce = 300 * time.Millisecond; o.Poll = poll })
			h.ready(1)
			runs := 1
			// 100 writes within one second. A machine so loaded that the
			// test itself paused for a debounce window between two writes
			// made two bursts, not one: then the burst is tried again.
			for attempt := 1; ; attempt++ {
				start, last, maxGap := time.Now(), time.Now(), time.Duration(0)
				for i := 0; i < 100; i++ {
					h.write("data/in.csv", fmt.Sprintf("id\n%d %d\n", attempt, i))
					maxGap = max(maxGap, time.Since(last))
					last = time.Now()
					time.Sleep(8 * time.Millisecond)
				}
				r := h.next(ReportRun, 5*time.Second)
				runs++
				if r.Trigger.IsZero() || r.RunStart.Before(r.Trigger) {
					t.Errorf("rerun: trigger %v, run_start %v", r.Trigger, r.RunStart)
				}
				if len(r.Paths) != 1 || r.Paths[0] != h.path("data/in.csv") {
					t.Errorf("rerun caused by %v", r.Paths)
				}
				if maxGap < 200*time.Millisecond && time.Since(start) < 2*time.Second {
					h.quiet(ReportRun, time.Second)
					break
				}
				if attempt == 3 {
					t.Fatalf("the machine paused the test for %s between two writes, three times: no burst could be made", maxGap)
				}
				t.Logf("attempt %d: a pause of %s between writes; again", attempt, maxGap)
				time.Sleep(time.Second)
				for len(h.reports) > 0 {
					if (<-h.reports).Kind == ReportRun {
						runs++
					}
				}
			}
			if n := h.proj.count(h.path("pipelines/a.yaml")); n != runs {
				t.Errorf("%d runs, want %d (the first and one rerun per burst)", n, runs)
			}
		})
	}
}

func TestRenameOverSaveIsSeen(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{"pipelines/a.yaml": "v: 1\n"}, nil)
	h.ready(1)
	// What vim (backupcopy=no) and JetBrains do: write a temporary file,
	// rename it over the original.
	tmp := h.path("pipelines/.a.yaml.swp")
	if err := os.WriteFile(tmp, []byte("v: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, h.path("pipelines/a.yaml")); err != nil {
		t.Fatal(err)
	}
	r := h.next(ReportRun, 5*time.Second)
	if r.File != h.path("pipelines/a.yaml") {
		t.Errorf("rerun of %s", r.File)
	}
	// The temporary file is no pipeline of its own.
	h.quiet(ReportRun, 500*time.Millisecond)
}

func TestNewAndDeletedPipelines(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{"pipelines/a.yaml": "v: 1\n"}, nil)
	h.ready(1)
	h.write("pipelines/sub/b.yaml", "v: b\n") // in a new sub-directory
	r := h.next(ReportRun, 5*time.Second)
	if r.File != h.path("pipelines/sub/b.yaml") {
		t.Fatalf("new pipeline: run of %s", r.File)
	}
	h.write("pipelines/c.yml", "v: c\n")
	if r := h.next(ReportRun, 5*time.Second); r.File != h.path("pipelines/c.yml") {
		t.Fatalf("new pipeline: run of %s", r.File)
	}
	if err := os.Remove(h.path("pipelines/a.yaml")); err != nil {
		t.Fatal(err)
	}
	if r := h.next(ReportRemoved, 5*time.Second); r.File != h.path("pipelines/a.yaml") {
		t.Errorf("removed %s", r.File)
	}
	// Not a pipeline: other extensions, hidden files.
	h.write("pipelines/notes.txt", "x")
	h.write("pipelines/.#b.yaml", "x")
	h.quiet(ReportRun, 500*time.Millisecond)
}

func TestBrokenPipelineKeepsWatching(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{"pipelines/a.yaml": "v: 1\n", "pipelines/b.yaml": "v: 1\n"}, nil)
	h.ready(2)
	h.write("pipelines/a.yaml", "broken\n")
	r := h.next(ReportInvalid, 5*time.Second)
	if r.File != h.path("pipelines/a.yaml") || r.Err == nil || !strings.Contains(r.Err.Error(), "a.yaml:1:1") {
		t.Fatalf("invalid report %+v", r)
	}
	h.quiet(ReportRun, 400*time.Millisecond)
	// Watching goes on: the other pipeline still reruns, the fix reruns a.
	h.write("pipelines/b.yaml", "v: 2\n")
	if r := h.next(ReportRun, 5*time.Second); r.File != h.path("pipelines/b.yaml") {
		t.Fatalf("run of %s, want b", r.File)
	}
	h.write("pipelines/a.yaml", "v: 1\n") // back to the last good manifest
	if r := h.next(ReportRun, 5*time.Second); r.File != h.path("pipelines/a.yaml") {
		t.Fatalf("run of %s after the fix, want a", r.File)
	}
}

func TestUnchangedManifestDoesNotRerun(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{"pipelines/a.yaml": "v: 1\n"}, nil)
	h.ready(1)
	h.write("pipelines/a.yaml", "v: 1\n") // saved without a change
	h.next(ReportUnchanged, 5*time.Second)
	h.quiet(ReportRun, 300*time.Millisecond)
}

func TestNoSelfTriggerAndIgnoredDirs(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{
		"pipelines/a.yaml": "reads: data/*.csv\nwrites: data/out.csv\n",
		"data/in.csv":      "id\n",
	}, nil)
	h.ready(1)
	// The run wrote data/out.csv, which matches its own read glob: no rerun.
	h.quiet(ReportRun, 500*time.Millisecond)
	for _, d := range []string{"run_logs/x/events.jsonl", "build/pipelines/a/manifest.yaml", ".osiris/index/runs.jsonl"} {
		h.write(d, "x")
	}
	h.quiet(ReportRun, 500*time.Millisecond)
	// A file matching the glob does rerun it.
	h.write("data/more.csv", "id\n")
	if r := h.next(ReportRun, 5*time.Second); len(r.Paths) != 1 || r.Paths[0] != h.path("data/more.csv") {
		t.Errorf("rerun caused by %v", r.Paths)
	}
}

func TestConfigChangeReloadsAndRerunsUsers(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{"pipelines/a.yaml": "uses: A\n", "pipelines/b.yaml": "uses: A\n", "osiris.toml": "x\n"}, nil)
	h.ready(2)
	h.write(".env", "A=1\n")
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		got[h.next(ReportRun, 5*time.Second).File] = true
	}
	if !got[h.path("pipelines/a.yaml")] || !got[h.path("pipelines/b.yaml")] {
		t.Errorf("reruns %v, want both pipelines", got)
	}
	h.proj.mu.Lock()
	defer h.proj.mu.Unlock()
	if h.proj.reloads != 1 {
		t.Errorf("%d reloads, want 1", h.proj.reloads)
	}
}

func TestChangeCancelsRunInProgress(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{"pipelines/a.yaml": "slow\n"}, nil)
	h.next(ReportWatching, 5*time.Second)
	h.running("pipelines/a.yaml")
	h.write("pipelines/a.yaml", "fast\n")
	first := h.next(ReportRun, 5*time.Second)
	if !first.Superseded || first.Outcome.Result.Status != exec.StatusCancelled {
		t.Fatalf("first run: superseded=%v status=%s, want a cancelled run", first.Superseded, first.Outcome.Result.Status)
	}
	second := h.next(ReportRun, 5*time.Second)
	if second.Superseded || second.Outcome.Result.Status != exec.StatusSuccess {
		t.Fatalf("second run: superseded=%v status=%s", second.Superseded, second.Outcome.Result.Status)
	}
}

func TestCtrlCStopsRunsAndReturns(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{"pipelines/a.yaml": "slow\n"}, nil)
	h.next(ReportWatching, 5*time.Second)
	h.running("pipelines/a.yaml")
	h.cancel()
	r := h.next(ReportRun, 5*time.Second)
	if r.Outcome.Result.Status != exec.StatusCancelled || r.Superseded {
		t.Errorf("run at Ctrl-C: %s superseded=%v", r.Outcome.Result.Status, r.Superseded)
	}
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		h.done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// inotifyFDs counts this process's inotify instances.
func inotifyFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd: cannot count inotify instances")
	}
	n := 0
	for _, e := range entries {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && strings.Contains(l, "inotify") {
			n++
		}
	}
	return n
}

// TestPollWithoutInotify is not parallel: it counts the process's inotify
// instances, which other tests' watchers would change.
func TestPollWithoutInotify(t *testing.T) {
	before := inotifyFDs(t)
	h := start(t, map[string]string{"pipelines/a.yaml": "reads: data/in.csv\n", "data/in.csv": "1\n"},
		func(o *Options) { o.Poll = 50 * time.Millisecond })
	h.ready(1)
	if n := inotifyFDs(t); n != before {
		t.Fatalf("poll mode opened %d inotify instances", n-before)
	}
	h.write("data/in.csv", "1\n2\n") // size changes
	h.next(ReportRun, 5*time.Second)
	h.write("pipelines/b.yaml", "v: b\n")
	if r := h.next(ReportRun, 5*time.Second); r.File != h.path("pipelines/b.yaml") {
		t.Errorf("run of %s, want the new pipeline b", r.File)
	}
}

func TestWatchStartsOnMissingRootFails(t *testing.T) {
	t.Parallel()
	w := New(&fakeProject{runs: map[string]int{}}, Options{Root: filepath.Join(t.TempDir(), "nope"), Log: zerolog.Nop()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Run(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run on a missing root: %v, want an error at start", err)
	}
}

// gatedProject runs a target until the test releases it (success) or its
// context is cancelled (cancelled); started receives each target's name
// (its manifest hash) as its run begins.
type gatedProject struct {
	started chan string
	release chan struct{}
	fail    bool // a released run fails
}

func (p *gatedProject) Reload() error                        { return nil }
func (p *gatedProject) Compile(file string) (*Target, error) { return nil, errors.New("not used") }
func (p *gatedProject) UsedConfig(*Target) []byte            { return nil }

func (p *gatedProject) Run(ctx context.Context, t *Target, sink exec.EventSink) Outcome {
	p.started <- t.Manifest.ManifestHash
	select {
	case <-ctx.Done():
		return Outcome{Result: &exec.Result{Status: exec.StatusCancelled}, Err: exec.ErrCancelled}
	case <-p.release:
		if p.fail && t.Manifest.ManifestHash == "v1" {
			return Outcome{Result: &exec.Result{Status: exec.StatusFailed, Error: "boom"}}
		}
		return Outcome{Result: &exec.Result{Status: exec.StatusSuccess}}
	}
}

// A retry of a failed run never replaces, nor cancels, a change that came
// after the failure: the change's request runs to its end. The change is
// made while the failed run is being reported, before the retry is armed;
// the retry fires (the test fires it) when the change's run has started.
func TestRetryYieldsToNewerChange(t *testing.T) {
	t.Parallel()
	proj := &gatedProject{started: make(chan string, 10), release: make(chan struct{}), fail: true}
	reports := make(chan Report, 10)
	inReport, resume := make(chan struct{}), make(chan struct{})
	blocked := false
	w := New(proj, Options{Root: "/ws", Log: zerolog.Nop(), Retry: time.Nanosecond, Report: func(r Report) {
		if r.Kind != ReportRun {
			return
		}
		reports <- r
		if !blocked {
			blocked = true
			inReport <- struct{}{}
			<-resume
		}
	}})
	var fire func()
	w.afterFunc = func(_ time.Duration, f func()) func() bool { fire = f; return func() bool { return true } }
	stale := make(chan int, 10)
	waits := 0
	w.beforeWait = func(pl *pipeline) {
		if waits++; waits == 2 { // v2 runs: the retry armed for v1 fires now
			fire()
		}
		stale <- len(pl.wake)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); w.wg.Wait() }()
	w.addPipeline(ctx, "/ws/pipelines/a.yaml")
	pl := w.pipes["/ws/pipelines/a.yaml"]
	req := func(v string) *request {
		return &request{target: &Target{File: pl.file, Manifest: &compile.Manifest{ManifestHash: v}}, paths: []string{v}}
	}
	w.enqueue(pl, req("v1"))
	<-proj.started
	<-stale
	proj.release <- struct{}{}
	<-inReport
	if r := <-reports; r.Outcome.Result.Status != exec.StatusFailed {
		t.Fatalf("first run: %s", r.Outcome.Result.Status)
	}
	w.enqueue(pl, req("v2"))
	close(resume)
	if v := <-proj.started; v != "v2" {
		t.Fatalf("run of %s after the newer change v2", v)
	}
	if n := <-stale; n != 0 {
		t.Fatalf("the retry of v1 made a request while v2 runs: it would cancel v2")
	}
	proj.release <- struct{}{}
	if r := <-reports; r.Superseded || r.Retry != 0 || r.Outcome.Result.Status != exec.StatusSuccess {
		t.Fatalf("v2: superseded=%v retry=%d status=%s, want v2 run to success", r.Superseded, r.Retry, r.Outcome.Result.Status)
	}
}

// A change whose request arrives while the runner is outside its select —
// reporting the run that just ended, cancelled for a newer change or
// finished — runs, and to its end: no wake token of a request already
// taken may be left to make that run cancel itself as superseded. The
// interleaving is forced: the report of the first run blocks until the
// test has made the newest request, and the runner's hook checks, before
// it waits on the newest run, that no stale token is there.
func TestChangeDuringReportIsNotDropped(t *testing.T) {
	t.Parallel()
	for _, firstEnds := range []string{"superseded", "finished"} {
		t.Run(firstEnds, func(t *testing.T) {
			t.Parallel()
			proj := &gatedProject{started: make(chan string, 10), release: make(chan struct{})}
			reports := make(chan Report, 10)
			inReport, resume := make(chan struct{}), make(chan struct{})
			blocked := false
			w := New(proj, Options{Root: "/ws", Log: zerolog.Nop(), Report: func(r Report) {
				if r.Kind != ReportRun {
					return
				}
				reports <- r
				if !blocked { // the first run's report: the runner is outside its select
					blocked = true
					inReport <- struct{}{}
					<-resume
				}
			}})
			stale := make(chan int, 10)
			w.beforeWait = func(pl *pipeline) { stale <- len(pl.wake) }
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); w.wg.Wait() }()
			w.addPipeline(ctx, "/ws/pipelines/a.yaml")
			pl := w.pipes["/ws/pipelines/a.yaml"]
			req := func(v string) *request {
				return &request{target: &Target{File: pl.file, Manifest: &compile.Manifest{ManifestHash: v}}, paths: []string{v}}
			}

			w.enqueue(pl, req("v1"))
			if v := <-proj.started; v != "v1" {
				t.Fatalf("first run of %s", v)
			}
			if n := <-stale; n != 0 {
				t.Fatalf("%d wake tokens before the first run's wait", n)
			}
			if firstEnds == "superseded" {
				w.enqueue(pl, req("v2"))
			} else {
				proj.release <- struct{}{}
			}
			<-inReport
			first := <-reports
			if (firstEnds == "superseded") != first.Superseded {
				t.Fatalf("first run: superseded=%v", first.Superseded)
			}
			w.enqueue(pl, req("v3")) // the newest change, while the runner reports
			close(resume)

			if v := <-proj.started; v != "v3" {
				t.Fatalf("run of %s, want the newest change v3", v)
			}
			if n := <-stale; n != 0 {
				t.Fatalf("%d stale wake tokens left when the newest run started: it would cancel itself as superseded and nothing would run for v3", n)
			}
			proj.release <- struct{}{}
			last := <-reports
			if last.Superseded || last.Outcome.Result.Status != exec.StatusSuccess || last.Paths[0] != "v3" {
				t.Fatalf("newest run: superseded=%v status=%s paths=%v, want v3 run to success", last.Superseded, last.Outcome.Result.Status, last.Paths)
			}
		})
	}
}

// A pipeline named on the command line that is deleted and restored (a
// branch switch) is watched again and reruns.
func TestNamedPipelineDeletedAndRestored(t *testing.T) {
	t.Parallel()
	var named string
	h := start(t, map[string]string{"pipelines/a.yaml": "v: 1\n", "pipelines/b.yaml": "v: 1\n"},
		func(o *Options) { named = filepath.Join(o.Root, "pipelines", "a.yaml"); o.Pipelines = []string{named} })
	h.ready(1)
	if err := os.Remove(named); err != nil {
		t.Fatal(err)
	}
	if r := h.next(ReportRemoved, 5*time.Second); r.File != named {
		t.Fatalf("removed %s", r.File)
	}
	h.write("pipelines/a.yaml", "v: 2\n")
	if r := h.next(ReportRun, 5*time.Second); r.File != named {
		t.Fatalf("run of %s after the restore, want a", r.File)
	}
	// Still watched: the next save reruns it; b was never named.
	h.write("pipelines/a.yaml", "v: 3\n")
	if r := h.next(ReportRun, 5*time.Second); r.File != named {
		t.Fatalf("run of %s after a save, want a", r.File)
	}
	h.write("pipelines/b.yaml", "v: 2\n")
	h.quiet(ReportRun, 400*time.Millisecond)
}

// A save of .env reruns only the pipelines that use what changed; the
// others are reported unchanged.
func TestEnvChangeRerunsOnlyItsUsers(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{
		"pipelines/a.yaml": "uses: A\n",
		"pipelines/b.yaml": "uses: B\n",
		".env":             "A=1\nB=1\n",
	}, nil)
	h.ready(2)
	h.write(".env", "A=2\nB=1\n")
	r := h.next(ReportRun, 5*time.Second)
	if r.File != h.path("pipelines/a.yaml") {
		t.Fatalf("rerun of %s, want a (it uses A)", r.File)
	}
	h.quiet(ReportRun, 500*time.Millisecond)
	h.write(".env", "A=2\nB=1\nUNUSED=1\n")
	h.quiet(ReportRun, 500*time.Millisecond)
	if n := h.proj.count(h.path("pipelines/b.yaml")); n != 1 {
		t.Errorf("b ran %d times, want once (nothing it uses changed)", n)
	}
}

// A run start is reported with the paths that caused it; a step warning is
// reported with its step.
func TestStartAndWarningReports(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{"pipelines/a.yaml": "reads: data/in.csv\nwarn\n", "data/in.csv": "1\n"}, nil)
	h.next(ReportWatching, 5*time.Second)
	if r := h.next(ReportStarted, 5*time.Second); r.File != h.path("pipelines/a.yaml") || len(r.Paths) != 0 {
		t.Fatalf("initial start: %+v", r)
	}
	if r := h.next(ReportWarning, 5*time.Second); r.Step != "s1" || r.Message != "careful" {
		t.Fatalf("warning: %+v", r)
	}
	h.next(ReportRun, 5*time.Second)
	h.write("data/in.csv", "1\n2\n")
	if r := h.next(ReportStarted, 5*time.Second); len(r.Paths) != 1 || r.Paths[0] != h.path("data/in.csv") || r.Trigger.IsZero() {
		t.Fatalf("start after a change: %+v", r)
	}
}

// With Retry, a failed pipeline reruns after that long without any change;
// a successful one does not.
func TestRetryAfterFailure(t *testing.T) {
	t.Parallel()
	h := start(t, map[string]string{"pipelines/a.yaml": "fail\n"}, func(o *Options) { o.Retry = 50 * time.Millisecond })
	h.next(ReportWatching, 5*time.Second)
	if r := h.next(ReportRun, 5*time.Second); r.Outcome.Result.Status != exec.StatusFailed || r.Retry != 0 {
		t.Fatalf("first run: %s retry %d", r.Outcome.Result.Status, r.Retry)
	}
	r := h.next(ReportStarted, 5*time.Second)
	if r.Retry != 1 {
		t.Fatalf("retry start: retry %d", r.Retry)
	}
	if r := h.next(ReportRun, 5*time.Second); r.Outcome.Result.Status != exec.StatusSuccess || r.Retry != 1 {
		t.Fatalf("retry: %s retry %d", r.Outcome.Result.Status, r.Retry)
	}
	h.quiet(ReportRun, 300*time.Millisecond) // success: no more retries
}
