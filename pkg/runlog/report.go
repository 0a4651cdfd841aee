package runlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/osiris-go/osiris/internal/atomicfile"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/templates"
)

// ReportFile is the name of a run's report inside its run directory, and
// IndexHTML the site's index inside run_logs/.
const (
	ReportFile = "report.html"
	IndexHTML  = "index.html"
)

// MaxReportEvents bounds the events a report lists (the first ones and the
// last ones are kept); events.jsonl keeps them all.
const MaxReportEvents = 5000

var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"dur":   fmtDuration,
	"bytes": FmtBytes,
	"short": shortHash,
	"plus":  func(n int64) string { return fmt.Sprintf("%+d", n) },
	"inc":   func(i int) int { return i + 1 },
}).ParseFS(templates.Report, "report/*.tmpl"))

// pageScript is the only script of the pages (filters); the pages' CSP
// allows exactly it, by hash, and nothing else: no network, no other
// script, no external style, font or image.
const pageScript = `
function applyFilter(id) {
  var table = document.getElementById(id);
  var ctrls = document.querySelectorAll('[data-filter="' + id + '"]');
  var shown = 0;
  table.querySelectorAll('tbody tr').forEach(function (tr) {
    var ok = true;
    ctrls.forEach(function (c) {
      if (c.value === '') { return; }
      var key = c.getAttribute('data-key');
      if (key) {
        if (tr.getAttribute('data-' + key) !== c.value) { ok = false; }
      } else if (tr.textContent.toLowerCase().indexOf(c.value.toLowerCase()) < 0) {
        ok = false;
      }
    });
    tr.hidden = !ok;
    if (ok) { shown++; }
  });
  var count = document.getElementById(id + '-count');
  if (count) { count.textContent = String(shown); }
}
document.querySelectorAll('[data-filter]').forEach(function (c) {
  c.addEventListener(c.tagName === 'INPUT' ? 'input' : 'change', function () { applyFilter(c.getAttribute('data-filter')); });
});
`

func csp() string {
	sum := sha256.Sum256([]byte(pageScript))
	return "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

func shortHash(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// WriteRunReport writes report.html of the run recorded in runDir and
// refreshes run_logs/index.html. `osiris run` calls it at the end of every
// run, and so does the remote client once a remote run's record is
// complete; a failure to write the pages never fails the run.
func (s *Store) WriteRunReport(ctx context.Context, runDir string) error {
	r, ok := s.runFromDir(runDir)
	if !ok {
		return fmt.Errorf("report: %s is not a run directory", runDir)
	}
	if err := s.WriteReport(ctx, r); err != nil {
		return err
	}
	return s.WriteIndexHTML()
}

// WriteSite (re)writes every run's report.html and run_logs/index.html
// (`osiris logs html`). It returns the number of reports written and, for
// each run whose report could not be written (a damaged run directory),
// why: one damaged run never stops the others nor the index.
func (s *Store) WriteSite(ctx context.Context) (int, []string, Notice, error) {
	runs, notice, err := s.List(Filter{})
	if err != nil {
		return 0, nil, notice, err
	}
	n := 0
	var problems []string
	for _, r := range runs {
		if err := ctx.Err(); err != nil {
			return n, problems, notice, err
		}
		if err := s.WriteReport(ctx, r); err != nil {
			problems = append(problems, fmt.Sprintf("run %s (%s): %v", r.Short(), r.RunDir, err))
			continue
		}
		n++
	}
	return n, problems, notice, s.writeIndexHTML(runs)
}

// IndexHTMLPath is run_logs/index.html.
func (s *Store) IndexHTMLPath() string { return filepath.Join(s.RunLogsDir, IndexHTML) }

// WriteIndexHTML writes run_logs/index.html: every run, newest first.
func (s *Store) WriteIndexHTML() error {
	runs, _, err := s.List(Filter{})
	if err != nil {
		return err
	}
	return s.writeIndexHTML(runs)
}

type indexRow struct {
	Run
	Link     string // report.html relative to run_logs/, "" when there is none
	Started  string
	Duration string
	Live     string // a running run: what it is doing
	Hidden   bool   // compiles are hidden until the kind filter asks for them
}

type indexPage struct {
	CSP       string
	Script    template.JS
	Generated string
	Refresh   int // seconds; > 0 while a run goes
	Runs      []indexRow
	Shown     int
	Pipelines []string
	Statuses  []string
	Kinds     []string
}

func (s *Store) writeIndexHTML(runs []Run) error {
	p := indexPage{CSP: csp(), Script: template.JS(pageScript), Generated: s.now().UTC().Format(time.RFC3339)}
	pipes, stats, kinds := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		row := indexRow{Run: r, Started: displayTS(r.Started), Duration: fmtDuration(r.DurationMs), Hidden: r.Kind == exec.RecordKindCompile}
		row.Run.Pipeline = s.mask(r.Pipeline)
		if !row.Hidden {
			p.Shown++
		}
		if r.Status == exec.StatusKilled && reportIsLive(filepath.Join(s.Dir(r), ReportFile)) {
			// Written while the run went, which was then killed.
			s.WriteReport(context.Background(), r)
		}
		if r.Status == exec.StatusRunning || r.Status == exec.StatusKilled {
			if d, err := s.Show(r); err == nil {
				row.Duration = fmtDuration(d.DurationMs)
				row.Live = liveSummary(d)
				if r.Status == exec.StatusRunning {
					p.Refresh = LiveRefreshSeconds
				}
			}
		}
		if rel, err := filepath.Rel(s.RunLogsDir, filepath.Join(s.Dir(r), ReportFile)); err == nil && !strings.HasPrefix(rel, "..") {
			if _, err := os.Stat(filepath.Join(s.Dir(r), ReportFile)); err == nil {
				row.Link = filepath.ToSlash(rel)
			}
		}
		p.Runs = append(p.Runs, row)
		pipes[r.Slug], stats[r.Status], kinds[r.Kind] = true, true, true
	}
	p.Pipelines, p.Statuses, p.Kinds = sortedSet(pipes), sortedSet(stats), sortedSet(kinds)
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, "index.html.tmpl", p); err != nil {
		return fmt.Errorf("writing %s: %w", IndexHTML, err)
	}
	if err := os.MkdirAll(s.RunLogsDir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", IndexHTML, err)
	}
	return writeAtomic(s.IndexHTMLPath(), s.Masker.MaskBytes(buf.Bytes()))
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func displayTS(ts string) string {
	t := parseTS(ts)
	if t.IsZero() {
		return ts
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// reportPage is what report.html.tmpl renders.
type reportPage struct {
	CSP       string
	Script    template.JS
	Generated string
	Refresh   int // seconds; > 0 while the run goes
	Banner    *banner
	D         Detail
	Started   string
	Duration  string
	Errors    int
	IndexLink string
	DAG       dagSVG
	Timeline  timelineSVG
	Steps     []stepRow
	Failed    *failedBox
	Reduced   bool   // the run was too big for the usual bounds
	RowsNote  string // what the header's rows add up (several writers)
	Events    []eventRow
	EventsCut int
	EvSteps   []string
	EvTypes   []string
	Sync      []syncBox
	Diff      *Diff
	DiffPrev  string
}

type stepRow struct {
	exec.StepResult
	Duration string
	Size     string
	Digest   string
	// The step's drill-down: open for a failed or killed step.
	Open    bool
	Config  string   // cfg/<step>.json as run, masked
	Logs    []string // its last lines of osiris.log
	Preview *Preview // its artifact's schema and first rows
}

// banner heads the report of a run that did not end by itself: still
// going, cancelled, or killed.
type banner struct {
	Kind  string // running | cancelled | killed
	Title string
	Text  string
}

// LiveRefreshSeconds is how often a live run's pages reload themselves.
const LiveRefreshSeconds = 3

// liveSummary says what a running run is doing, or how a killed run
// stopped: the steps running (with their time so far) and finished.
func liveSummary(d Detail) string {
	var running []string
	done := 0
	for _, st := range d.Steps {
		switch st.Status {
		case exec.StatusRunning, exec.StatusKilled:
			running = append(running, fmt.Sprintf("%s (%s)", st.ID, fmtDuration(st.DurationMs)))
		case exec.StatusSuccess, exec.StatusFailed, exec.StatusSkipped, exec.StatusCancelled:
			done++
		}
	}
	verb := "running"
	if d.Status == exec.StatusKilled {
		verb = "killed in"
	}
	out := fmt.Sprintf("%d of %d steps finished", done, len(d.Steps))
	if len(running) > 0 {
		out += "; " + verb + " " + strings.Join(running, ", ")
	}
	return out
}

func runBanner(d Detail) *banner {
	switch d.Status {
	case exec.StatusRunning:
		return &banner{Kind: "running", Title: "This run is still going",
			Text: liveSummary(d) + ". This page is rewritten as steps finish" + " and reloads itself every few seconds."}
	case exec.StatusKilled:
		return &banner{Kind: "killed", Title: "This run was killed",
			Text: "Its process ended without recording an outcome (SIGKILL, a crash, or the machine stopped). " + liveSummary(d) +
				". Times are up to its last sign of life (its last event, or its live report's last rewrite)."}
	case exec.StatusCancelled:
		return &banner{Kind: "cancelled", Title: "This run was cancelled",
			Text: "It was stopped (Ctrl-C, a signal or --timeout) before it finished. " + liveSummary(d) + "."}
	}
	return nil
}

type failedBox struct {
	Kind    string // failed | killed
	Step    string
	Error   string
	LogTail []string
}

type eventRow struct {
	Seq    int64
	Time   string
	Event  string
	Step   string
	Fields [][2]string // key, value (cut to EventValueChars)
}

// EventValueChars is where an event field's value is cut in the report.
const EventValueChars = 300

type syncBox struct {
	Event  string
	Fields [][2]string
}

// MaxReportBytes bounds a report: whatever the data, a report is smaller
// (a run with very many steps, events or wide tables is shown with fewer
// events, preview rows and shorter values, and says so).
const MaxReportBytes = 2_000_000

// bounds are how much of a run a report shows.
type bounds struct {
	events, rows, cell int
	previews           bool
	logLines           int // per step
}

// boundsLadder is tried in order until the report fits MaxReportBytes.
var boundsLadder = []bounds{
	{events: MaxReportEvents, rows: PreviewRows, cell: PreviewCellChars, previews: true, logLines: 30},
	{events: 1000, rows: 10, cell: 120, previews: true, logLines: 10},
	{events: 200, rows: 5, cell: 60, previews: true, logLines: 3},
	{events: 100, rows: 0, cell: 40, previews: false, logLines: 0},
}

// WriteReport writes <run dir>/report.html: one self-contained page.
func (s *Store) WriteReport(ctx context.Context, r Run) error {
	dir := s.Dir(r)
	d, err := s.Show(r)
	if err != nil {
		return fmt.Errorf("report of run %s: %w", r.RunID, err)
	}
	var page []byte
	for i, b := range boundsLadder {
		page, err = s.renderReport(ctx, r, d, b, i > 0)
		if err != nil {
			return err
		}
		if len(page) < MaxReportBytes {
			break
		}
	}
	return writeAtomic(filepath.Join(dir, ReportFile), page)
}

func (s *Store) renderReport(ctx context.Context, r Run, d Detail, b bounds, reduced bool) ([]byte, error) {
	dir := s.Dir(r)
	p := reportPage{
		CSP: csp(), Script: template.JS(pageScript), Generated: s.now().UTC().Format(time.RFC3339), D: d,
		Started: displayTS(d.Started), Duration: fmtDuration(d.DurationMs), Banner: runBanner(d), Reduced: reduced,
	}
	if d.Status == exec.StatusRunning {
		p.Refresh = LiveRefreshSeconds
	}
	p.D.Pipeline = s.mask(d.Pipeline)
	if rel, err := filepath.Rel(dir, s.IndexHTMLPath()); err == nil {
		p.IndexLink = filepath.ToSlash(rel)
	}
	var logs map[string][]string
	if r.Kind != exec.RecordKindCompile {
		logs = s.logTails(dir, b.logLines)
	}
	for _, st := range d.Steps {
		if st.Status == exec.StatusFailed || st.Status == exec.StatusKilled {
			p.Errors++
		}
		row := stepRow{StepResult: st, Duration: fmtDuration(st.DurationMs), Size: "-", Digest: "-",
			Open: st.Status == exec.StatusFailed || st.Status == exec.StatusKilled}
		switch {
		case st.ReusedRun != "" && st.Status == exec.StatusSkipped: // a writer --reuse-writes skipped
			row.Cache = "skipped: " + st.CacheReason + " (0 rows written)"
		case st.Cache == exec.CacheOff && st.CacheReason != "":
			row.Cache = "off: " + st.CacheReason
		}
		if st.Artifact != nil {
			row.Size = FmtBytes(st.Artifact.Bytes)
			row.Digest = shortHash(st.Artifact.TableDigest)
		}
		row.Error = clip(st.Error, 20*b.cell)
		if r.Kind != exec.RecordKindCompile {
			row.Config = s.stepConfig(dir, st.ID, 40*b.cell)
			for _, l := range logs[st.ID] {
				row.Logs = append(row.Logs, clip(l, 2*b.cell))
			}
		}
		p.Steps = append(p.Steps, row)
	}
	p.Errors += len(d.Diagnostics)
	if d.Status == exec.StatusFailed || d.Status == exec.StatusKilled {
		if p.Errors == 0 {
			p.Errors = 1 // the run's own error
		}
		fb := &failedBox{Kind: d.Status, Step: d.FailedStep, Error: d.Error, LogTail: d.LogTail}
		if fb.Kind == exec.StatusKilled && fb.Step == "" {
			for _, st := range d.Steps {
				if st.Status == exec.StatusKilled {
					fb.Step = st.ID // the step it was in when it died
					fb.LogTail = s.logTail(dir, st.ID, LogTailLines)
					break
				}
			}
		}
		if fb.Step != "" && fb.Kind != exec.StatusKilled {
			for _, st := range d.Steps {
				if st.ID == fb.Step && st.Error != "" {
					fb.Error = st.Error
				}
			}
		}
		fb.Error = clip(fb.Error, 20*b.cell)
		for i := range fb.LogTail {
			fb.LogTail[i] = clip(fb.LogTail[i], 4*b.cell)
		}
		if fb.Error != "" || fb.Step != "" {
			p.Failed = fb
		}
	}
	if r.Kind != exec.RecordKindCompile {
		msteps := readManifestSteps(dir, d.Steps)
		p.RowsNote = writersNote(msteps, d.Steps)
		p.DAG = layoutDAG(msteps, d.Steps)
		p.Timeline = layoutTimeline(d)
		for i, st := range d.Steps {
			if st.Artifact == nil || !b.previews {
				continue
			}
			pv, err := s.readPreview(ctx, dir, st.Artifact.Path, b)
			pv.Step = st.ID
			if err != nil {
				pv.Err = s.mask(err.Error())
			}
			p.Steps[i].Preview = &pv
		}
		s.reportEvents(r, &p, b)
		if prev, ok, err := s.Previous(r); err == nil && ok {
			if df, err := s.DiffRuns(prev, r); err == nil {
				p.Diff = &df
				if rel, err := filepath.Rel(dir, filepath.Join(s.Dir(prev), ReportFile)); err == nil {
					p.DiffPrev = filepath.ToSlash(rel)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, "report.html.tmpl", p); err != nil {
		return nil, fmt.Errorf("report of run %s: %w", r.RunID, err)
	}
	// Everything was masked as it was read; masking the page again catches
	// a secret that reached it by a path not thought of.
	return s.Masker.MaskBytes(buf.Bytes()), nil
}

// reportEvents fills the events table, the filters and the sandbox boxes.
func (s *Store) reportEvents(r Run, p *reportPage, b bounds) {
	evs, notice, err := s.Events(r, "")
	if err != nil {
		p.D.Problems = append(p.D.Problems, err.Error())
		return
	}
	if notice != "" && !contains(p.D.Problems, string(notice)) {
		p.D.Problems = append(p.D.Problems, string(notice))
	}
	steps, types := map[string]bool{}, map[string]bool{}
	keep := evs
	if len(evs) > b.events {
		keep = append(append([]exec.Event{}, evs[:b.events/2]...), evs[len(evs)-b.events/2:]...)
		p.EventsCut = len(evs) - len(keep)
	}
	for _, e := range keep {
		steps[e.Step], types[e.Event] = true, true
		row := eventRow{Seq: e.Seq, Time: e.TS.UTC().Format("15:04:05.000"), Event: e.Event, Step: e.Step}
		for _, k := range sortedKeys(e.Fields) {
			row.Fields = append(row.Fields, [2]string{k, clip(compactValue(k, e.Fields[k]), min(b.cell, EventValueChars))})
		}
		p.Events = append(p.Events, row)
	}
	for _, e := range evs {
		if strings.HasPrefix(e.Event, "sandbox_") || strings.HasPrefix(e.Event, "sync_") || e.Event == "artifacts_fetched" {
			box := syncBox{Event: e.Event}
			for _, k := range sortedKeys(e.Fields) {
				v := compactValue(k, e.Fields[k])
				if strings.Contains(k, "bytes") {
					if n, ok := number(e.Fields[k]); ok {
						v = fmt.Sprintf("%s (%d)", FmtBytes(n), n)
					}
				}
				box.Fields = append(box.Fields, [2]string{k, clip(v, b.cell)})
			}
			p.Sync = append(p.Sync, box)
		}
	}
	p.EvSteps, p.EvTypes = sortedSet(steps), sortedSet(types)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func number(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	case interface{ Int64() (int64, error) }:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

// writersNote says what the run's rows (the rows its writers wrote, added
// up) are made of when more than one writer wrote: the same 21,000 rows
// written four times are 84,000 rows written, not 84,000 rows of data.
func writersNote(ms []manifestStep, steps []exec.StepResult) string {
	rows := map[string]int64{}
	for _, st := range steps {
		if st.Status == exec.StatusSuccess {
			rows[st.ID] = st.RowsOut
		}
	}
	var parts []string
	var first int64 = -1
	same := true
	for _, m := range ms {
		if m.Mode != "write" {
			continue
		}
		n, ok := rows[m.ID]
		if !ok {
			continue
		}
		if first < 0 {
			first = n
		} else if n != first {
			same = false
		}
		parts = append(parts, fmt.Sprintf("%s %d", m.ID, n))
	}
	switch {
	case len(parts) < 2:
		return ""
	case same:
		return fmt.Sprintf("%d rows written by each of %d writers", first, len(parts))
	}
	return fmt.Sprintf("added up over %d writers: %s", len(parts), strings.Join(parts, ", "))
}

// manifestStep is what the DAG needs of a manifest step.
type manifestStep struct {
	ID        string   `yaml:"id"`
	Component string   `yaml:"component"`
	Mode      string   `yaml:"mode"`
	Needs     []string `yaml:"needs"`
}

// readManifestSteps reads the steps and their needs from the run's
// manifest.yaml; without one, the steps of status.json with no edges.
func readManifestSteps(dir string, steps []exec.StepResult) []manifestStep {
	var m struct {
		Steps []manifestStep `yaml:"steps"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "manifest.yaml")); err == nil && yaml.Unmarshal(b, &m) == nil && len(m.Steps) > 0 {
		return m.Steps
	}
	out := make([]manifestStep, 0, len(steps))
	for _, s := range steps {
		out = append(out, manifestStep{ID: s.ID, Component: s.Component})
	}
	return out
}

func writeAtomic(path string, data []byte) error {
	if err := atomicfile.Write(path, data, atomicfile.Options{}); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
