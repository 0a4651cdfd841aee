package exec

import (
	"errors"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/osiris-go/osiris/pkg/component"
)

// The step cache (spec 05) lets a run reuse a step's output from an earlier
// run in the same workspace instead of executing the step. Its parts, one
// file each:
//
//   - stepkey.go: what a key is made of (step_fp, inputs' table digests,
//     files read, the connection's keyed identity, the engine);
//   - filememo.go: file hashes remembered by size, mtime, ctime and inode;
//   - stepentry.go: the index, one JSON file per key under <state>/cache/steps/;
//   - artifactcopy.go: a hit's artifact is copied (or reflinked) into the
//     new run directory and checked against its SHA-256;
//   - writeledger.go: what this workspace last wrote to each writer target,
//     for `osiris watch --reuse-writes`;
//   - stepprune.go: `osiris logs gc` drops entries of removed runs.
//
// What may be reused:
//   - transforms and file extractors (Spec.Cacheable): whenever the key
//     matches;
//   - database extractors: only when the step says `cache: "10m"` and the
//     entry is younger than that, or StepCache.ReuseExtracts is set
//     (`osiris watch --cache-extracts`);
//   - writers: never, unless StepCache.ReuseWrites is set (`osiris watch
//     --reuse-writes`); then a writer that does not append is skipped when
//     the last thing this workspace wrote to its target came from the same
//     key and a file target still has the bytes that were written.
//
// Never reused nor recorded: a step with `cache: off`, one whose component
// says its output is not a function of its inputs (now(), random()) or
// whose reads cannot be known (component.StepIO); the step reports
// cache "off" and why.
//
// A `cache: "<duration>"` on any step also bounds the age of what it
// reuses. Entries are recorded when a step succeeds, also in runs that later
// fail or are cancelled: the step's output is complete and hashed either way.

// stepCacheVersion is part of every key; bump it when the key's content or
// the meaning of an entry changes.
const stepCacheVersion = 2

// Values of StepResult.Cache and of step_complete's "cache" field.
const (
	CacheHit  = "hit"  // served from an earlier run (a writer: skipped)
	CacheMiss = "miss" // executed; cache_reason says why when it is not just "no entry"
	CacheOff  = "off"  // executed and not recorded; cache_reason says why
)

// StepCache is the step cache of one workspace. A nil *StepCache disables
// it; NoReuse (--no-cache) executes every step but still records outputs
// for later runs.
type StepCache struct {
	// Dir is <state>/cache, absolute.
	Dir string
	// StateDir is the workspace's state folder; it holds the key that makes
	// connection identities unguessable (identity.key).
	StateDir string
	// WorkspaceRoot makes run directories in entries workspace-relative.
	WorkspaceRoot string
	// ReuseExtracts reuses database extractors whatever their age, until
	// their own config changes (osiris watch --cache-extracts).
	ReuseExtracts bool
	// ReuseWrites skips a writer whose target holds what it would write
	// (osiris watch --reuse-writes); append writers always write.
	ReuseWrites bool
	// NoReuse executes every step (osiris run --no-cache) and rehashes every
	// file it reads; outputs and fresh hashes are still recorded.
	NoReuse bool
	// Engine identifies the program that produces outputs (osiris version
	// and commit, DuckDB version); it is part of every key. The caller sets
	// it: the engine does not know how it was built.
	Engine string
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// NewStepCache returns the step cache of a workspace whose state directory
// is stateDir (e.g. <root>/.osiris).
func NewStepCache(root, stateDir string) *StepCache {
	return &StepCache{Dir: filepath.Join(stateDir, "cache"), StateDir: stateDir, WorkspaceRoot: root}
}

func (c *StepCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// cacheLookup serves p from the step cache when an entry for its key may be
// reused and checks out. On a hit it fills sr (cache "hit", rows, artifact;
// for a writer status skipped and the run it reuses) and p's output, and
// returns true; the step is then not executed. On a miss it says in sr why
// the step runs when that is worth telling.
func (r *run) cacheLookup(p *stepPlan, sr *StepResult) bool {
	c := r.env.StepCache
	if c == nil {
		return false
	}
	k, off := r.cacheKey(p)
	if off != "" {
		sr.Cache, sr.CacheReason = CacheOff, off
		return false
	}
	p.cacheKey = k
	if p.spec.Role == component.RoleWrite {
		return r.writerLookup(p, k, sr)
	}
	if c.NoReuse {
		sr.CacheReason = "--no-cache"
		return false
	}
	if !k.reuse {
		sr.CacheReason = "a database extractor is reused only with cache: \"<duration>\" or --cache-extracts"
		return false
	}
	e, err := c.read(k.key)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.cacheIgnored(p, err.Error())
		}
		sr.CacheReason = "no earlier output with this key (config, inputs, files read, connection or engine changed)"
		return false
	}
	if k.maxAge > 0 {
		created, err := time.Parse(time.RFC3339Nano, e.Created)
		if err != nil || c.now().Sub(created) > k.maxAge {
			sr.CacheReason = "the earlier output is older than cache: " + p.step.Cache
			return false
		}
	}
	if e.Art == nil {
		r.cacheIgnored(p, "the entry has no artifact")
		c.remove(k.key)
		return false
	}
	src := filepath.Join(c.runDirAbs(e.RunDir), filepath.FromSlash(e.Art.Path))
	schema, err := copyArtifact(src, p.out.path, e.Art.SHA256)
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
	// Consumers read the copied parquet file: nothing is loaded unless one
	// needs it.
	p.out.releaseMemory()
	sr.Cache, sr.RowsIn, sr.RowsOut, sr.Artifact = CacheHit, r.rowsIn(p), art.Rows, &art
	sr.ReusedRun, sr.CacheReason = e.RunID, "unchanged since "+e.RunID
	return true
}

func (r *run) rowsIn(p *stepPlan) int64 {
	var n int64
	for _, need := range p.step.Needs {
		up := r.byID[need].out
		up.mu.Lock()
		n += up.rows
		up.mu.Unlock()
	}
	return n
}

// cacheIgnored logs an entry that could not be trusted.
func (r *run) cacheIgnored(p *stepPlan, why string) {
	msg := "step cache entry ignored, running the step: " + why
	r.env.Log.Warn().Str("step", p.step.ID).Msg(r.mask(msg))
	r.em.emit(EventStepWarning, p.step.ID, map[string]any{"code": "step-cache-ignored", "message": msg})
}

// cacheStore records a step that succeeded by executing (or a hit, so the
// entry follows the newest run directory and older runs can be removed). A
// writer's record is its target's ledger line.
func (r *run) cacheStore(p *stepPlan, sr StepResult) {
	k := p.cacheKey
	if k == nil || sr.Status != StatusSuccess {
		return
	}
	c := r.env.StepCache
	if p.spec.Role == component.RoleWrite {
		r.writerStore(p, k, sr)
		return
	}
	e := &stepCacheEntry{
		V: stepCacheVersion, Key: k.key, Step: p.step.ID, Component: p.step.Component,
		StepFp: p.step.Fingerprint, RunID: r.env.RunID, RunDir: relSlash(c.WorkspaceRoot, r.env.RunDir),
		Created: c.now().UTC().Format(time.RFC3339Nano), RowsIn: sr.RowsIn, RowsOut: sr.RowsOut,
		Art: sr.Artifact,
	}
	if sr.Cache == CacheHit {
		// Keep the age and origin of the output, not of the reuse.
		if old, err := c.read(k.key); err == nil {
			e.Created, e.RunID = old.Created, old.RunID
		}
	}
	if err := c.write(e); err != nil {
		r.env.Log.Warn().Str("step", p.step.ID).Err(err).Msg("step cache: could not record the step")
	}
}
