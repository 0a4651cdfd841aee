package exec

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// IndexedRun is one run as recorded in <state>/index/runs.jsonl. On disk it
// is two lines, kind "start" and kind "end"; ReadIndex merges them.
type IndexedRun struct {
	// Format is RecordFormat of the start line (0: written before formats).
	Format int `json:"format,omitempty"`
	// Record is what was recorded: RecordKindRun or RecordKindCompile ("" reads as run).
	Record       string `json:"record,omitempty"`
	Kind         string `json:"kind,omitempty"` // on disk: start | end
	RunID        string `json:"run_id"`
	Pipeline     string `json:"pipeline,omitempty"`
	Slug         string `json:"slug,omitempty"`
	Profile      string `json:"profile,omitempty"`
	ManifestHash string `json:"manifest_hash,omitempty"`
	Started      string `json:"started,omitempty"` // RFC 3339, ms, UTC
	Where        string `json:"where,omitempty"`
	RunDir       string `json:"run_dir,omitempty"` // workspace-relative
	// End line fields.
	Status     string `json:"status,omitempty"` // success | failed | cancelled; "incomplete" when no end line
	Ended      string `json:"ended,omitempty"`
	DurationMs int64  `json:"duration_ms,omitempty"`
	Rows       int64  `json:"rows,omitempty"`
	FailedStep string `json:"failed_step,omitempty"`
}

// StatusIncomplete marks a run with a start line and no end line: it was
// killed before it could record its end.
const StatusIncomplete = "incomplete"

// IndexPath returns the index file of a state directory.
func IndexPath(stateDir string) string { return filepath.Join(stateDir, "index", "runs.jsonl") }

// indexEnd is an end line on disk: zeros are written, not omitted.
type indexEnd struct {
	Format     int    `json:"format"`
	Kind       string `json:"kind"` // end
	RunID      string `json:"run_id"`
	Status     string `json:"status"`
	Ended      string `json:"ended"`
	DurationMs int64  `json:"duration_ms"`
	Rows       int64  `json:"rows"`
	FailedStep string `json:"failed_step,omitempty"`
}

// appendIndex appends one line under an exclusive lock on runs.lock, so
// concurrent runs (goroutines or processes) never interleave lines.
func appendIndex(stateDir string, line any) error {
	unlock, err := LockIndex(stateDir)
	if err != nil {
		return err
	}
	defer unlock()
	return appendIndexLocked(stateDir, line)
}

// appendIndexLocked is appendIndex for a caller that holds LockIndex: a
// new record creates its directory and appends its start line under one
// hold of the lock, so an index rebuild (which scans the run directories
// under the same lock) sees either both or neither, never the directory
// alone — which would give the run two start lines.
func appendIndexLocked(stateDir string, line any) error {
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	b = append(b, '\n')
	f, err := os.OpenFile(filepath.Join(stateDir, "index", "runs.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("run index: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("run index: %w", err)
	}
	return f.Close()
}

// ReadIndex returns every run of the index in start order, start and end
// lines merged; a run without an end line has status "incomplete". Lines
// that do not parse (a torn write after a crash) are skipped. A missing
// index is an empty list.
func ReadIndex(stateDir string) ([]IndexedRun, error) {
	f, err := os.Open(IndexPath(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("run index: %w", err)
	}
	defer f.Close()
	var runs []IndexedRun
	pos := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		var l IndexedRun
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.RunID == "" {
			continue
		}
		i, seen := pos[l.RunID]
		if !seen {
			pos[l.RunID] = len(runs)
			runs = append(runs, IndexedRun{RunID: l.RunID})
			i = len(runs) - 1
		}
		r := &runs[i]
		switch l.Kind {
		case "start":
			r.Format, r.Record = l.Format, l.Record
			r.Pipeline, r.Slug, r.Profile, r.ManifestHash = l.Pipeline, l.Slug, l.Profile, l.ManifestHash
			r.Started, r.Where, r.RunDir = l.Started, l.Where, l.RunDir
		case "end":
			r.Status, r.Ended, r.DurationMs, r.Rows, r.FailedStep = l.Status, l.Ended, l.DurationMs, l.Rows, l.FailedStep
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("run index: %w", err)
	}
	for i := range runs {
		runs[i].Kind = ""
		if runs[i].Status == "" {
			runs[i].Status = StatusIncomplete
		}
		if runs[i].Record == "" {
			runs[i].Record = RecordKindRun
		}
	}
	return runs, nil
}
