package runlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
)

// statusDoc is status.json as recorded by pkg/exec, for a run (kind run)
// or a compile (kind compile). Unknown fields (added by newer formats or
// by other features) are ignored.
type statusDoc struct {
	Format        int               `json:"format"`
	Kind          string            `json:"kind"`
	Status        string            `json:"status"`
	RunID         string            `json:"run_id"`
	Pipeline      string            `json:"pipeline"`
	Slug          string            `json:"slug"`
	Profile       string            `json:"profile"`
	ManifestHash  string            `json:"manifest_hash"`
	Where         string            `json:"where"`
	OsirisVersion string            `json:"osiris_version"`
	Host          string            `json:"host"`
	PID           int               `json:"pid"`
	Started       string            `json:"started"`
	Ended         string            `json:"ended"`
	DurationMs    int64             `json:"duration_ms"`
	RowsTotal     int64             `json:"rows_total"`
	FailedStep    string            `json:"failed_step"`
	Error         string            `json:"error"`
	Steps         []exec.StepResult `json:"steps"`
	// Compile records.
	ManifestDir string            `json:"manifest_dir"`
	Changed     bool              `json:"changed"`
	ForRun      bool              `json:"for_run"`
	Diagnostics []diag.Diagnostic `json:"diagnostics"`

	// Damaged says what was wrong with status.json when the record was
	// read from the events instead ("" when it was not).
	Damaged string `json:"-"`
}

// readStatus reads dir/status.json. A run directory without one (from
// before status.json existed at the start), or whose status.json is
// damaged, is read from its events instead: how it began (run_start) and,
// when it ended, how (its terminal event); Damaged then says what was
// wrong.
func readStatus(dir string) (statusDoc, error) {
	var st statusDoc
	path := filepath.Join(dir, "status.json")
	b, err := os.ReadFile(path)
	damage := ""
	switch {
	case err == nil:
		jerr := json.Unmarshal(b, &st)
		if jerr == nil {
			return st, nil
		}
		st = statusDoc{}
		damage = fmt.Sprintf("status.json is damaged (%v)", jerr)
	case !errors.Is(err, fs.ErrNotExist):
		damage = fmt.Sprintf("status.json cannot be read (%v)", err)
	}
	ev, _, eerr := readEventsFile(filepath.Join(dir, "events.jsonl"))
	if eerr != nil || len(ev) == 0 || ev[0].Event != exec.EventRunStart {
		if damage != "" {
			return st, fmt.Errorf("%s: %s and events.jsonl does not say how the run began", dir, damage)
		}
		return st, fmt.Errorf("%s: no status.json and no run_start event", dir)
	}
	e := ev[0]
	str := func(k string) string { v, _ := e.Fields[k].(string); return v }
	st = statusDoc{Format: exec.RecordFormat, Kind: exec.RecordKindRun, Status: exec.StatusRunning, RunID: e.RunID, Pipeline: str("pipeline_file"),
		Profile: str("profile"), ManifestHash: str("manifest_hash"), Where: "local", Started: e.TS.UTC().Format(tsLayout), Damaged: damage}
	if w := str("where"); w != "" {
		st.Where = w
	}
	rp := replayEvents(ev)
	if t := rp.terminal; t.Event != "" {
		st.Ended = t.TS.UTC().Format(tsLayout)
		st.DurationMs = num(t.Fields["duration_ms"])
		if st.DurationMs == 0 {
			st.DurationMs = t.TS.Sub(e.TS).Milliseconds()
		}
		switch t.Event {
		case exec.EventRunComplete:
			st.Status, st.RowsTotal = exec.StatusSuccess, num(t.Fields["rows_total"])
		case exec.EventRunCancelled:
			st.Status = exec.StatusCancelled
		default:
			st.Status = exec.StatusFailed
			st.Error, _ = t.Fields["error"].(string)
			st.FailedStep, _ = t.Fields["failed_step"].(string)
		}
	}
	for _, ms := range readManifestSteps(dir, nil) {
		st.Steps = append(st.Steps, exec.StepResult{ID: ms.ID, Component: ms.Component, Status: exec.StatusPending})
	}
	return st, nil
}

const tsLayout = "2006-01-02T15:04:05.000Z07:00"

func parseTS(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// readEventsFile reads events.jsonl. A last line without its newline is
// an append in progress and is ignored; any other line that does not parse
// is skipped and its number returned in bad.
func readEventsFile(path string) (evs []exec.Event, bad []int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var e exec.Event
		if json.Unmarshal([]byte(line), &e) != nil {
			if i < len(lines)-1 {
				bad = append(bad, i+1)
			}
			continue
		}
		evs = append(evs, e)
	}
	return evs, bad, nil
}

// badLines says which lines of events.jsonl were skipped.
func badLines(bad []int) string {
	if len(bad) == 0 {
		return ""
	}
	ns := make([]string, 0, 5)
	for i, n := range bad {
		if i == 5 {
			ns = append(ns, "…")
			break
		}
		ns = append(ns, strconv.Itoa(n))
	}
	word := "line"
	if len(bad) > 1 {
		word = "lines"
	}
	return fmt.Sprintf("events.jsonl: %d %s that do not parse were skipped (%s %s)", len(bad), word, word, strings.Join(ns, ", "))
}
