package exec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// PruneStepCache removes step cache entries of the workspace whose state
// directory is stateDir when their run directory is not to be kept
// (keep(runDir) false; runDir as recorded in the run index: workspace-
// relative, forward slashes) or their artifact is gone. `osiris logs gc`
// calls it after removing run directories. It returns the entries removed
// and the bytes of index files freed (the artifacts belong to the run
// directories).
func PruneStepCache(stateDir string, keep func(runDir string) bool) (removed int, bytes int64, err error) {
	c := NewStepCache(filepath.Dir(stateDir), stateDir)
	ents, err := os.ReadDir(c.stepsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("step cache: %w", err)
	}
	unlock, err := lockFile(c.lockPath())
	if err != nil {
		return 0, 0, fmt.Errorf("step cache: locking: %w", err)
	}
	defer unlock()
	for _, d := range ents {
		name := filepath.Join(c.stepsDir(), d.Name())
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			continue
		}
		info, err := d.Info()
		if err != nil {
			continue
		}
		drop := false
		var e stepCacheEntry
		if b, err := os.ReadFile(name); err != nil || json.Unmarshal(b, &e) != nil || e.V != stepCacheVersion {
			drop = true
		} else if keep != nil && !keep(e.RunDir) {
			drop = true
		} else if e.Art != nil {
			if _, err := os.Stat(filepath.Join(c.runDirAbs(e.RunDir), filepath.FromSlash(e.Art.Path))); err != nil {
				drop = true
			}
		} else if _, err := os.Stat(c.runDirAbs(e.RunDir)); err != nil {
			drop = true
		}
		if drop {
			if err := os.Remove(name); err == nil {
				removed++
				bytes += info.Size()
			}
		}
	}
	// Memos of files that no longer exist.
	memos, _ := os.ReadDir(filepath.Join(c.Dir, "files"))
	for _, d := range memos {
		name := filepath.Join(c.Dir, "files", d.Name())
		var m fileMemo
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		if json.Unmarshal(b, &m) == nil && m.Path != "" {
			if _, err := os.Stat(m.Path); err == nil {
				continue
			}
		}
		if os.Remove(name) == nil {
			bytes += int64(len(b))
		}
	}
	return removed, bytes, nil
}
