package exec

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// A step's key is the SHA-256 of canonical JSON holding:
//
//   - v: stepCacheVersion;
//   - step_fp: component, mode, effective config, upstream step_fps;
//   - inputs: the table digest of every input as this run produced it;
//   - files: the SHA-256 of every file the step reads (component.StepPaths:
//     config paths, base_dir, globs expanded, files its SQL reads);
//   - connection: the connection's keyed identity (connectionIdentity);
//   - engine: StepCache.Engine (osiris version and commit, DuckDB version);
//   - artifact: the [run] settings that decide an artifact's bytes
//     (parquet codec, batch rows, row-group bytes).

// stepKey is a step's computed key, kept on its plan between lookup and store.
type stepKey struct {
	key    string
	maxAge time.Duration // 0 = any age
	reuse  bool          // lookup allowed (store is always allowed)
	// target is a writer's target identity (writeledger.go).
	target string
}

// cacheKey computes p's key. When the step may be neither reused nor
// recorded, it returns why instead (the step then reports cache "off").
func (r *run) cacheKey(p *stepPlan) (*stepKey, string) {
	c := r.env.StepCache
	s := p.step
	switch {
	case s.Cache == "off":
		return nil, "cache: off in the pipeline"
	case s.Fingerprint == "":
		return nil, "the manifest has no step fingerprint (recompile it)"
	}
	k := &stepKey{}
	if s.Cache != "" && s.Cache != "auto" {
		d, err := time.ParseDuration(s.Cache)
		if err != nil || d <= 0 {
			return nil, fmt.Sprintf("cache: %q is not a duration", s.Cache)
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
	sio, err := component.StepPaths(p.spec, s.Config, p.conn)
	switch {
	case err != nil:
		return nil, "what the step reads cannot be worked out: " + err.Error()
	case sio.NonDeterministic != "":
		return nil, sio.NonDeterministic
	case sio.ReadsUnknown != "":
		return nil, sio.ReadsUnknown
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
			return nil, fmt.Sprintf("input %q has no table digest", need)
		}
		inputs = append(inputs, input{need, art.TableDigest})
	}
	files := []map[string]string{}
	for _, pat := range sio.Reads {
		matches, err := r.matchReads(pat)
		if err != nil {
			return nil, fmt.Sprintf("cannot read %s: %v", pat, err)
		}
		for _, m := range matches {
			sum, err := c.hashFile(m)
			if err != nil {
				return nil, fmt.Sprintf("cannot hash %s: %v", r.env.Files.Rel(m), err)
			}
			files = append(files, map[string]string{"path": r.env.Files.Rel(m), "sha256": sum})
		}
	}
	conn, err := c.connectionIdentity(p.conn)
	if err != nil {
		return nil, "no connection identity: " + err.Error()
	}
	key, err := compile.Fingerprint(map[string]any{
		"v":          stepCacheVersion,
		"step_fp":    s.Fingerprint,
		"inputs":     inputs,
		"files":      files,
		"connection": conn,
		"engine":     c.Engine,
		"artifact": map[string]any{
			"codec":           r.codec.String(),
			"batch_rows":      r.batchRows,
			"row_group_bytes": r.batchBytes,
		},
	})
	if err != nil {
		return nil, "no key: " + err.Error()
	}
	k.key = key
	if p.spec.Role == component.RoleWrite {
		if k.target, err = r.writeTarget(p, sio.Writes, conn); err != nil {
			return nil, "no target identity: " + err.Error()
		}
	}
	return k, ""
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

// connectionIdentity says where a connection points, secrets included, as
// "hmac-sha256:<hex>" under the workspace's identity key: two connections
// with the same family and fields (passwords and DSNs too) have the same
// identity, any changed field changes it, and nothing stored lets anyone
// guess a secret (a plain hash of a short password could be brute-forced).
// The alias is not part of it: two aliases of one database are one target.
func (c *StepCache) connectionIdentity(conn *workspace.Connection) (string, error) {
	if conn == nil {
		return "", nil
	}
	key, err := c.identityKey()
	if err != nil {
		return "", err
	}
	vals := map[string]any{}
	for k, v := range conn.Values {
		vals[k] = fmt.Sprint(v)
	}
	b, err := compile.CanonicalJSON(map[string]any{"family": conn.Family, "values": vals})
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil)), nil
}

// identityKeyFile holds the workspace's random HMAC key, under the state
// folder, mode 0600.
const identityKeyFile = "identity.key"

// identityKey returns the workspace's HMAC key, creating it on first use.
// Two processes creating it at once agree: the file appears whole (link of
// a complete temporary file) and the loser reads the winner's.
func (c *StepCache) identityKey() ([]byte, error) {
	path := filepath.Join(c.StateDir, identityKeyFile)
	if c.StateDir == "" {
		path = filepath.Join(filepath.Dir(c.Dir), identityKeyFile)
	}
	identityKeys.Lock()
	defer identityKeys.Unlock()
	if k, ok := identityKeys.m[path]; ok {
		return k, nil
	}
	k, err := loadIdentityKey(path)
	if err != nil {
		return nil, err
	}
	identityKeys.m[path] = k
	return k, nil
}

// identityKeys are the keys loaded by this process, by file.
var identityKeys = struct {
	sync.Mutex
	m map[string][]byte
}{m: map[string][]byte{}}

func loadIdentityKey(path string) ([]byte, error) {
	read := func() ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		key, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("%s is not a key (64 hex digits); delete it and the step cache makes a new one", path)
		}
		return key, nil
	}
	if key, err := read(); !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+identityKeyFile+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(hex.EncodeToString(key) + "\n")
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o600)); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return read()
}
