package exec

import (
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

	"github.com/goccy/go-yaml"
	"github.com/rs/zerolog"

	"github.com/osiris-go/osiris/internal/atomicfile"
	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/workspace"
)

// RecorderOptions say where and what a Recorder records.
type RecorderOptions struct {
	RunLogsDir string // absolute, e.g. <workspace>/run_logs
	StateDir   string // absolute, e.g. <workspace>/.osiris (the index lives in <state>/index)
	// WorkspaceRoot makes the run dir in the index workspace-relative;
	// default: the parent of StateDir.
	WorkspaceRoot string
	Manifest      *compile.Manifest
	// ManifestDir holds the compiled manifest.yaml and cfg/; both are copied
	// (masked). "" writes them from Manifest instead.
	ManifestDir string
	RunID       string
	Started     time.Time
	Where       string // "local" or the sandbox name
	Masker      *workspace.Masker
	Pipeline    string // workspace-relative pipeline file; default Manifest.Pipeline.File
}

// Recorder records one run locally: its run directory
// (run_logs/<profile>/<slug>/<run-ts>_<run-id>-<short>/ with manifest.yaml,
// cfg/, events.jsonl, metrics.jsonl, osiris.log, status.json) and its two
// lines in the run index.
type Recorder struct {
	opts     RecorderOptions
	dir      string
	relDir   string
	profile  string
	slug     string
	pipeline string

	mu       sync.Mutex
	events   *os.File
	metrics  *os.File
	logFile  *os.File
	log      zerolog.Logger
	lastSeq  int64
	terminal bool
	finished bool
	// steps is what the events said of each step, for a record completed
	// without the engine's Result (a second signal, a lost worker).
	steps    map[string]StepResult
	writeErr error
	unlock   func() // releases run.lock (held while the run lives)
}

// StartRecorder creates the run directory, writes manifest.yaml and cfg/,
// opens the event, metric and log files and appends the index start line.
func StartRecorder(opts RecorderOptions) (*Recorder, error) {
	if opts.Manifest == nil {
		return nil, errors.New("recorder: no manifest")
	}
	if !filepath.IsAbs(opts.RunLogsDir) || !filepath.IsAbs(opts.StateDir) {
		return nil, fmt.Errorf("recorder: run logs dir %q and state dir %q must be absolute", opts.RunLogsDir, opts.StateDir)
	}
	if err := CheckStateDir(opts.StateDir); err != nil {
		return nil, err
	}
	if opts.RunID == "" {
		opts.RunID = NewRunID()
	}
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	if opts.Where == "" {
		opts.Where = "local"
	}
	if opts.WorkspaceRoot == "" {
		opts.WorkspaceRoot = filepath.Dir(opts.StateDir)
	}
	m := opts.Manifest
	r := &Recorder{
		opts:     opts,
		profile:  orValue(m.Profile, "default"),
		slug:     orValue(m.Pipeline.Slug, "pipeline"),
		pipeline: orValue(opts.Pipeline, m.Pipeline.File),
	}
	if !safeSegment(r.profile) || !safeSegment(r.slug) {
		return nil, fmt.Errorf("recorder: profile %q or pipeline slug %q cannot be used as a directory name", r.profile, r.slug)
	}
	short := m.ShortHash()
	if short == "" {
		short = "nohash"
	}
	name := fmt.Sprintf("%s_%s-%s", opts.Started.UTC().Format("20060102T150405Z"), opts.RunID, short)
	r.dir = filepath.Join(opts.RunLogsDir, r.profile, r.slug, name)
	r.relDir = relSlash(opts.WorkspaceRoot, r.dir)
	// The directory and the index's start line appear under one hold of
	// the index lock (appendIndexLocked says why).
	unlockIndex, err := LockIndex(opts.StateDir)
	if err != nil {
		return nil, err
	}
	defer unlockIndex()
	if err := os.MkdirAll(filepath.Dir(r.dir), 0o755); err != nil {
		return nil, fmt.Errorf("creating run directory: %w", err)
	}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating run directory: %w", err)
	}
	unlock, err := holdLock(filepath.Join(r.dir, RunLockFile))
	if err != nil {
		return nil, fmt.Errorf("locking the run directory: %w", err)
	}
	r.unlock = unlock
	if err := r.writeManifest(); err != nil {
		r.unlock()
		return nil, err
	}
	open := func(n string) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		f, err = os.OpenFile(filepath.Join(r.dir, n), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		return f
	}
	r.events, r.metrics, r.logFile = open("events.jsonl"), open("metrics.jsonl"), open("osiris.log")
	if err != nil {
		r.closeFiles()
		r.unlock()
		return nil, fmt.Errorf("opening run files: %w", err)
	}
	out := &lockedWriter{w: opts.Masker.Writer(r.logFile)}
	cw := zerolog.ConsoleWriter{
		Out:             out,
		NoColor:         true,
		FormatTimestamp: func(i any) string { s, _ := i.(string); return s },
	}
	r.log = zerolog.New(cw).Hook(zerolog.HookFunc(func(e *zerolog.Event, _ zerolog.Level, _ string) {
		e.Str(zerolog.TimestampFieldName, time.Now().UTC().Format(timestampLayout))
	})).With().Str("run_id", opts.RunID).Logger()

	if err := r.writeStatus(r.runningStatus()); err != nil {
		r.closeFiles()
		r.unlock()
		return nil, err
	}
	if err := appendIndexLocked(opts.StateDir, IndexedRun{
		Format:       RecordFormat,
		Record:       RecordKindRun,
		Kind:         "start",
		RunID:        opts.RunID,
		Pipeline:     r.pipeline,
		Slug:         r.slug,
		Profile:      r.profile,
		ManifestHash: m.ManifestHash,
		Started:      opts.Started.UTC().Format(timestampLayout),
		Where:        opts.Where,
		RunDir:       r.relDir,
	}); err != nil {
		r.closeFiles()
		r.unlock()
		return nil, err
	}
	return r, nil
}

func orValue(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func relSlash(root, p string) string {
	if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(p)
}

// writeManifest copies (or writes) manifest.yaml and cfg/<step>.json, masked.
func (r *Recorder) writeManifest() error {
	mk := r.opts.Masker
	var manifest []byte
	if r.opts.ManifestDir != "" {
		b, err := os.ReadFile(filepath.Join(r.opts.ManifestDir, "manifest.yaml"))
		if err != nil {
			return fmt.Errorf("copying manifest: %w", err)
		}
		manifest = b
	} else {
		b, err := yaml.Marshal(r.opts.Manifest)
		if err != nil {
			return fmt.Errorf("writing manifest: %w", err)
		}
		manifest = b
	}
	if err := os.WriteFile(filepath.Join(r.dir, "manifest.yaml"), mk.MaskBytes(manifest), 0o644); err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	cfgDir := filepath.Join(r.dir, "cfg")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return fmt.Errorf("writing cfg: %w", err)
	}
	for _, s := range r.opts.Manifest.Steps {
		var cfg map[string]any
		if r.opts.ManifestDir != "" {
			rel := s.CfgPath
			if rel == "" {
				rel = "cfg/" + s.ID + ".json"
			}
			b, err := os.ReadFile(filepath.Join(r.opts.ManifestDir, filepath.FromSlash(rel)))
			if err == nil {
				if json.Unmarshal(b, &cfg) != nil {
					// Not an object: keep the text, masked by value.
					if err := os.WriteFile(filepath.Join(cfgDir, s.ID+".json"), mk.MaskBytes(b), 0o644); err != nil {
						return fmt.Errorf("writing cfg: %w", err)
					}
					continue
				}
			}
		}
		if cfg == nil {
			cfg = s.Config
		}
		masked, _ := mk.MaskValue("", map[string]any(cfg)).(map[string]any)
		if masked == nil {
			masked = map[string]any{}
		}
		b, err := json.MarshalIndent(masked, "", "  ")
		if err != nil {
			return fmt.Errorf("writing cfg for step %q: %w", s.ID, err)
		}
		if err := os.WriteFile(filepath.Join(cfgDir, s.ID+".json"), append(mk.MaskBytes(b), '\n'), 0o644); err != nil {
			return fmt.Errorf("writing cfg: %w", err)
		}
	}
	return nil
}

// Dir returns the absolute run directory (RunEnv.RunDir).
func (r *Recorder) Dir() string { return r.dir }

// RelDir returns the run directory relative to the workspace.
func (r *Recorder) RelDir() string { return r.relDir }

// RunID returns the run's id.
func (r *Recorder) RunID() string { return r.opts.RunID }

// Logger returns a logger writing to osiris.log (console format, no colour,
// masked by value).
func (r *Recorder) Logger() zerolog.Logger { return r.log }

// Sink returns the sink that records events to events.jsonl (one line each,
// masked by value) and osiris.log, and metrics to metrics.jsonl.
func (r *Recorder) Sink() EventSink { return recorderSink{r} }

type recorderSink struct{ r *Recorder }

func (s recorderSink) Emit(e Event)        { s.r.emit(e) }
func (s recorderSink) EmitMetric(m Metric) { s.r.emitMetric(m) }

func (r *Recorder) emit(e Event) {
	line, err := json.Marshal(e)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	if err != nil {
		r.noteErr(err)
		return
	}
	line = append(r.opts.Masker.MaskBytes(line), '\n')
	if _, err := r.events.Write(line); err != nil {
		r.noteErr(err)
	}
	if e.Seq > r.lastSeq {
		r.lastSeq = e.Seq
	}
	if e.IsTerminal() {
		r.terminal = true
	}
	r.noteStep(e)
	r.logEvent(e)
}

// noteStep keeps the latest state of e's step from the step events.
func (r *Recorder) noteStep(e Event) {
	var status string
	switch e.Event {
	case EventStepStart:
		status = StatusCancelled // running when the record is completed without a result
	case EventStepComplete:
		status = StatusSuccess
	case EventStepError:
		status = StatusFailed
	case EventStepSkipped:
		status = StatusSkipped
	default:
		return
	}
	if r.steps == nil {
		r.steps = map[string]StepResult{}
	}
	sr := r.steps[e.Step]
	sr.Status = status
	num := func(k string) int64 {
		switch v := e.Fields[k].(type) {
		case int64:
			return v
		case int:
			return int64(v)
		case float64:
			return int64(v)
		}
		return 0
	}
	if e.Event == EventStepComplete {
		sr.RowsIn, sr.RowsOut, sr.DurationMs = num("rows_in"), num("rows_out"), num("duration_ms")
		if c, ok := e.Fields["cache"].(string); ok {
			sr.Cache = c
		}
	}
	if e.Event == EventStepError {
		msg, _ := e.Fields["error"].(string)
		sr.Error = r.opts.Masker.Mask(msg)
	}
	r.steps[e.Step] = sr
}

func (r *Recorder) logEvent(e Event) {
	var ev *zerolog.Event
	switch e.Event {
	case EventStepError, EventRunError:
		ev = r.log.Error()
	case EventStepWarning:
		ev = r.log.Warn()
	default:
		ev = r.log.Info()
	}
	if e.Step != "" {
		ev = ev.Str("step", e.Step)
	}
	for _, k := range sortedKeys(e.Fields) {
		if k == "schema" { // in events.jsonl; too long for a log line
			continue
		}
		ev = ev.Interface(k, e.Fields[k])
	}
	ev.Msg(e.Event)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (r *Recorder) emitMetric(m Metric) {
	line, err := json.Marshal(m)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	if err != nil {
		r.noteErr(err)
		return
	}
	if _, err := r.metrics.Write(append(line, '\n')); err != nil {
		r.noteErr(err)
	}
}

func (r *Recorder) noteErr(err error) {
	if r.writeErr == nil {
		r.writeErr = err
	}
}

// statusFile is status.json.
type statusFile struct {
	Format        int          `json:"format"` // RecordFormat
	Kind          string       `json:"kind"`   // RecordKindRun
	Status        string       `json:"status"` // running, then success | failed | cancelled
	RunID         string       `json:"run_id"`
	Pipeline      string       `json:"pipeline"`
	Slug          string       `json:"slug"`
	OsirisVersion string       `json:"osiris_version"`
	Host          string       `json:"host"`
	PID           int          `json:"pid"`
	Profile       string       `json:"profile"`
	ManifestHash  string       `json:"manifest_hash"`
	Where         string       `json:"where"`
	Started       string       `json:"started"`
	Ended         string       `json:"ended"`
	DurationMs    int64        `json:"duration_ms"`
	RowsTotal     int64        `json:"rows_total"`
	FailedStep    string       `json:"failed_step,omitempty"`
	Error         string       `json:"error,omitempty"`
	Steps         []StepResult `json:"steps"`
}

// Finish writes status.json (atomically) and the index end line, and closes
// the run's files. res may be nil when the run failed before the engine
// started (a configuration error); runErr then says why. When no terminal
// event was recorded, Finish records run_error/run_cancelled itself so
// events.jsonl always ends with one.
func (r *Recorder) Finish(res *Result, runErr error) error {
	r.mu.Lock()
	if r.finished {
		r.mu.Unlock()
		return errors.New("recorder: Finish called twice")
	}
	terminal, lastSeq := r.terminal, r.lastSeq
	r.mu.Unlock()

	mk := r.opts.Masker
	ended := time.Now()
	st := r.baseStatus()
	if res != nil {
		st.Status, st.RowsTotal, st.FailedStep, st.Error = res.Status, res.RowsTotal, res.FailedStep, res.Error
		st.Steps = res.Steps
		if !res.Ended.IsZero() {
			ended = res.Ended
		}
	} else {
		st.Status = StatusFailed
		if errors.Is(runErr, ErrCancelled) {
			st.Status = StatusCancelled
		}
		var se *StepError
		if errors.As(runErr, &se) {
			st.FailedStep = se.Step
		}
		if runErr != nil {
			st.Error = mk.Mask(runErr.Error())
		} else {
			st.Error = "the run ended without a result"
		}
		// What the events said of each step; a step they never mention did
		// not start.
		r.mu.Lock()
		for _, s := range r.opts.Manifest.Steps {
			sr, ok := r.steps[s.ID]
			if !ok {
				sr.Status = StatusSkipped
			}
			sr.ID, sr.Component = s.ID, s.Component
			st.Steps = append(st.Steps, sr)
		}
		r.mu.Unlock()
	}
	if st.Status == "" {
		st.Status = StatusFailed
	}
	if st.Steps == nil {
		st.Steps = []StepResult{}
	}
	st.Ended = ended.UTC().Format(timestampLayout)
	st.DurationMs = ended.Sub(r.opts.Started).Milliseconds()

	if !terminal {
		name, fields := EventRunError, map[string]any{"error": st.Error, "failed_step": st.FailedStep, "duration_ms": st.DurationMs}
		switch st.Status {
		case StatusCancelled:
			name, fields = EventRunCancelled, map[string]any{"duration_ms": st.DurationMs}
		case StatusSuccess:
			name, fields = EventRunComplete, map[string]any{"status": st.Status, "duration_ms": st.DurationMs, "rows_total": st.RowsTotal}
		}
		r.emit(Event{V: EventVersion, Seq: lastSeq + 1, TS: ended, RunID: r.opts.RunID, Event: name, Fields: fields})
	}

	var errs []error
	if err := r.writeStatus(st); err != nil {
		errs = append(errs, err)
	}
	if err := appendIndex(r.opts.StateDir, indexEnd{
		Format:     RecordFormat,
		Kind:       "end",
		RunID:      r.opts.RunID,
		Status:     st.Status,
		Ended:      st.Ended,
		DurationMs: st.DurationMs,
		Rows:       st.RowsTotal,
		FailedStep: st.FailedStep,
	}); err != nil {
		errs = append(errs, err)
	}
	r.mu.Lock()
	r.finished = true
	if r.writeErr != nil {
		errs = append(errs, fmt.Errorf("recording the run: %w", r.writeErr))
	}
	r.mu.Unlock()
	errs = append(errs, r.closeFiles())
	// The run is over: readers now see status.json and the end line.
	os.Remove(filepath.Join(r.dir, RunLockFile))
	r.unlock()
	return errors.Join(errs...)
}

// baseStatus is the part of status.json known from the run's start.
func (r *Recorder) baseStatus() statusFile {
	return statusFile{
		Format:        RecordFormat,
		Kind:          RecordKindRun,
		RunID:         r.opts.RunID,
		Pipeline:      r.pipeline,
		Slug:          r.slug,
		OsirisVersion: compile.Version,
		Host:          hostname(),
		PID:           os.Getpid(),
		Profile:       r.profile,
		ManifestHash:  r.opts.Manifest.ManifestHash,
		Where:         r.opts.Where,
		Started:       r.opts.Started.UTC().Format(timestampLayout),
	}
}

// runningStatus is status.json while the run lives: status running, every
// step pending, zeros written.
func (r *Recorder) runningStatus() statusFile {
	st := r.baseStatus()
	st.Status = StatusRunning
	st.Steps = make([]StepResult, 0, len(r.opts.Manifest.Steps))
	for _, s := range r.opts.Manifest.Steps {
		st.Steps = append(st.Steps, StepResult{ID: s.ID, Component: s.Component, Status: StatusPending})
	}
	return st
}

// writeStatus replaces status.json atomically, masked.
func (r *Recorder) writeStatus(st statusFile) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding status.json: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(r.dir, "status.json"), append(r.opts.Masker.MaskBytes(b), '\n')); err != nil {
		return fmt.Errorf("writing status.json: %w", err)
	}
	return nil
}

func (r *Recorder) closeFiles() error {
	var errs []error
	for _, f := range []*os.File{r.events, r.metrics, r.logFile} {
		if f != nil {
			if err := f.Sync(); err != nil {
				errs = append(errs, err)
			}
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// writeFileAtomic replaces path with data durably (fsync, then rename,
// then the directory's fsync): readers see the old file or the new one,
// never half, also after a crash.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.Write(path, data, atomicfile.Options{Sync: true})
}

// lockedWriter serialises writes from concurrent loggers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
