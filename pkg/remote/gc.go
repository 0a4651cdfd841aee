package remote

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A sandbox stays bounded (spec 04, rule 7). Its directory holds:
//
//	cas/sha256/ab/abcd…  the store; a blob's mtime is when a run last used it
//	refs/<run id>        the blobs one run used (JSON list), newest keep_runs kept
//	runs/<run id>/       a run's tree while its worker lives, + <run id>.lock
//	tmp/<worker id>/     a worker's blobs being received, + <worker id>.lock
//	bin/osiris-<sha256>  provisioned binaries
//	pids/<nonce>         ssh: the pid of a worker, to kill it by
//
// A worker holds an flock on the .lock of each tree and tmp directory it
// owns for as long as it lives, so the next worker to start removes those
// of dead workers (killed, out of memory, the machine rebooted) and never a
// live one's.

// GCRequest asks the worker to bound the store now (osiris remote gc) and
// is sent with hello for the bound applied after each run.
type GCRequest struct {
	MaxStore int64 `json:"max_store"` // bytes; 0 = no bound
	KeepRuns int   `json:"keep_runs"`
}

// GCResult says what a collection removed and what is left.
type GCResult struct {
	BlobsRemoved int   `json:"blobs_removed"`
	BytesFreed   int64 `json:"bytes_freed"`
	RunsRemoved  int   `json:"runs_removed"` // dead workers' run trees and temp directories
	BinsRemoved  int   `json:"bins_removed"`
	StoreBytes   int64 `json:"store_bytes"`
	StoreBlobs   int64 `json:"store_blobs"`
	// OverBound is set when the blobs of the kept runs alone exceed
	// max_store: they are kept (a run needs them); lower keep_runs.
	OverBound bool `json:"over_bound,omitempty"`
}

// ownedDir is a directory a worker owns while it lives.
type ownedDir struct {
	path string
	lock *os.File
}

// own creates dir and holds its lock (dir + ".lock").
func own(dir string) (*ownedDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return &ownedDir{path: dir, lock: f}, nil
}

// release removes the directory and its lock.
func (o *ownedDir) release() {
	os.RemoveAll(o.path)
	os.Remove(o.lock.Name())
	o.lock.Close()
}

// looseAge is how old an entry without a lock (written by an osiris
// version before locks, which may still be running on a shared sandbox)
// must be before it is taken for a dead worker's.
const looseAge = time.Hour

// sweepDead removes the entries of parent that no live worker owns: a
// directory whose .lock nobody holds, a lock file without its directory,
// and — after looseAge — an entry with no lock at all (a blob-* or run
// tree of an older osiris).
func sweepDead(parent string) (removed int) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	for _, e := range entries {
		p := filepath.Join(parent, e.Name())
		if strings.HasSuffix(e.Name(), ".lock") {
			if _, err := os.Stat(strings.TrimSuffix(p, ".lock")); err == nil {
				continue // handled with its directory
			}
		}
		f, err := os.OpenFile(strings.TrimSuffix(p, ".lock")+".lock", os.O_RDWR, 0)
		if err == nil {
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
				f.Close()
				continue // a live worker's
			}
		} else if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < looseAge {
			continue // no lock: maybe an older osiris's, still running
		}
		os.RemoveAll(strings.TrimSuffix(p, ".lock"))
		os.Remove(strings.TrimSuffix(p, ".lock") + ".lock")
		if f != nil {
			f.Close()
		}
		if !strings.HasSuffix(e.Name(), ".lock") {
			removed++
		}
	}
	return removed
}

// sweepPids removes pid files of workers that no longer exist.
func sweepPids(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || perr != nil || pid <= 0 || errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			os.Remove(p)
		}
	}
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeRefs records the blobs run id used.
func writeRefs(dir, id string, hashes []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sort.Strings(hashes)
	b, _ := json.Marshal(hashes)
	tmp := filepath.Join(dir, "."+id+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, id))
}

// keptRefs drops all but the newest keep run records and returns the
// blobs the kept ones name.
func keptRefs(dir string, keep int) map[string]bool {
	entries, _ := os.ReadDir(dir)
	type rec struct {
		path string
		mod  int64
	}
	var recs []rec
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			recs = append(recs, rec{filepath.Join(dir, e.Name()), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].mod > recs[j].mod })
	pinned := map[string]bool{}
	for i, r := range recs {
		if i >= keep {
			os.Remove(r.path)
			continue
		}
		var hs []string
		if b, err := os.ReadFile(r.path); err == nil && json.Unmarshal(b, &hs) == nil {
			for _, h := range hs {
				pinned[h] = true
			}
		}
	}
	return pinned
}

// liveOthers reports whether a worker other than the one owning self holds
// its lock under tmp/ (another client's run on the same sandbox).
func liveOthers(tmpDir, self string) bool {
	entries, _ := os.ReadDir(tmpDir)
	for _, e := range entries {
		p := filepath.Join(tmpDir, e.Name())
		if !strings.HasSuffix(e.Name(), ".lock") || p == self+".lock" {
			continue
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		held := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
		f.Close()
		if held {
			return true
		}
	}
	return false
}

// Prune removes blobs not in pinned, least recently used first, until the
// store holds at most max bytes (max <= 0: no bound). Blobs used after
// keepAfter (a Unix time in ns; 0 = none) are kept too: another worker's
// run may be about to use them.
func (s *Store) Prune(max int64, pinned map[string]bool, keepAfter int64) (res GCResult) {
	type blob struct {
		hash string
		size int64
		mod  int64
	}
	var blobs []blob
	filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			blobs = append(blobs, blob{d.Name(), info.Size(), info.ModTime().UnixNano()})
			res.StoreBytes += info.Size()
		}
		return nil
	})
	res.StoreBlobs = int64(len(blobs))
	if max <= 0 || res.StoreBytes <= max {
		return res
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].mod < blobs[j].mod })
	for _, b := range blobs {
		if res.StoreBytes <= max {
			break
		}
		if pinned[b.hash] || !ValidHash(b.hash) || (keepAfter > 0 && b.mod > keepAfter) {
			continue
		}
		if os.Remove(s.Path(b.hash)) == nil {
			s.mu.Lock()
			delete(s.verified, b.hash)
			s.mu.Unlock()
			res.StoreBytes -= b.size
			res.StoreBlobs--
			res.BytesFreed += b.size
			res.BlobsRemoved++
		}
	}
	res.OverBound = res.StoreBytes > max
	return res
}

// pruneBinaries keeps the running binary and the most recent other one
// (another client version in use); older ones go.
func pruneBinaries(dir string) (removed int) {
	self, _ := os.Executable()
	entries, _ := os.ReadDir(dir)
	type bin struct {
		path string
		mod  int64
	}
	var others []bin
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !strings.HasPrefix(e.Name(), "osiris-") || p == self || filepath.Base(self) == e.Name() {
			continue
		}
		if info, err := e.Info(); err == nil {
			others = append(others, bin{p, info.ModTime().UnixNano()})
		}
	}
	sort.Slice(others, func(i, j int) bool { return others[i].mod > others[j].mod })
	for i, b := range others {
		if i >= 1 && os.Remove(b.path) == nil {
			removed++
		}
	}
	return removed
}

// dirBytes is the size of the regular files under dir.
func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
