package exec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/osiris-go/osiris/internal/atomicfile"
	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
)

// The write ledger remembers, for each writer target, the last thing this
// workspace wrote there: <cache>/targets/<hash of the target>.json. A
// target is where a writer's rows land: its connection's keyed identity
// plus the config's schema and table, and the files it writes (a writer
// with neither is identified by its whole config). The line is removed
// before a writer starts and written when it succeeds, so a failed or
// interrupted write leaves no line and the next run writes again; a remote
// run forgets every line (ForgetWrites), as its writes happen elsewhere.
//
// Only `osiris watch --reuse-writes` reads the ledger: a writer that does
// not append is skipped when the line's key equals the key it would write
// with and every file it wrote still has the recorded SHA-256. What a
// database table holds cannot be checked; that is why reuse is an opt-in.

// writeRecord is one line of the ledger.
type writeRecord struct {
	V         int    `json:"v"`
	Target    string `json:"target"`
	Key       string `json:"key"`
	Step      string `json:"step"`
	Component string `json:"component"`
	RunID     string `json:"run_id"`
	Created   string `json:"created"`
	Rows      int64  `json:"rows"`
	// Files a writer wrote (workspace-relative) and their SHA-256 after the
	// write.
	Files      []string          `json:"files,omitempty"`
	FileHashes map[string]string `json:"file_hashes,omitempty"`
}

// targetKeys are the config keys that name a database writer's table.
var targetKeys = []string{"schema", "table"}

// writeTarget returns the identity of the target of writer p, which writes
// the files writes (component.StepPaths) through connection identity conn.
func (r *run) writeTarget(p *stepPlan, writes []string, conn string) (string, error) {
	t := map[string]any{"connection": conn}
	files := []string{}
	for _, w := range writes {
		if r.env.Files == nil {
			return "", errors.New("no workspace files")
		}
		abs, err := r.env.Files.Resolve(w)
		if err != nil {
			return "", err
		}
		files = append(files, r.env.Files.Rel(abs))
	}
	t["files"] = files
	named := false
	for _, k := range targetKeys {
		if v, ok := p.step.Config[k]; ok {
			t[k], named = fmt.Sprint(v), true
		}
	}
	if !named && len(files) == 0 {
		t["config"] = p.step.Config
	}
	return compile.Fingerprint(t)
}

// appends says whether writer p appends rows (its write_mode, or the
// field's default when the step does not set it).
func appends(p *stepPlan) bool {
	mode, ok := p.step.Config["write_mode"]
	if !ok {
		f, has := p.spec.Field("write_mode")
		if !has {
			return false
		}
		mode = f.Default
	}
	return fmt.Sprint(mode) == "append"
}

func (c *StepCache) targetsDir() string { return filepath.Join(c.Dir, "targets") }

func (c *StepCache) targetPath(target string) string {
	h := sha256.Sum256([]byte(target))
	return filepath.Join(c.targetsDir(), hex.EncodeToString(h[:16])+".json")
}

func (c *StepCache) readTarget(target string) (*writeRecord, error) {
	b, err := os.ReadFile(c.targetPath(target))
	if err != nil {
		return nil, err
	}
	var w writeRecord
	if err := json.Unmarshal(b, &w); err != nil || w.V != stepCacheVersion || w.Target != target {
		return nil, fmt.Errorf("write ledger line %s: another format or target", filepath.Base(c.targetPath(target)))
	}
	return &w, nil
}

func (c *StepCache) writeTargetRecord(w *writeRecord) error {
	b, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.targetsDir(), 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(c.lockPath())
	if err != nil {
		return err
	}
	defer unlock()
	return atomicfile.Write(c.targetPath(w.Target), append(b, '\n'), atomicfile.Options{})
}

// forgetTarget removes target's line; "" forgets every target (the writer's
// target could not be worked out).
func (c *StepCache) forgetTarget(target string) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(c.lockPath())
	if err != nil {
		return err
	}
	defer unlock()
	if target == "" {
		return os.RemoveAll(c.targetsDir())
	}
	if err := os.Remove(c.targetPath(target)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// ForgetWrites empties the write ledger of the workspace whose state folder
// is stateDir: a caller that writes targets without this engine's local
// step cache (a remote run) calls it first, so no later reuse trusts a
// target it changed.
func ForgetWrites(root, stateDir string) error {
	return NewStepCache(root, stateDir).forgetTarget("")
}

// writerLookup decides whether writer p may be skipped (StepCache.ReuseWrites
// only). Whatever it decides, the writer's target line is forgotten before
// the writer runs.
func (r *run) writerLookup(p *stepPlan, k *stepKey, sr *StepResult) bool {
	c := r.env.StepCache
	switch {
	case !c.ReuseWrites:
		sr.CacheReason = "writers always write (reuse only with osiris watch --reuse-writes)"
		return false
	case c.NoReuse:
		sr.CacheReason = "--no-cache"
		return false
	case appends(p):
		sr.CacheReason = "an append writer always writes"
		return false
	}
	w, err := c.readTarget(k.target)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.cacheIgnored(p, err.Error())
		}
		sr.CacheReason = "this workspace has no record of what its target holds"
		return false
	}
	if w.Key != k.key {
		sr.CacheReason = "its target holds another write (run " + w.RunID + ")"
		return false
	}
	if k.maxAge > 0 {
		created, err := time.Parse(time.RFC3339Nano, w.Created)
		if err != nil || c.now().Sub(created) > k.maxAge {
			sr.CacheReason = "the last write is older than cache: " + p.step.Cache
			return false
		}
	}
	for _, f := range w.Files {
		abs, err := r.env.Files.Resolve(f)
		if err != nil {
			return false
		}
		if sum, err := c.hashFile(abs); err != nil || sum != w.FileHashes[f] {
			sr.CacheReason = f + " changed since run " + w.RunID
			return false
		}
	}
	sr.Status, sr.Cache, sr.ReusedRun = StatusSkipped, CacheHit, w.RunID
	sr.CacheReason = "unchanged since " + w.RunID
	return true
}

// beforeWrite forgets what the ledger says of p's target: p is about to
// change it.
func (r *run) beforeWrite(p *stepPlan) {
	c := r.env.StepCache
	if c == nil || p.spec.Role != component.RoleWrite {
		return
	}
	target := ""
	if p.cacheKey != nil {
		target = p.cacheKey.target
	} else if sio, err := component.StepPaths(p.spec, p.step.Config, p.conn); err == nil {
		if conn, err := c.connectionIdentity(p.conn); err == nil {
			target, _ = r.writeTarget(p, sio.Writes, conn)
		}
	}
	if err := c.forgetTarget(target); err != nil {
		r.env.Log.Warn().Str("step", p.step.ID).Err(err).Msg("step cache: could not clear the write ledger")
	}
}

// writerStore records what writer p just wrote to its target.
func (r *run) writerStore(p *stepPlan, k *stepKey, sr StepResult) {
	c := r.env.StepCache
	w := &writeRecord{
		V: stepCacheVersion, Target: k.target, Key: k.key, Step: p.step.ID, Component: p.step.Component,
		RunID: r.env.RunID, Created: c.now().UTC().Format(time.RFC3339Nano), Rows: sr.RowsOut,
		FileHashes: map[string]string{},
	}
	for _, f := range sr.Files {
		abs, err := r.env.Files.Resolve(f)
		if err != nil {
			return
		}
		sum, err := c.hashFile(abs)
		if err != nil {
			return
		}
		w.Files = append(w.Files, f)
		w.FileHashes[f] = sum
	}
	if err := c.writeTargetRecord(w); err != nil {
		r.env.Log.Warn().Str("step", p.step.ID).Err(err).Msg("step cache: could not record the write")
	}
}
