package exec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/workspace"
)

// CompileRecordOptions describe one compile to record: `osiris compile` of
// one pipeline, or the compile stage of `osiris run`.
type CompileRecordOptions struct {
	RunLogsDir    string // absolute
	StateDir      string // absolute
	WorkspaceRoot string // default: the parent of StateDir
	Pipeline      string // workspace-relative pipeline file
	// PipelinesDir is the workspace's pipelines folder (workspace-relative;
	// "" = pipelines): a failed compile's slug is derived as the compiler does.
	PipelinesDir string
	Profile      string
	Started      time.Time
	Ended        time.Time // zero: now
	// Manifest is what the compile produced (nil when it failed) and
	// ManifestDir where it went under build/ (workspace-relative).
	Manifest    *compile.Manifest
	ManifestDir string
	Changed     bool
	Diagnostics diag.List // errors and warnings, as validate prints them
	// Err is a failure that is not a diagnostic (writing build/ failed).
	Err    error
	ForRun bool // the compile stage of `osiris run`
	Masker *workspace.Masker
}

// compileStatus is status.json of a compile record.
type compileStatus struct {
	Format        int               `json:"format"`
	Kind          string            `json:"kind"` // RecordCompile
	Status        string            `json:"status"`
	RunID         string            `json:"run_id"`
	Pipeline      string            `json:"pipeline"`
	Slug          string            `json:"slug"`
	Profile       string            `json:"profile"`
	OsirisVersion string            `json:"osiris_version"`
	Host          string            `json:"host"`
	PID           int               `json:"pid"`
	Where         string            `json:"where"`
	ForRun        bool              `json:"for_run"`
	Started       string            `json:"started"`
	Ended         string            `json:"ended"`
	DurationMs    int64             `json:"duration_ms"`
	ManifestHash  string            `json:"manifest_hash"`
	ManifestDir   string            `json:"manifest_dir"`
	Changed       bool              `json:"changed"`
	StepCount     int               `json:"step_count"`
	Errors        int               `json:"errors"`
	Warnings      int               `json:"warnings"`
	Error         string            `json:"error,omitempty"`
	Diagnostics   []diag.Diagnostic `json:"diagnostics"`
}

// RecordCompile writes a compile record: a directory
// run_logs/<profile>/<slug>/<ts>_<id>-compile/ holding status.json (the
// pipeline, the manifest produced or the diagnostics, masked), and its
// start and end lines in the run index with record "compile". It returns
// the record's directory, workspace-relative.
func RecordCompile(opts CompileRecordOptions) (string, error) {
	if !filepath.IsAbs(opts.RunLogsDir) || !filepath.IsAbs(opts.StateDir) {
		return "", fmt.Errorf("compile record: run logs dir %q and state dir %q must be absolute", opts.RunLogsDir, opts.StateDir)
	}
	if opts.WorkspaceRoot == "" {
		opts.WorkspaceRoot = filepath.Dir(opts.StateDir)
	}
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	if opts.Ended.IsZero() {
		opts.Ended = time.Now()
	}
	mk := opts.Masker
	id := NewRunID()
	st := compileStatus{
		Format: RecordFormat, Kind: RecordKindCompile, RunID: id, Pipeline: opts.Pipeline,
		Slug: compile.SlugIn(opts.Pipeline, orValue(opts.PipelinesDir, "pipelines")), Profile: orValue(opts.Profile, "default"),
		OsirisVersion: compile.Version, Host: hostname(), PID: os.Getpid(), Where: "local", ForRun: opts.ForRun,
		Started: opts.Started.UTC().Format(timestampLayout), Ended: opts.Ended.UTC().Format(timestampLayout),
		DurationMs: opts.Ended.Sub(opts.Started).Milliseconds(), ManifestDir: opts.ManifestDir, Changed: opts.Changed,
		Diagnostics: []diag.Diagnostic{},
	}
	if m := opts.Manifest; m != nil {
		st.ManifestHash, st.StepCount = m.ManifestHash, len(m.Steps)
		if m.Pipeline.Slug != "" {
			st.Slug = m.Pipeline.Slug
		}
		if m.Profile != "" {
			st.Profile = m.Profile
		}
	}
	for _, d := range opts.Diagnostics {
		d.Message, d.Hint = mk.Mask(d.Message), mk.Mask(d.Hint)
		st.Diagnostics = append(st.Diagnostics, d)
		if d.Severity == diag.Error {
			st.Errors++
		} else {
			st.Warnings++
		}
	}
	st.Status = StatusSuccess
	if opts.Err != nil {
		st.Error = mk.Mask(opts.Err.Error())
	}
	if st.Errors > 0 || opts.Err != nil || opts.Manifest == nil {
		st.Status = StatusFailed
	}
	if !safeSegment(st.Slug) || !safeSegment(st.Profile) {
		return "", fmt.Errorf("compile record: profile %q or pipeline slug %q cannot be used as a directory name", st.Profile, st.Slug)
	}
	short := "compile"
	dir := filepath.Join(opts.RunLogsDir, st.Profile, st.Slug, fmt.Sprintf("%s_%s-%s", opts.Started.UTC().Format("20060102T150405Z"), id, short))
	rel := relSlash(opts.WorkspaceRoot, dir)
	// The directory and the index lines appear under one hold of the index
	// lock (appendIndexLocked says why).
	unlockIndex, err := LockIndex(opts.StateDir)
	if err != nil {
		return "", fmt.Errorf("compile record: %w", err)
	}
	defer unlockIndex()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("compile record: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return "", fmt.Errorf("compile record: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "status.json"), append(mk.MaskBytes(b), '\n')); err != nil {
		return "", fmt.Errorf("compile record: %w", err)
	}
	if err := appendIndexLocked(opts.StateDir, IndexedRun{
		Format: RecordFormat, Record: RecordKindCompile, Kind: "start", RunID: id, Pipeline: st.Pipeline, Slug: st.Slug,
		Profile: st.Profile, ManifestHash: st.ManifestHash, Started: st.Started, Where: st.Where, RunDir: rel,
	}); err != nil {
		return rel, err
	}
	if err := appendIndexLocked(opts.StateDir, indexEnd{
		Format: RecordFormat, Kind: "end", RunID: id, Status: st.Status, Ended: st.Ended, DurationMs: st.DurationMs,
	}); err != nil {
		return rel, err
	}
	return rel, nil
}
