package runlog

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

// Retention is osiris.toml [retention].
type Retention struct {
	// Days: runs older than this many days may be removed ...
	Days int
	// KeepPerPipeline: ... except the newest this many of each pipeline.
	KeepPerPipeline int
}

// GCOptions control one collection.
type GCOptions struct {
	Retention
	DryRun bool
	// afterStep is a test hook called after each directory is set aside
	// ("aside", i) and after each is deleted ("delete", i).
	afterStep func(stage string, i int)
}

// GCResult says what a collection removed (or would remove, dry run).
type GCResult struct {
	Removed      []Run `json:"removed"`
	Kept         int   `json:"kept"`
	Bytes        int64 `json:"bytes"` // freed by the run directories
	Leftovers    int   `json:"leftovers"`
	CacheEntries int   `json:"cache_entries"` // step cache entries pruned
	CacheBytes   int64 `json:"cache_bytes"`
	DryRun       bool  `json:"dry_run"`
}

// gcAside is the suffix of a run directory set aside for deletion. The
// name also starts with a dot, so neither an index rebuild nor a listing
// ever sees it as a run.
const gcAside = ".gc-removing"

// Doomed applies the retention rule to runs (newest first, as List returns
// them) and returns the ones to remove: within each series (kind, profile
// and pipeline), every run beyond the newest KeepPerPipeline that started
// more than Days days before now. A run still going is never removed.
func (ret Retention) Doomed(runs []Run, now time.Time) []Run {
	cutoff := now.Add(-time.Duration(ret.Days) * 24 * time.Hour).UTC().Format(tsLayout)
	seen := map[string]int{}
	var out []Run
	for _, r := range runs {
		key := r.Kind + "\x00" + r.Profile + "\x00" + r.Slug
		rank := seen[key]
		seen[key]++
		if rank < ret.KeepPerPipeline || r.Status == exec.StatusRunning {
			continue
		}
		if r.Started != "" && r.Started >= cutoff {
			continue
		}
		out = append(out, r)
	}
	return out
}

// GC applies retention: it sets each doomed run directory aside (one
// rename, so no run is ever listed half-deleted), rewrites the index
// without them, deletes them, prunes the step cache of entries whose run
// is gone, and refreshes run_logs/index.html when there is one. It never
// touches build/. A collection that was interrupted is finished by the next
// one (directories set aside are deleted first).
func (s *Store) GC(ctx context.Context, opts GCOptions) (GCResult, Notice, error) {
	res := GCResult{DryRun: opts.DryRun, Removed: []Run{}}
	if !opts.DryRun {
		n, b := s.removeLeftovers()
		res.Leftovers, res.Bytes = n, b
	}
	runs, notice, err := s.List(Filter{})
	if err != nil {
		return res, notice, err
	}
	doomed := opts.Doomed(runs, s.now())
	res.Kept = len(runs) - len(doomed)
	for _, r := range doomed {
		res.Bytes += dirSize(s.Dir(r))
	}
	if opts.DryRun {
		res.Removed = doomed
		return res, notice, nil
	}
	removed := map[string]bool{}
	var aside []string
	for i, r := range doomed {
		if err := ctx.Err(); err != nil {
			break
		}
		dir := s.Dir(r)
		to := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+gcAside)
		if err := os.Rename(dir, to); err != nil {
			return res, notice, fmt.Errorf("gc: setting %s aside: %w", r.RunDir, err)
		}
		removed[r.RunID] = true
		aside = append(aside, to)
		res.Removed = append(res.Removed, r)
		if opts.afterStep != nil {
			opts.afterStep("aside", i)
		}
	}
	if err := s.dropFromIndex(removed); err != nil {
		return res, notice, err
	}
	for i, d := range aside {
		if err := os.RemoveAll(d); err != nil {
			return res, notice, fmt.Errorf("gc: removing %s: %w", d, err)
		}
		if opts.afterStep != nil {
			opts.afterStep("delete", i)
		}
	}
	removedDirs := map[string]bool{}
	for _, r := range res.Removed {
		removedDirs[r.RunDir] = true
	}
	n, b, err := exec.PruneStepCache(s.StateDir, func(runDir string) bool { return !removedDirs[runDir] })
	if err != nil {
		return res, notice, err
	}
	res.CacheEntries, res.CacheBytes = n, b
	if _, err := os.Stat(s.IndexHTMLPath()); err == nil && len(res.Removed) > 0 {
		if err := s.WriteIndexHTML(); err != nil {
			return res, notice, err
		}
	}
	return res, notice, ctx.Err()
}

// dropFromIndex rewrites the index without the given runs and without runs
// whose directory is gone (an earlier gc interrupted before its rewrite),
// under the index lock (lines appended meanwhile are kept).
func (s *Store) dropFromIndex(ids map[string]bool) error {
	unlock, err := exec.LockIndex(s.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	ix, err := readIndexFile(exec.IndexPath(s.StateDir))
	if err != nil {
		return err
	}
	keep := ix.runs[:0]
	for _, r := range ix.runs {
		if ids[r.RunID] {
			continue
		}
		if _, err := os.Lstat(s.abs(r.RunDir)); err != nil {
			continue
		}
		keep = append(keep, r)
	}
	if len(keep) == len(ix.runs) && ix.problem == "" && ix.header {
		return nil
	}
	return exec.WriteIndex(s.StateDir, "gc", keep)
}

// removeLeftovers deletes run directories an interrupted gc set aside.
func (s *Store) removeLeftovers() (int, int64) {
	var n int
	var bytes int64
	matches, _ := filepath.Glob(filepath.Join(s.RunLogsDir, "*", "*", ".*"+gcAside))
	sort.Strings(matches)
	for _, m := range matches {
		if !strings.HasSuffix(m, gcAside) {
			continue
		}
		bytes += dirSize(m)
		if os.RemoveAll(m) == nil {
			n++
		}
	}
	return n, bytes
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
