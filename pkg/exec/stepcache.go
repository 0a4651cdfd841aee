package exec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// The step cache (spec 05) lets a run reuse a step's output from an earlier
// run in the same workspace instead of executing the step.
//
// A step's key is the SHA-256 of canonical JSON holding: its step_fp
// (component, mode, effective config, upstream step_fps), the table digest
// of every input as this run produced it, the SHA-256 of every workspace
// file the step reads (its spec's ReadsPaths, base_dir applied, globs
// expanded) and the non-secret fields of its resolved connection. The index
// is one small JSON file per key under <state>/cache/steps/, replaced
// atomically, so concurrent runs never see half an entry; the artifact
// itself stays in the run directory that produced it, and a hit hard-links
// it (copy as fallback) into the new run directory and checks its SHA-256
// before anything reads it. An entry whose artifact is gone or differs is
// logged and ignored, never trusted.
//
// What may be reused:
//   - transforms and file extractors (Spec.Cacheable): whenever the key
//     matches;
//   - database extractors: only when the step says `cache: "10m"` and the
//     entry is younger than that, or StepCache.ReuseExtracts is set
//     (`osiris watch --cache-extracts`);
//   - writers: when the key matches, which means their config and every
//     input's table digest are unchanged; a file writer also needs the files
//     it wrote to be unchanged on disk. Database targets cannot be checked:
//     `--no-cache` writes again.
//
// A `cache: "<duration>"` on any step also bounds the age of what it reuses;
// `cache: off` neither reuses nor records. Entries are recorded when a step
// succeeds, also in runs that later fail or are cancelled: the step's output
// is complete and hashed either way.

// stepCacheVersion is part of every key; bump it when the key's content or
// the meaning of an entry changes.
const stepCacheVersion = 1

// StepCache is the step cache of one workspace. A nil *StepCache disables
// it; NoReuse (--no-cache) executes every step but still records outputs
// for later runs.
type StepCache struct {
	// Dir is <state>/cache, absolute.
	Dir string
	// WorkspaceRoot makes run directories in entries workspace-relative.
	WorkspaceRoot string
	// ReuseExtracts reuses database extractors whatever their age, until
	// their own config changes (osiris watch --cache-extracts).
	ReuseExtracts bool
	// NoReuse executes every step (osiris run --no-cache); their outputs are
	// still recorded.
	NoReuse bool
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// NewStepCache returns the step cache of a workspace whose state directory
// is stateDir (e.g. <root>/.osiris).
func NewStepCache(root, stateDir string) *StepCache {
	return &StepCache{Dir: filepath.Join(stateDir, "cache"), WorkspaceRoot: root}
}

func (c *StepCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *StepCache) stepsDir() string { return filepath.Join(c.Dir, "steps") }

// stepCacheEntry is one file of the index.
type stepCacheEntry struct {
	V         int    `json:"v"`
	Key       string `json:"key"`
	Step      string `json:"step"`
	Component string `json:"component"`
	StepFp    string `json:"step_fp"`
	RunID     string `json:"run_id"`
	// RunDir is the run directory that holds the artifact, workspace-relative
	// (forward slashes) when inside the workspace.
	RunDir  string    `json:"run_dir"`
	Created string    `json:"created"` // RFC 3339, when the output was produced
	RowsIn  int64     `json:"rows_in"`
	RowsOut int64     `json:"rows_out"`
	Art     *Artifact `json:"artifact,omitempty"`
	// Files a writer wrote (workspace-relative) and their SHA-256 after the
	// write, checked before the writer is skipped.
	Files      []string          `json:"files,omitempty"`
	FileHashes map[string]string `json:"file_hashes,omitempty"`
}

// stepKey is a step's computed key, kept on its plan between lookup and store.
type stepKey struct {
	key    string
	maxAge time.Duration // 0 = any age
	reuse  bool          // lookup allowed (store is always allowed)
}

// cacheKey computes p's key; ok is false when the step cannot be cached
// (no cache, cache: off, no step_fp, an input without a digest, a file it
// reads that cannot be hashed).
func (r *run) cacheKey(p *stepPlan) (*stepKey, bool) {
	c := r.env.StepCache
	s := p.step
	if c == nil || s.Cache == "off" || s.Fingerprint == "" {
		return nil, false
	}
	k := &stepKey{}
	if s.Cache != "" && s.Cache != "auto" {
		d, err := time.ParseDuration(s.Cache)
		if err != nil || d <= 0 {
			return nil, false
		}
		k.maxAge = d
	}
	switch {
	case p.spec.Cacheable || p.spec.Role == component.RoleWrite:
		k.reuse = true
	case c.ReuseExtracts && p.spec.Role == component.RoleExtract:
		k.reuse, k.maxAge = true, 0
	default:
		// A database extractor (or a transform its spec calls not
		// cacheable): its source can change at any time.
		k.reuse = k.maxAge > 0
	}
	type input struct {
		Step   string `json:"step"`
		Digest string `json:"table_digest"`
	}
	inputs := []input{}
	for _, need := range s.Needs {
		up := r.byID[need].out
		up.mu.Lock()
		art := up.artifact
		up.mu.Unlock()
		if art == nil || art.TableDigest == "" {
			return nil, false
		}
		inputs = append(inputs, input{need, art.TableDigest})
	}
	reads, _ := stepPaths(p.spec, s.Config, p.conn)
	files := []map[string]string{}
	for _, pat := range reads {
		matches, err := r.matchReads(pat)
		if err != nil {
			return nil, false
		}
		for _, m := range matches {
			sum, err := c.hashFile(m)
			if err != nil {
				return nil, false
			}
			files = append(files, map[string]string{"path": r.env.Files.Rel(m), "sha256": sum})
		}
	}
	key, err := compile.Fingerprint(map[string]any{
		"v":          stepCacheVersion,
		"step_fp":    s.Fingerprint,
		"inputs":     inputs,
		"files":      files,
		"connection": connectionFingerprint(p.conn),
	})
	if err != nil {
		return nil, false
	}
	k.key = key
	return k, true
}

// matchReads expands one path a step reads to existing files, sorted.
func (r *run) matchReads(p string) ([]string, error) {
	if r.env.Files == nil {
		return nil, errors.New("no workspace files")
	}
	abs, err := r.env.Files.Resolve(p)
	if err != nil {
		return nil, err
	}
	if !strings.ContainsAny(p, "*?[") {
		return []string{abs}, nil
	}
	matches, err := filepath.Glob(abs)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && !st.IsDir() {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out, nil
}

// stepPaths is component.StepPaths as two lists; an error gives none.
func stepPaths(spec component.Spec, cfg map[string]any, conn *workspace.Connection) (reads, writes []string) {
	io, err := component.StepPaths(spec, cfg, conn)
	if err != nil {
		return nil, nil
	}
	return io.Reads, io.Writes
}

// connectionFingerprint identifies where a connection points without its
// secrets: family, alias and every non-secret field.
func connectionFingerprint(c *workspace.Connection) map[string]any {
	if c == nil {
		return nil
	}
	vals := map[string]any{}
	for k, v := range c.Values {
		if workspace.IsSecretKey(k) {
			continue
		}
		vals[k] = fmt.Sprint(v)
	}
	return map[string]any{"family": c.Family, "alias": c.Alias, "values": vals}
}

// fileSHA256 is "sha256:<hex>" of a file's bytes.
func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// fileMemo is what hashFile remembers of a file: <cache>/files/<hash of
// its path>.json.
type fileMemo struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	MtimeNs  int64  `json:"mtime_ns"`
	HashedNs int64  `json:"hashed_ns"`
	SHA256   string `json:"sha256"`
}

// racyWindow: a file modified this close to when it was hashed may change
// again without its mtime moving (coarse timestamps), so its memo is not
// trusted (git's "racy clean" rule).
const racyWindow = 2 * time.Second

// hashFile is fileSHA256 for files a step reads or a writer wrote, with the
// result remembered by size and modification time, so a big CSV is not read
// again on every run while it does not change. Cached artifacts are always
// hashed in full (linkArtifact).
func (c *StepCache) hashFile(p string) (string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	name := sha256.Sum256([]byte(p))
	memoPath := filepath.Join(c.Dir, "files", hex.EncodeToString(name[:16])+".json")
	mtime := st.ModTime().UnixNano()
	var m fileMemo
	if b, err := os.ReadFile(memoPath); err == nil && json.Unmarshal(b, &m) == nil &&
		m.Size == st.Size() && m.MtimeNs == mtime && m.HashedNs-mtime > int64(racyWindow) && m.SHA256 != "" {
		return m.SHA256, nil
	}
	hashed := time.Now().UnixNano()
	sum, err := fileSHA256(p)
	if err != nil {
		return "", err
	}
	// Remember it only if the file did not change while it was read.
	if st2, err := os.Stat(p); err == nil && st2.Size() == st.Size() && st2.ModTime().UnixNano() == mtime {
		if b, err := json.Marshal(fileMemo{Path: p, Size: st.Size(), MtimeNs: mtime, HashedNs: hashed, SHA256: sum}); err == nil {
			_ = replaceFile(memoPath, b)
		}
	}
	return sum, nil
}

// replaceFile writes data to a temporary file and renames it over path,
// without fsync: for the cache's own files, whose loss only costs work.
func replaceFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return errors.Join(werr, cerr)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

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
	unlock, err := lockFile(filepath.Join(c.Dir, "cache.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	// Renamed into place, not fsynced: after a crash an entry is whole or
	// absent, and an absent one only costs executing the step again.
	return replaceFile(c.entryPath(e.Key), append(b, '\n'))
}

func (c *StepCache) remove(key string) {
	if unlock, err := lockFile(filepath.Join(c.Dir, "cache.lock")); err == nil {
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

// cacheLookup serves p from the step cache when an entry for its key may be
// reused and checks out. On a hit it fills sr (cache "hit", rows, artifact)
// and p's output, and returns true; the step is then not executed.
func (r *run) cacheLookup(p *stepPlan, sr *StepResult) bool {
	k, ok := r.cacheKey(p)
	if !ok {
		return false
	}
	p.cacheKey = k
	if !k.reuse || r.env.StepCache.NoReuse {
		return false
	}
	c := r.env.StepCache
	e, err := c.read(k.key)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.cacheIgnored(p, err.Error())
		}
		return false
	}
	if k.maxAge > 0 {
		created, err := time.Parse(time.RFC3339Nano, e.Created)
		if err != nil || c.now().Sub(created) > k.maxAge {
			return false
		}
	}
	var rowsIn int64
	for _, need := range p.step.Needs {
		up := r.byID[need].out
		up.mu.Lock()
		rowsIn += up.rows
		up.mu.Unlock()
	}
	if p.out == nil {
		// A writer: skipped when the files it wrote are still what it wrote.
		for _, f := range e.Files {
			abs, err := r.env.Files.Resolve(f)
			if err != nil {
				return false
			}
			sum, err := c.hashFile(abs)
			if err != nil || sum != e.FileHashes[f] {
				// The target changed since; write again (not a corrupt entry).
				return false
			}
		}
		sr.Cache, sr.RowsIn, sr.RowsOut, sr.Files = "hit", rowsIn, e.RowsOut, append([]string(nil), e.Files...)
		return true
	}
	if e.Art == nil {
		r.cacheIgnored(p, "the entry has no artifact")
		c.remove(k.key)
		return false
	}
	src := filepath.Join(c.runDirAbs(e.RunDir), filepath.FromSlash(e.Art.Path))
	schema, err := linkArtifact(src, p.out.path, e.Art.SHA256)
	if err != nil {
		r.cacheIgnored(p, err.Error())
		c.remove(k.key)
		return false
	}
	art := *e.Art
	art.Path = p.out.relPath
	art.Schema = append([]Column(nil), e.Art.Schema...)
	p.out.mu.Lock()
	p.out.schema = schema
	p.out.rows = art.Rows
	p.out.artifact = &art
	p.out.complete = true
	p.out.mu.Unlock()
	// Consumers read the linked parquet file: nothing is loaded unless one
	// needs it.
	p.out.releaseMemory()
	sr.Cache, sr.RowsIn, sr.RowsOut, sr.Artifact = "hit", rowsIn, art.Rows, &art
	return true
}

// cacheIgnored logs an entry that could not be trusted.
func (r *run) cacheIgnored(p *stepPlan, why string) {
	msg := "step cache entry ignored, running the step: " + why
	r.env.Log.Warn().Str("step", p.step.ID).Msg(r.mask(msg))
	r.em.emit(EventStepWarning, p.step.ID, map[string]any{"code": "step-cache-ignored", "message": msg})
}

// linkArtifact puts src at dst (hard link, copy as fallback), checks its
// SHA-256 against want and returns its Arrow schema. On any failure dst is
// removed.
func linkArtifact(src, dst, want string) (schema *arrow.Schema, err error) {
	if _, err := os.Stat(src); err != nil {
		return nil, fmt.Errorf("cached artifact %s is missing: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	os.Remove(dst)
	defer func() {
		if err != nil {
			os.Remove(dst)
		}
	}()
	if err := os.Link(src, dst); err != nil {
		if err := copyFile(src, dst); err != nil {
			return nil, fmt.Errorf("copying cached artifact %s: %w", src, err)
		}
	}
	sum, err := fileSHA256(dst)
	if err != nil {
		return nil, fmt.Errorf("reading cached artifact %s: %w", src, err)
	}
	if sum != want {
		return nil, fmt.Errorf("cached artifact %s has SHA-256 %s, the entry says %s (changed or corrupted)", src, sum, want)
	}
	pf, err := file.OpenParquetFile(dst, false, file.WithReadProps(parquet.NewReaderProperties(nil)))
	if err != nil {
		return nil, fmt.Errorf("cached artifact %s: %w", src, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, nil)
	if err != nil {
		return nil, fmt.Errorf("cached artifact %s: %w", src, err)
	}
	return fr.Schema()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// cacheStore records a step that succeeded by executing (or a hit, so the
// entry follows the newest run directory and older runs can be removed).
func (r *run) cacheStore(p *stepPlan, sr StepResult) {
	k := p.cacheKey
	if k == nil || sr.Status != StatusSuccess {
		return
	}
	c := r.env.StepCache
	e := &stepCacheEntry{
		V: stepCacheVersion, Key: k.key, Step: p.step.ID, Component: p.step.Component,
		StepFp: p.step.Fingerprint, RunID: r.env.RunID, RunDir: relSlash(c.WorkspaceRoot, r.env.RunDir),
		Created: c.now().UTC().Format(time.RFC3339Nano), RowsIn: sr.RowsIn, RowsOut: sr.RowsOut,
		Art: sr.Artifact,
	}
	if sr.Cache == "hit" {
		// Keep the age of the output, not of the reuse.
		if old, err := c.read(k.key); err == nil {
			e.Created = old.Created
		}
	}
	if p.out == nil {
		e.FileHashes = map[string]string{}
		for _, f := range sr.Files {
			abs, err := r.env.Files.Resolve(f)
			if err != nil {
				return
			}
			sum, err := c.hashFile(abs)
			if err != nil {
				return
			}
			e.Files = append(e.Files, f)
			e.FileHashes[f] = sum
		}
	}
	if err := c.write(e); err != nil {
		r.env.Log.Warn().Str("step", p.step.ID).Err(err).Msg("step cache: could not record the step")
	}
}

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
	unlock, err := lockFile(filepath.Join(c.Dir, "cache.lock"))
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
