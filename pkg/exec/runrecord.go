package exec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// RecordFormat is the version of the recorded files a reader can rely on:
// status.json's "format" and every index line's "format". Readers refuse
// nothing older (0 = written before formats existed) but read it
// field by field; a newer format is read as far as its fields are known.
const RecordFormat = 1

// What a run directory and its index lines record.
const (
	RecordKindRun     = "run"
	RecordKindCompile = "compile"
)

// Statuses of a record that has not ended.
const (
	// StatusRunning is status.json while a run lives, and the status a
	// reader gives a run whose process still holds its run.lock.
	StatusRunning = "running"
	// StatusPending is a step that has not started (status.json of a
	// running run).
	StatusPending = "pending"
	// StatusKilled is what a reader calls a run that has no end (no end
	// line, status.json still running) and whose process is gone.
	StatusKilled = "killed"
)

// RunLockFile is held (flock, exclusive) by the recording process for as
// long as the run lives; it is removed when the run ends.
const RunLockFile = "run.lock"

// RunLive reports whether the run recorded in runDir is still going: its
// process holds run.lock. A killed run's lock was released by the kernel.
func RunLive(runDir string) bool { return lockHeld(filepath.Join(runDir, RunLockFile)) }

var hostOnce = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

func hostname() string { return hostOnce() }

// LockIndex takes the index's lock (the one appends take) so that a caller
// can rewrite the index without losing a line appended meanwhile.
func LockIndex(stateDir string) (unlock func(), err error) {
	dir := filepath.Join(stateDir, "index")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run index: %w", err)
	}
	unlock, err = lockFile(filepath.Join(dir, "runs.lock"))
	if err != nil {
		return nil, fmt.Errorf("run index: locking: %w", err)
	}
	return unlock, nil
}

// IndexHeader is the first line of an index that was written whole (by a
// rebuild or a gc) rather than grown by appends from nothing: a reader that
// finds no header knows the index may have been deleted and restarted, and
// rebuilds it once from the run directories.
type IndexHeader struct {
	Kind    string `json:"kind"` // header
	Format  int    `json:"format"`
	Written string `json:"written"`
	Why     string `json:"why"` // rebuild | gc
}

// WriteIndex replaces the index with a header and runs (start line, and end
// line unless the run has not ended), atomically. Call it under LockIndex.
func WriteIndex(stateDir string, why string, runs []IndexedRun) error {
	var buf bytes.Buffer
	h, _ := json.Marshal(IndexHeader{Kind: "header", Format: RecordFormat, Written: time.Now().UTC().Format(timestampLayout), Why: why})
	buf.Write(h)
	buf.WriteByte('\n')
	for _, r := range runs {
		if err := encodeIndexRun(&buf, r); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(stateDir, "index"), 0o755); err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	if err := writeFileAtomic(IndexPath(stateDir), buf.Bytes()); err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	return nil
}

func encodeIndexRun(buf *bytes.Buffer, r IndexedRun) error {
	start := IndexedRun{
		Format: orInt(r.Format, RecordFormat), Record: orValue(r.Record, RecordKindRun), Kind: "start", RunID: r.RunID,
		Pipeline: r.Pipeline, Slug: r.Slug, Profile: r.Profile, ManifestHash: r.ManifestHash,
		Started: r.Started, Where: r.Where, RunDir: r.RunDir,
	}
	b, err := json.Marshal(start)
	if err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	buf.Write(b)
	buf.WriteByte('\n')
	switch r.Status {
	case "", StatusIncomplete, StatusRunning, StatusKilled:
		return nil
	}
	b, err = json.Marshal(indexEnd{
		Format: orInt(r.Format, RecordFormat), Kind: "end", RunID: r.RunID, Status: r.Status,
		Ended: r.Ended, DurationMs: r.DurationMs, Rows: r.Rows, FailedStep: r.FailedStep,
	})
	if err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	buf.Write(b)
	buf.WriteByte('\n')
	return nil
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
