package exec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/osiris-go/osiris/internal/atomicfile"
)

// stepCacheEntry is one file of the index: the output of one extractor or
// transform, kept in the run directory that produced it (writers are
// recorded in the write ledger instead).
type stepCacheEntry struct {
	V         int    `json:"v"`
	Key       string `json:"key"`
	Step      string `json:"step"`
	Component string `json:"component"`
	StepFp    string `json:"step_fp"`
	// RunID is the run that produced the output (reuses keep it).
	RunID string `json:"run_id"`
	// RunDir is the run directory that holds the artifact, workspace-relative
	// (forward slashes) when inside the workspace.
	RunDir  string    `json:"run_dir"`
	Created string    `json:"created"` // RFC 3339, when the output was produced
	RowsIn  int64     `json:"rows_in"`
	RowsOut int64     `json:"rows_out"`
	Art     *Artifact `json:"artifact,omitempty"`
}

func (c *StepCache) stepsDir() string { return filepath.Join(c.Dir, "steps") }

func (c *StepCache) lockPath() string { return filepath.Join(c.Dir, "cache.lock") }

func (c *StepCache) entryPath(key string) string {
	return filepath.Join(c.stepsDir(), strings.TrimPrefix(key, "sha256:")+".json")
}

func (c *StepCache) read(key string) (*stepCacheEntry, error) {
	b, err := os.ReadFile(c.entryPath(key))
	if err != nil {
		return nil, err
	}
	var e stepCacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("step cache entry %s: %w", filepath.Base(c.entryPath(key)), err)
	}
	if e.V != stepCacheVersion || e.Key != key {
		return nil, fmt.Errorf("step cache entry %s: another format or key", filepath.Base(c.entryPath(key)))
	}
	return &e, nil
}

func (c *StepCache) write(e *stepCacheEntry) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.stepsDir(), 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(c.lockPath())
	if err != nil {
		return err
	}
	defer unlock()
	// Renamed into place, not fsynced: after a crash an entry is whole or
	// absent, and an absent one only costs executing the step again.
	return atomicfile.Write(c.entryPath(e.Key), append(b, '\n'), atomicfile.Options{})
}

func (c *StepCache) remove(key string) {
	if unlock, err := lockFile(c.lockPath()); err == nil {
		os.Remove(c.entryPath(key))
		unlock()
	}
}

// runDirAbs turns an entry's run_dir back into an absolute path.
func (c *StepCache) runDirAbs(rel string) string {
	if filepath.IsAbs(filepath.FromSlash(rel)) {
		return filepath.FromSlash(rel)
	}
	return filepath.Join(c.WorkspaceRoot, filepath.FromSlash(rel))
}
