package runlog

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
)

// Detail is one run as `osiris logs show` shows it; its JSON is the
// `logs show --json` schema (pinned by a test: add fields, never rename).
type Detail struct {
	Run
	OsirisVersion string            `json:"osiris_version"`
	Host          string            `json:"host"`
	PID           int               `json:"pid"`
	Error         string            `json:"error"`
	Steps         []exec.StepResult `json:"steps"`
	// LogTail is the failed step's last lines of osiris.log (masked).
	LogTail []string `json:"log_tail"`
	// Compile records: where the manifest went and what validation said.
	ManifestDir string            `json:"manifest_dir,omitempty"`
	Diagnostics []diag.Diagnostic `json:"diagnostics,omitempty"`
	// Problems are what was wrong with the run's record (a damaged
	// status.json read from the events instead, lines of events.jsonl that
	// do not parse): shown, never fatal.
	Problems []string `json:"problems,omitempty"`
}

// LogTailLines is how many lines of osiris.log a failed step shows.
const LogTailLines = 20

// Show reads a run's detail from its directory.
func (s *Store) Show(r Run) (Detail, error) {
	dir := s.Dir(r)
	d := Detail{Run: r, Steps: []exec.StepResult{}, LogTail: []string{}}
	st, err := readStatus(dir)
	if err != nil {
		return d, err
	}
	d.OsirisVersion, d.Host, d.PID = st.OsirisVersion, st.Host, st.PID
	d.Error = s.mask(st.Error)
	if st.Steps != nil {
		d.Steps = st.Steps
	}
	for i := range d.Steps {
		d.Steps[i].Error = s.mask(d.Steps[i].Error)
	}
	if d.ManifestHash == "" {
		d.ManifestHash = st.ManifestHash
	}
	if d.FailedStep == "" {
		d.FailedStep = st.FailedStep
	}
	if st.Damaged != "" {
		d.Problems = append(d.Problems, st.Damaged+"; the run is shown from its events")
		if d.Error == "" {
			d.Error = s.mask(st.Error)
		}
	}
	if r.Kind != exec.RecordKindCompile && (st.Status == exec.StatusRunning || st.Damaged != "" ||
		d.Status == exec.StatusRunning || d.Status == exec.StatusKilled) {
		s.replayInto(dir, &d)
	}
	if d.Status == exec.StatusKilled && d.Error == "" {
		d.Error = ErrRunKilled.Error()
	}
	if d.Status == exec.StatusFailed {
		d.LogTail = s.logTail(dir, d.FailedStep, LogTailLines)
	}
	d.ManifestDir = st.ManifestDir
	for _, dg := range st.Diagnostics {
		dg.Message, dg.Hint = s.mask(dg.Message), s.mask(dg.Hint)
		d.Diagnostics = append(d.Diagnostics, dg)
	}
	if r.Kind == exec.RecordKindCompile && d.Error == "" && len(d.Diagnostics) > 0 && d.Status == exec.StatusFailed {
		d.Error = d.Diagnostics[0].String()
	}
	return d, nil
}

// replayInto lays the run's events over a detail whose status.json is not
// final: a live run's steps show what they are doing (running, with the
// time so far), a killed run's show which finished, which were killed
// while running and which never started, and its duration is up to its
// last event.
func (s *Store) replayInto(dir string, d *Detail) {
	evs, bad, err := readEventsFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		d.Problems = append(d.Problems, "events.jsonl cannot be read: "+err.Error())
		return
	}
	if n := badLines(bad); n != "" {
		d.Problems = append(d.Problems, n)
	}
	rp := replayEvents(evs)
	killed := d.Status == exec.StatusKilled
	if killed {
		// The process was alive at least until it last wrote a file of
		// the run (its events, log, metrics, its live report's sign).
		for _, n := range []string{"events.jsonl", "osiris.log", "metrics.jsonl", AliveFile} {
			if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && fi.ModTime().After(rp.last) {
				rp.last = fi.ModTime()
			}
		}
	}
	now := s.now()
	d.Steps = rp.apply(d.Steps, now, killed)
	for i := range d.Steps {
		d.Steps[i].Error = s.mask(d.Steps[i].Error)
	}
	started := parseTS(d.Started)
	switch {
	case killed && !rp.last.IsZero() && !started.IsZero():
		d.DurationMs = max(0, rp.last.Sub(started).Milliseconds())
		d.Ended = rp.last.UTC().Format(tsLayout)
	case d.Status == exec.StatusRunning && !started.IsZero():
		d.DurationMs = max(0, now.Sub(started).Milliseconds())
	}
	if killed || d.Status == exec.StatusRunning {
		var rows int64
		for _, st := range d.Steps {
			rows += st.RowsOut
		}
		if d.Rows == 0 {
			d.Rows = rows
		}
	}
}

// logTails returns the last n lines of osiris.log of every step, masked,
// in one pass over the log.
func (s *Store) logTails(dir string, n int) map[string][]string {
	out := map[string][]string{}
	if n <= 0 {
		return out
	}
	f, err := os.Open(filepath.Join(dir, "osiris.log"))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndex(line, " step=")
		if i < 0 {
			continue
		}
		step := line[i+len(" step="):]
		if j := strings.IndexByte(step, ' '); j >= 0 {
			step = step[:j]
		}
		ring := append(out[step], line)
		if len(ring) > n {
			ring = ring[1:]
		}
		out[step] = ring
	}
	for k, lines := range out {
		for i := range lines {
			lines[i] = s.mask(lines[i])
		}
		out[k] = lines
	}
	return out
}

// stepConfig is cfg/<step>.json as the run recorded it (masked when it
// was written; masked again here), cut to limit characters.
func (s *Store) stepConfig(dir, step string, limit int) string {
	b, err := os.ReadFile(filepath.Join(dir, "cfg", step+".json"))
	if err != nil {
		return ""
	}
	return clip(strings.TrimSpace(s.mask(string(b))), limit)
}

// logTail returns the last n lines of osiris.log about step (all lines
// when step is ""), masked.
func (s *Store) logTail(dir, step string, n int) []string {
	f, err := os.Open(filepath.Join(dir, "osiris.log"))
	if err != nil {
		return []string{}
	}
	defer f.Close()
	var ring []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	needle := "step=" + step
	for sc.Scan() {
		line := sc.Text()
		if step != "" && !strings.Contains(line, needle+" ") && !strings.HasSuffix(line, needle) {
			continue
		}
		ring = append(ring, s.mask(line))
		if len(ring) > n {
			ring = ring[1:]
		}
	}
	if ring == nil {
		return []string{}
	}
	return ring
}
