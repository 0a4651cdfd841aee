package runlog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
}

// readStatus reads dir/status.json; a run directory from before
// status.json existed at the start falls back to its run_start event.
func readStatus(dir string) (statusDoc, error) {
	var st statusDoc
	b, err := os.ReadFile(filepath.Join(dir, "status.json"))
	if err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return st, fmt.Errorf("%s: %w", filepath.Join(dir, "status.json"), err)
		}
		return st, nil
	}
	ev, eerr := readEventsFile(filepath.Join(dir, "events.jsonl"))
	if eerr != nil || len(ev) == 0 || ev[0].Event != exec.EventRunStart {
		return st, fmt.Errorf("%s: no status.json and no run_start event", dir)
	}
	e := ev[0]
	str := func(k string) string { v, _ := e.Fields[k].(string); return v }
	st = statusDoc{Kind: exec.RecordKindRun, Status: exec.StatusRunning, RunID: e.RunID, Pipeline: str("pipeline_file"),
		Profile: str("profile"), ManifestHash: str("manifest_hash"), Where: "local", Started: e.TS.UTC().Format(tsLayout)}
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

// readEventsFile reads events.jsonl; a torn last line is ignored.
func readEventsFile(path string) ([]exec.Event, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []exec.Event
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var e exec.Event
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}
