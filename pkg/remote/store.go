package remote

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/osiris-go/osiris/internal/filehash"
)

// Store is the sandbox's content-addressed store: every blob lives at
// cas/sha256/<first two hex digits>/<hash> under the worker's directory,
// is written to a temp file, verified against its name and renamed into
// place (a bad blob is never stored under its name), and is read-only once
// stored. It persists between runs; that is what makes a second sync of an
// unchanged workspace upload nothing.
type Store struct {
	dir string // <worker dir>/cas/sha256
	tmp string // <worker dir>/tmp (or a worker's own tmp/<id>/)

	// verified holds the file identity (device, inode, size, mtime, ctime)
	// of each blob this process hashed and found right: a blob is re-read
	// only when its identity changed since, so a run hashes each blob once
	// although it is checked at sync and again when linked into the run.
	mu       sync.Mutex
	verified map[string]fileID
	// corrupted counts blobs found not matching their name (and removed).
	corrupted []string
}

// fileID is what changes when a file's content is rewritten in place or
// the file is replaced: an edit of a blob cannot keep all of it.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

func statID(st os.FileInfo) fileID {
	id := fileID{size: st.Size(), mtime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(sys.Dev), uint64(sys.Ino)
		id.ctime = sys.Ctim.Sec*1e9 + sys.Ctim.Nsec
	}
	return id
}

// OpenStore opens (creating) the store under the worker directory dir.
func OpenStore(dir string) (*Store, error) {
	s := &Store{dir: filepath.Join(dir, "cas", "sha256"), tmp: filepath.Join(dir, "tmp"), verified: map[string]fileID{}}
	for _, d := range []string{s.dir, s.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	return s, nil
}

// ValidHash reports whether h is a lower-case hex SHA-256.
func ValidHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Path is where blob h lives (whether or not it is there).
func (s *Store) Path(h string) string { return filepath.Join(s.dir, h[:2], h) }

// Has reports whether a file is stored under h, without reading it: what
// the store may serve is decided by Verify.
func (s *Store) Has(h string) bool {
	if !ValidHash(h) {
		return false
	}
	st, err := os.Stat(s.Path(h))
	return err == nil && st.Mode().IsRegular()
}

// Verify reports whether blob h is stored and its content matches its
// name. A blob that does not match (edited in the sandbox, planted there,
// truncated by a full disk) is removed and remembered in Corrupted, so it
// is asked for again rather than served. Blobs are read in full unless
// this process verified the same file unchanged before.
func (s *Store) Verify(h string) bool {
	if !ValidHash(h) {
		return false
	}
	p := s.Path(h)
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	id := statID(st)
	s.mu.Lock()
	known, ok := s.verified[h]
	s.mu.Unlock()
	if ok && known == id {
		return true
	}
	got, _, err := HashFile(p)
	if err == nil && got == h {
		s.remember(h, id)
		return true
	}
	s.drop(h)
	return false
}

func (s *Store) remember(h string, id fileID) {
	s.mu.Lock()
	s.verified[h] = id
	s.mu.Unlock()
}

// drop removes a blob that failed verification.
func (s *Store) drop(h string) {
	os.Remove(s.Path(h))
	s.mu.Lock()
	delete(s.verified, h)
	s.corrupted = append(s.corrupted, h)
	s.mu.Unlock()
}

// Corrupted returns (and forgets) the blobs found not matching their name
// since the last call.
func (s *Store) Corrupted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.corrupted
	s.corrupted = nil
	return out
}

// HashMismatchError is a blob whose content does not match its name.
type HashMismatchError struct {
	Want, Got string
	What      string // "upload of ws/data/x.csv", "download of …"
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("%s: content has sha256 %s, expected %s (corrupted in transit); the blob was not kept", e.What, short(e.Got), short(e.Want))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Writer starts writing blob h of size bytes. Commit verifies and renames
// it into place; Abort drops it.
func (s *Store) Writer(h string, size int64) (*BlobWriter, error) {
	if !ValidHash(h) {
		return nil, fmt.Errorf("store: %q is not a sha256", h)
	}
	if size < 0 {
		return nil, fmt.Errorf("store: negative size %d", size)
	}
	f, err := os.CreateTemp(s.tmp, "blob-*")
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &BlobWriter{s: s, want: h, size: size, f: f, h: sha256.New()}, nil
}

// BlobWriter receives one blob.
type BlobWriter struct {
	s       *Store
	want    string
	size, n int64
	f       *os.File
	h       hashWriter
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

// Write appends p; more than the announced size is an error.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if w.n+int64(len(p)) > w.size {
		return 0, fmt.Errorf("store: blob %s: more than the announced %d bytes", short(w.want), w.size)
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Remaining is how many bytes are still expected.
func (w *BlobWriter) Remaining() int64 { return w.size - w.n }

// Commit checks the content against the hash and stores it.
func (w *BlobWriter) Commit(what string) error {
	defer os.Remove(w.f.Name())
	if w.n != w.size {
		w.f.Close()
		return fmt.Errorf("%s: got %d of %d bytes", what, w.n, w.size)
	}
	got := hex.EncodeToString(w.h.Sum(nil))
	if got != w.want {
		w.f.Close()
		return &HashMismatchError{Want: w.want, Got: got, What: what}
	}
	if err := w.f.Chmod(0o444); err != nil {
		w.f.Close()
		return fmt.Errorf("store: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	dst := w.s.Path(w.want)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := os.Rename(w.f.Name(), dst); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if st, err := os.Stat(dst); err == nil {
		w.s.remember(w.want, statID(st))
	}
	return nil
}

// Abort drops a blob being written.
func (w *BlobWriter) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// AddFile stores the file at p (a run's output) under its hash, by hard
// link when possible, and returns the hash and size.
func (s *Store) AddFile(p string) (string, int64, error) {
	h, size, err := HashFile(p)
	if err != nil {
		return "", 0, err
	}
	if s.Verify(h) {
		s.Touch(h)
		return h, size, nil
	}
	dst := s.Path(h)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", 0, fmt.Errorf("store: %w", err)
	}
	// A copy, not a link: the run's file may still change (a DuckDB file
	// reopened by a later run of the tree) and the store must not.
	f, err := os.Open(p)
	if err != nil {
		return "", 0, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	w, err := s.Writer(h, size)
	if err != nil {
		return "", 0, err
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Abort()
		return "", 0, fmt.Errorf("store: copying %s: %w", p, err)
	}
	if err := w.Commit("storing " + filepath.Base(p)); err != nil {
		return "", 0, err
	}
	return h, size, nil
}

// HashFile returns the hex SHA-256 and size of the file at p.
func HashFile(p string) (string, int64, error) { return filehash.FileHex(p) }

// Usage returns the bytes and blobs held by the store.
func (s *Store) Usage() (bytes, blobs int64) {
	filepath.WalkDir(s.dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				bytes += info.Size()
				blobs++
			}
		}
		return nil
	})
	return bytes, blobs
}

// FreeBytes returns the space available to the store's filesystem.
func (s *Store) FreeBytes() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// CheckTreePath refuses a tree path that is absolute, escapes through ..,
// or is not under one of the roots ("manifest", "ws").
func CheckTreePath(p string) error {
	if p == "" || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) || path.IsAbs(p) || path.Clean(p) != p {
		return fmt.Errorf("tree path %q is not a clean relative path", p)
	}
	first, rest, _ := strings.Cut(p, "/")
	if rest == "" || (first != "manifest" && first != "ws" && first != "run") {
		return fmt.Errorf("tree path %q is outside manifest/, ws/ and run/", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return fmt.Errorf("tree path %q escapes its root", p)
		}
	}
	return nil
}

// Materialize lays out files (tree path → hash) under dst: hard links to
// the store, or copies for the paths in writable (and where linking fails,
// e.g. across filesystems). Every blob is checked against its name as it
// is handed to the run — a copy is hashed while it is copied, a link is
// hashed unless this process verified that very file unchanged — and a
// blob that does not match is removed from the store and reported as a
// *CorruptBlobsError (the client uploads it again).
func (s *Store) Materialize(dst string, files map[string]string, writable map[string]bool) error {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var bad []string
	for _, p := range paths {
		h := files[p]
		if err := CheckTreePath(p); err != nil {
			return err
		}
		if !s.Has(h) {
			return fmt.Errorf("materialize %s: blob %s is not in the store (sync incomplete)", p, short(h))
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("materialize %s: %w", p, err)
		}
		if !writable[p] {
			if err := os.Link(s.Path(h), target); err == nil {
				if !s.Verify(h) {
					os.Remove(target)
					bad = append(bad, h)
				}
				s.Touch(h)
				continue
			}
		}
		got, err := copyFile(s.Path(h), target, 0o644)
		if err != nil {
			return fmt.Errorf("materialize %s: %w", p, err)
		}
		if got != h {
			os.Remove(target)
			s.drop(h)
			bad = append(bad, h)
			continue
		}
		s.Touch(h)
	}
	if len(bad) > 0 {
		return &CorruptBlobsError{Hashes: bad}
	}
	return nil
}

// CorruptBlobsError names blobs that did not match their name when a run
// was laid out; they were removed from the store.
type CorruptBlobsError struct{ Hashes []string }

func (e *CorruptBlobsError) Error() string {
	names := make([]string, len(e.Hashes))
	for i, h := range e.Hashes {
		names[i] = short(h)
	}
	return fmt.Sprintf("blob(s) %s in the sandbox store did not match their sha256 (changed on the sandbox's disk); removed them", strings.Join(names, ", "))
}

// copyFile copies src to dst and returns the hex SHA-256 of what it copied.
func copyFile(src, dst string, mode os.FileMode) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return "", err
	}
	sum := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, sum), in); err != nil {
		out.Close()
		return "", err
	}
	return hex.EncodeToString(sum.Sum(nil)), out.Close()
}

// Touch marks blob h as used now: the store's least-recently-used order
// is its blobs' modification times.
func (s *Store) Touch(h string) {
	p := s.Path(h)
	now := time.Now()
	if os.Chtimes(p, now, now) != nil {
		return
	}
	// Touching changes the file's times, not its content: keep it verified.
	s.mu.Lock()
	_, ok := s.verified[h]
	s.mu.Unlock()
	if ok {
		if st, err := os.Stat(p); err == nil {
			s.remember(h, statID(st))
		}
	}
}

// errNotStored is returned by Open for a blob the store lacks.
var errNotStored = errors.New("blob not in the store")

// Open opens blob h for reading.
func (s *Store) Open(h string) (*os.File, int64, error) {
	if !ValidHash(h) {
		return nil, 0, fmt.Errorf("%q is not a sha256", h)
	}
	f, err := os.Open(s.Path(h))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("%s: %w", short(h), errNotStored)
		}
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
