package runlog

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
)

// Run is one recorded run or compile as `osiris logs list` shows it; its
// JSON is the `logs list --json` schema (pinned by a test: add fields,
// never rename).
type Run struct {
	Kind         string `json:"kind"` // run | compile
	RunID        string `json:"run_id"`
	Pipeline     string `json:"pipeline"` // workspace-relative pipeline file
	Slug         string `json:"slug"`
	Profile      string `json:"profile"`
	Status       string `json:"status"` // success | failed | cancelled | running | killed
	Started      string `json:"started"`
	Ended        string `json:"ended"`
	DurationMs   int64  `json:"duration_ms"`
	Rows         int64  `json:"rows"`
	Where        string `json:"where"` // local, or the sandbox's name
	Remote       bool   `json:"remote"`
	ManifestHash string `json:"manifest_hash"`
	FailedStep   string `json:"failed_step"`
	RunDir       string `json:"run_dir"` // workspace-relative
	Format       int    `json:"format"`

	short int // length of the shortest prefix unique among recorded runs
}

// ShortIDLen is the least a short run id shows: the first ten characters
// of a run id are its start time in milliseconds.
const ShortIDLen = 10

// Short is the run id as lists show it: its first ShortIDLen characters,
// more when another recorded run shares them (git's rule), so that it
// selects this run again.
func (r Run) Short() string {
	n := max(r.short, ShortIDLen)
	if len(r.RunID) > n {
		return r.RunID[:n]
	}
	return r.RunID
}

// uniquePrefixes returns, for each id, the length of its shortest prefix
// that no other id shares (at least min).
func uniquePrefixes(ids []string, min int) map[string]int {
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	out := make(map[string]int, len(sorted))
	lcp := func(a, b string) int {
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		return i
	}
	for i, id := range sorted {
		n := min
		if i > 0 {
			n = max(n, lcp(id, sorted[i-1])+1)
		}
		if i+1 < len(sorted) {
			n = max(n, lcp(id, sorted[i+1])+1)
		}
		out[id] = n
	}
	return out
}

// Filter selects runs for List. Zero values select everything.
type Filter struct {
	Pipeline string    // pipeline file, its slug, or its path without extension
	Status   []string  // any of these statuses
	Since    time.Time // started at or after
	Limit    int       // at most this many (newest first); 0 = all
	Kind     string    // run | compile | "" or "all" (both)
	Profile  string    // only runs of this profile ("" = every profile)
}

// KindAll selects runs and compiles (`logs list --kind all`).
const KindAll = "all"

// Validate checks a filter's values (a usage error names the flag).
func (f Filter) Validate() error {
	switch f.Kind {
	case "", KindAll, exec.RecordKindRun, exec.RecordKindCompile:
	default:
		return diag.Usage("--kind %q: use run, compile or all", f.Kind)
	}
	for _, s := range f.Status {
		switch s {
		case exec.StatusIncomplete: // spec 03's name for a killed run
		case exec.StatusSuccess, exec.StatusFailed, exec.StatusCancelled, exec.StatusRunning, exec.StatusKilled:
		default:
			return diag.Usage("--status %q: use success, failed, cancelled, running or killed", s)
		}
	}
	if f.Limit < 0 {
		return diag.Usage("--limit %d: use a positive number (0 = all)", f.Limit)
	}
	return nil
}

// matchPipeline reports whether a run belongs to the pipeline named by p:
// its slug, its file, or its file without extension.
func matchPipeline(r exec.IndexedRun, p string) bool {
	p = strings.TrimPrefix(path.Clean(strings.ReplaceAll(p, `\`, "/")), "./")
	if p == r.Slug || p == r.Pipeline {
		return true
	}
	return strings.TrimSuffix(r.Pipeline, path.Ext(r.Pipeline)) == p
}

// List returns the runs f selects, newest first. It reads the index (and
// rebuilds it when it must, returning a Notice saying so); runs whose
// directory is gone are left out; a run with no end is running while its
// process holds run.lock and killed once it does not.
func (s *Store) List(f Filter) ([]Run, Notice, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	idx, notice, err := s.loadIndex()
	if err != nil {
		return nil, notice, err
	}
	out := make([]Run, 0, min(len(idx), max(f.Limit, 64)))
	ids := make([]string, len(idx))
	for i, ir := range idx {
		ids[i] = ir.RunID
	}
	shortLen := uniquePrefixes(ids, ShortIDLen)
	if f.Kind == KindAll {
		f.Kind = ""
	}
	present := dirLister{}
	var since string
	if !f.Since.IsZero() {
		since = f.Since.UTC().Format(tsLayout)
	}
	for i := len(idx) - 1; i >= 0; i-- { // start order: newest last
		ir := idx[i]
		if f.Kind != "" && ir.Record != f.Kind {
			continue
		}
		if f.Profile != "" && ir.Profile != f.Profile {
			continue
		}
		if f.Pipeline != "" && !matchPipeline(ir, f.Pipeline) {
			continue
		}
		if since != "" && ir.Started < since {
			continue
		}
		r, ok := s.resolveIn(ir, present)
		if !ok {
			continue
		}
		r.short = shortLen[r.RunID]
		if len(f.Status) > 0 && !contains(f.Status, r.Status) && !(r.Status == exec.StatusKilled && contains(f.Status, exec.StatusIncomplete)) {
			continue
		}
		out = append(out, r)
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
	}
	// Start order is append order; concurrent runs may append out of
	// timestamp order, so sort (stable: already nearly sorted).
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Started != out[j].Started {
			return out[i].Started > out[j].Started
		}
		return out[i].RunID > out[j].RunID
	})
	return out, notice, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// dirLister answers "does this run directory exist" with one directory
// read per pipeline folder instead of one stat per run.
type dirLister map[string]map[string]bool

func (d dirLister) exists(dir string) bool {
	parent, name := filepath.Split(dir)
	names, ok := d[parent]
	if !ok {
		ents, err := os.ReadDir(parent)
		names = make(map[string]bool, len(ents))
		if err == nil {
			for _, e := range ents {
				names[e.Name()] = true
			}
		}
		d[parent] = names
	}
	return names[name]
}

// resolve turns an index entry into a Run, settling the status of a run
// with no end line. ok is false when the run directory is gone.
func (s *Store) resolve(ir exec.IndexedRun) (Run, bool) { return s.resolveIn(ir, nil) }

func (s *Store) resolveIn(ir exec.IndexedRun, present dirLister) (Run, bool) {
	r := Run{
		Kind: ir.Record, RunID: ir.RunID, Pipeline: ir.Pipeline, Slug: ir.Slug, Profile: ir.Profile,
		Status: ir.Status, Started: ir.Started, Ended: ir.Ended, DurationMs: ir.DurationMs, Rows: ir.Rows,
		Where: ir.Where, ManifestHash: ir.ManifestHash, FailedStep: ir.FailedStep, RunDir: ir.RunDir, Format: ir.Format,
	}
	if r.Where == "" {
		r.Where = "local"
	}
	r.Remote = r.Where != "local"
	dir := s.abs(ir.RunDir)
	if present != nil {
		if !present.exists(dir) {
			return r, false
		}
	} else if _, err := os.Lstat(dir); err != nil {
		return r, false
	}
	if r.Status == "" || r.Status == exec.StatusIncomplete {
		r.Status = s.openStatus(dir, &r)
	}
	return r, true
}

// openStatus settles a run that has no end line.
func (s *Store) openStatus(dir string, r *Run) string {
	if exec.RunLive(dir) {
		if t := parseTS(r.Started); !t.IsZero() {
			r.DurationMs = s.now().Sub(t).Milliseconds()
		}
		return exec.StatusRunning
	}
	// The end line may be lost (a crash between status.json and the
	// index); status.json then has the outcome.
	if st, err := readStatus(dir); err == nil {
		switch st.Status {
		case exec.StatusSuccess, exec.StatusFailed, exec.StatusCancelled:
			r.Ended, r.DurationMs, r.Rows, r.FailedStep = st.Ended, st.DurationMs, st.RowsTotal, st.FailedStep
			return st.Status
		}
	}
	// Killed: it lasted at least until its last sign of life.
	if t := parseTS(r.Started); !t.IsZero() {
		for _, n := range []string{"events.jsonl", "osiris.log", AliveFile} {
			if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && fi.ModTime().After(t) {
				r.DurationMs = max(r.DurationMs, fi.ModTime().Sub(t).Milliseconds())
			}
		}
	}
	return exec.StatusKilled
}

// ParseSince reads --since: a duration back from now (90m, 36h, 2d, 1w) or
// a date (2026-11-28) or RFC 3339 time.
func ParseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if m := sinceRE.FindStringSubmatch(v); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		return now.Add(-time.Duration(n) * unit), nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, diag.Usage("--since %q: use a duration back from now (90m, 36h, 2d, 1w) or a date (2026-11-28)", v)
}

var sinceRE = regexp.MustCompile(`^(\d+)([smhdw])$`)

// ErrNoRuns is returned when a selector finds nothing to select from.
var ErrNoRuns = errors.New("no runs recorded yet (run a pipeline with `osiris run`)")

// Select resolves a run selector: "" or "last" (the newest record of kind,
// a run when kind is ""; of profile, when profile != ""),
// "last:<pipeline>", a unique prefix of a run id (any case, any kind), or
// the path of a run directory (one copied elsewhere too).
func (s *Store) Select(sel, kind, profile string) (Run, Notice, error) {
	if sel == "" {
		sel = "last"
	}
	if st, err := os.Stat(sel); err == nil && st.IsDir() {
		if r, ok := s.runFromDir(sel); ok {
			return r, "", nil
		}
	}
	f := Filter{Kind: kind}
	switch {
	case sel == "last":
		f.Limit = 1
	case strings.HasPrefix(sel, "last:"):
		f.Pipeline, f.Limit = strings.TrimPrefix(sel, "last:"), 1
	}
	if f.Limit == 1 {
		f.Profile = profile
		if f.Kind == "" {
			f.Kind = exec.RecordKindRun
		}
	}
	runs, notice, err := s.List(f)
	if err != nil {
		return Run{}, notice, err
	}
	if f.Limit == 1 {
		if len(runs) == 0 {
			what := "runs"
			if f.Kind == exec.RecordKindCompile {
				what = "compiles"
			}
			if profile != "" {
				what += fmt.Sprintf(" of profile %q", profile)
			}
			if f.Pipeline != "" {
				return Run{}, notice, diag.Usage("no %s of pipeline %q recorded (see `osiris logs list`)", what, f.Pipeline)
			}
			if what != "runs" {
				return Run{}, notice, diag.Usage("no %s recorded (see `osiris logs list --kind all`)", what)
			}
			return Run{}, notice, &diag.UsageError{Err: ErrNoRuns}
		}
		return runs[0], notice, nil
	}
	want := strings.ToUpper(sel)
	var hits []Run
	for _, r := range runs {
		if strings.HasPrefix(r.RunID, want) {
			hits = append(hits, r)
		}
	}
	switch len(hits) {
	case 0:
		return Run{}, notice, diag.Usage("no run matches %q (give a run id or a prefix of one, `last` or `last:<pipeline>`; see `osiris logs list`)", sel)
	case 1:
		return hits[0], notice, nil
	}
	ids := make([]string, 0, 5)
	for i, h := range hits {
		if i == 5 {
			ids = append(ids, "…")
			break
		}
		ids = append(ids, h.RunID)
	}
	return Run{}, notice, diag.Usage("%q matches %d runs (%s); give more of the id", sel, len(hits), strings.Join(ids, ", "))
}

// runFromDir reads a run directory that may not be in the index.
func (s *Store) runFromDir(dir string) (Run, bool) {
	ir, ok := s.recordFromDir(dir)
	if !ok {
		return Run{}, false
	}
	r, ok := s.resolve(ir)
	if ok && r.RunDir == "" {
		r.RunDir = dir
	}
	return r, ok
}

// Dir is the absolute directory of a run.
func (s *Store) Dir(r Run) string { return s.abs(r.RunDir) }

func fmtDuration(ms int64) string {
	switch {
	case ms < 1000:
		return fmt.Sprintf("%d ms", ms)
	case ms < 60_000:
		return fmt.Sprintf("%.1f s", float64(ms)/1000)
	case ms < 3_600_000:
		return fmt.Sprintf("%dm%02ds", ms/60_000, ms/1000%60)
	}
	return fmt.Sprintf("%dh%02dm", ms/3_600_000, ms/60_000%60)
}

// FmtDuration formats milliseconds for people (the CLI and the report).
func FmtDuration(ms int64) string { return fmtDuration(ms) }
