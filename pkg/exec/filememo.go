package exec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/osiris-go/osiris/internal/atomicfile"
	"github.com/osiris-go/osiris/internal/filehash"
)

// fileMemo is what hashFile remembers of a file: <cache>/files/<hash of
// its path>.json. Size, mtime, ctime, inode and device must all match for
// the hash to be trusted: an edit that restores the old mtime (touch -d,
// tar, rsync -t) still moves ctime, and an editor that saves by rename
// gives a new inode.
type fileMemo struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	MtimeNs  int64  `json:"mtime_ns"`
	CtimeNs  int64  `json:"ctime_ns"`
	Inode    uint64 `json:"inode"`
	Device   uint64 `json:"device"`
	HashedNs int64  `json:"hashed_ns"`
	SHA256   string `json:"sha256"`
}

// fileStamp is what a stat says of a file, for the memo.
type fileStamp struct {
	size, mtime, ctime int64
	ino, dev           uint64
}

func stampOf(st os.FileInfo) fileStamp {
	s := fileStamp{size: st.Size(), mtime: st.ModTime().UnixNano()}
	s.ctime, s.ino, s.dev = statDetails(st)
	return s
}

// racyWindow: a file modified (mtime or ctime) this close to when it was
// hashed may change again within the file system's timestamp granularity
// without either moving, so its memo is not trusted (git's "racy clean"
// rule); coarse file systems keep 1 s or 2 s timestamps.
const racyWindow = 2 * time.Second

// hashFile is filehash.File for files a step reads, with the result
// remembered (fileMemo), so a big CSV is not read again on every run while
// it does not change. With NoReuse (--no-cache) the memo is not trusted:
// every file is read and its memo rewritten. Cached artifacts are always
// hashed in full (copyArtifact).
// FileHash is the memoised file hash ("sha256:<hex>") the step cache keys
// on, for callers outside the engine that name files by content (remote
// sync, the engine identity of a build without a clean commit): a file
// whose size, mtime, ctime, inode and device did not change since it was
// hashed is not read again.
func (c *StepCache) FileHash(path string) (string, error) { return c.hashFile(path) }

func (c *StepCache) hashFile(p string) (string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	name := sha256.Sum256([]byte(p))
	memoPath := filepath.Join(c.Dir, "files", hex.EncodeToString(name[:16])+".json")
	before := stampOf(st)
	if !c.NoReuse {
		var m fileMemo
		if b, err := os.ReadFile(memoPath); err == nil && json.Unmarshal(b, &m) == nil && m.SHA256 != "" &&
			m.Path == p && m.Size == before.size && m.MtimeNs == before.mtime && m.CtimeNs == before.ctime &&
			m.Inode == before.ino && m.Device == before.dev &&
			m.HashedNs-max(before.mtime, before.ctime) > int64(racyWindow) {
			return m.SHA256, nil
		}
	}
	hashed := time.Now().UnixNano()
	sum, err := filehash.File(p)
	if err != nil {
		return "", err
	}
	// Remember it only if the file did not change while it was read.
	if st2, err := os.Stat(p); err == nil && stampOf(st2) == before {
		m := fileMemo{Path: p, Size: before.size, MtimeNs: before.mtime, CtimeNs: before.ctime,
			Inode: before.ino, Device: before.dev, HashedNs: hashed, SHA256: sum}
		if b, err := json.Marshal(m); err == nil {
			_ = atomicfile.Write(memoPath, b, atomicfile.Options{MkdirAll: true})
		}
	}
	return sum, nil
}
