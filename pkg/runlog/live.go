package runlog

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

// LiveReport keeps a run's report.html (and run_logs/index.html) current
// while the run goes: written when it starts, rewritten (atomically) when
// a step starts or finishes and every LiveRefreshSeconds for the running
// steps' elapsed time. It is an exec.EventSink placed after the recorder,
// so the events it reacts to are on disk. Writing never blocks the run:
// events only nudge a goroutine, and nudges that come while it writes are
// folded into one rewrite. A page that cannot be written is skipped; the
// run's own end writes the final one.
type LiveReport struct {
	s    *Store
	dir  string
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	runID string // of the first event, to find dir when it was not given

	indexAt    time.Time // the index's last rewrite (the loop's own)
	indexDirty bool      // a step started or finished since
}

// liveIndexGap is the least time between two rewrites of the index by a
// live run: the index of a workspace with thousands of runs is bigger than
// a report, and its live column needs no more.
const liveIndexGap = 2 * time.Second

// AliveFile is touched in a run directory by its live report at each
// rewrite: when the run is killed, how long its running steps ran.
const AliveFile = "alive"

// liveMinGap is the least time between two rewrites (a run of many short
// steps would otherwise rewrite its report for each).
const liveMinGap = 250 * time.Millisecond

// StartLiveReport writes runDir's report and the index now and keeps them
// current until Close. runDir "" is found from the run id of the first
// event (a remote run, whose directory the caller does not know).
func (s *Store) StartLiveReport(runDir string) *LiveReport {
	l := &LiveReport{s: s, dir: runDir, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if runDir != "" {
		l.write(true)
	}
	go l.loop()
	return l
}

// Emit nudges the writer on the events that change the page.
func (l *LiveReport) Emit(e exec.Event) {
	switch e.Event {
	case exec.EventRunStart, exec.EventStepStart, exec.EventStepComplete, exec.EventStepError, exec.EventStepSkipped:
	default:
		return
	}
	l.mu.Lock()
	if l.runID == "" {
		l.runID = e.RunID
	}
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default: // a rewrite is already due
	}
}

// Close stops the rewrites and waits for one in progress; the caller then
// writes the final page.
func (l *LiveReport) Close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

func (l *LiveReport) loop() {
	defer close(l.done)
	tick := time.NewTicker(LiveRefreshSeconds * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
			l.indexDirty = true
		case <-tick.C: // the running steps' elapsed time
		}
		index := l.indexDirty && time.Since(l.indexAt) >= liveIndexGap
		if index {
			l.indexDirty = false
		}
		l.write(index)
		select {
		case <-l.stop:
			return
		case <-time.After(liveMinGap):
		}
	}
}

func (l *LiveReport) write(index bool) {
	if l.dir == "" {
		l.mu.Lock()
		id := l.runID
		l.mu.Unlock()
		if id == "" {
			return
		}
		r, _, err := l.s.Select(id, "", "")
		if err != nil {
			return
		}
		l.dir = l.s.Dir(r)
	}
	// A sign of life: a killed run's steps ran at least until then.
	os.WriteFile(filepath.Join(l.dir, AliveFile), []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o644)
	r, ok := l.s.runFromDir(l.dir)
	if !ok {
		return
	}
	if l.s.WriteReport(context.Background(), r) == nil && (index || l.indexAt.IsZero()) {
		l.s.WriteIndexHTML()
		l.indexAt = time.Now()
	}
}
