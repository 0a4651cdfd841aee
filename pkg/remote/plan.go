package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/workspace"
)

// Plan is what a remote run moves: exactly the files and connections the
// manifest needs, worked out from the manifest with component.StepPaths —
// the rule the engine, the step cache and watch use (config paths joined to
// a connection's base_dir, a DuckDB connection's path, the files a query
// reads) — never a hand-kept list.
type Plan struct {
	// Files are tree paths (manifest/…, ws/…) → local absolute paths.
	Files map[string]string
	// Writable tree paths are written in place by a step (copied, not
	// linked, in the sandbox).
	Writable []string
	// Outputs are ws/… tree paths a step may write → the local path they
	// are written back to.
	Outputs map[string]string
	// Connections the manifest uses, resolved (secrets in memory only).
	Connections []PlanConnection
	// Env is [remote.x].pass_env with values from the workspace environment.
	Env map[string]string
}

// PlanConnection is a connection the manifest uses, as the step names it,
// resolved.
type PlanConnection struct {
	Ref, Family string
	Conn        *workspace.Connection
}

// MakePlan resolves what a remote run of m needs. Its errors are
// configuration errors (exit 2, nothing executed).
func MakePlan(ws *workspace.Workspace, m *compile.Manifest, manifestDir string, passEnv []string) (*Plan, error) {
	p := &Plan{Files: map[string]string{}, Outputs: map[string]string{}, Env: map[string]string{}}
	usage := func(format string, args ...any) error { return &diag.UsageError{Err: fmt.Errorf(format, args...)} }

	// The compiled manifest directory: manifest.yaml and cfg/.
	if manifestDir == "" {
		return nil, usage("remote run: the manifest has no build directory; compile the pipeline first")
	}
	if err := filepath.WalkDir(manifestDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(manifestDir, path)
		rel = filepath.ToSlash(rel)
		if rel == compile.ManifestFile || strings.HasPrefix(rel, "cfg/") {
			p.Files["manifest/"+rel] = path
		}
		return nil
	}); err != nil {
		return nil, usage("remote run: reading the manifest directory: %w", err)
	}
	if _, ok := p.Files["manifest/"+compile.ManifestFile]; !ok {
		return nil, usage("remote run: %s has no %s", manifestDir, compile.ManifestFile)
	}

	writable := map[string]bool{}
	addRead := func(step, key, value string, write bool) error {
		rel, abs, err := wsPath(ws, value)
		if err != nil {
			return usage("step %q: %s %q: %w", step, key, value, err)
		}
		matches := []string{abs}
		if strings.ContainsAny(value, "*?[") {
			matches, err = filepath.Glob(abs)
			if err != nil {
				return usage("step %q: %s: bad glob %q: %w", step, key, value, err)
			}
		}
		for _, f := range matches {
			st, err := os.Stat(f)
			if err != nil || !st.Mode().IsRegular() {
				continue // a writer's file that does not exist yet, or a glob's directory
			}
			r, _ := filepath.Rel(ws.Root, f)
			p.Files["ws/"+filepath.ToSlash(r)] = f
			if write {
				writable["ws/"+filepath.ToSlash(r)] = true
			}
		}
		if write {
			p.Outputs["ws/"+rel] = abs
			writable["ws/"+rel] = true
		}
		return nil
	}

	seen := map[string]bool{}
	for i := range m.Steps {
		s := &m.Steps[i]
		spec, ok := component.Lookup(s.Component)
		if !ok {
			return nil, usage("step %q: unknown component %q", s.ID, s.Component)
		}
		var conn *workspace.Connection
		if family, ref, needs := exec.StepConnection(s); needs {
			c, err := ws.ResolveConnection(ref, family)
			if err != nil {
				var ue *diag.UsageError
				if errors.As(err, &ue) {
					return nil, err
				}
				return nil, &diag.UsageError{Err: fmt.Errorf("step %q: %w", s.ID, err)}
			}
			conn = c
			key := family + "\x00" + ref
			if !seen[key] {
				seen[key] = true
				p.Connections = append(p.Connections, PlanConnection{Ref: ref, Family: family, Conn: conn})
			}
		}
		// What the step reads and writes is the engine's own rule (base_dir
		// joined, a DuckDB connection's path, the files its SQL reads).
		io, err := component.StepPaths(spec, s.Config, conn)
		if err != nil {
			return nil, usage("step %q: %w", s.ID, err)
		}
		if io.ReadsUnknown != "" {
			return nil, usage("step %q: the files it reads cannot be known before it runs (%s); a remote run carries only the files a step names: write the paths as literals, or run the pipeline locally", s.ID, io.ReadsUnknown)
		}
		for _, v := range io.Reads {
			if io.Origin[v] == "query" && filepath.IsAbs(v) {
				// Not carried: no file of this machine is in the sandbox,
				// and DuckDB there refuses the path when the query runs.
				continue
			}
			if err := addRead(s.ID, io.Origin[v], v, false); err != nil {
				return nil, err
			}
		}
		for _, v := range io.Writes {
			if err := addRead(s.ID, io.Origin[v], v, true); err != nil {
				return nil, err
			}
		}
	}
	for _, name := range passEnv {
		if v, ok := ws.Env.Lookup(name); ok {
			p.Env[name] = v
		}
	}
	for k := range writable {
		p.Writable = append(p.Writable, k)
	}
	sort.Strings(p.Writable)
	return p, nil
}

// wsPath resolves a step's path inside the workspace. A remote run carries
// workspace files only: an absolute path (a file outside the workspace on
// this machine) cannot exist in the sandbox.
func wsPath(ws *workspace.Workspace, value string) (rel, abs string, err error) {
	if filepath.IsAbs(value) {
		return "", "", errors.New("is an absolute path; a remote run carries workspace files only (write it relative to the workspace)")
	}
	abs, err = ws.Files.Resolve(value)
	if err != nil {
		return "", "", err
	}
	r, err := filepath.Rel(ws.Root, abs)
	if err != nil || strings.HasPrefix(r, "..") {
		return "", "", errors.New("is outside the workspace")
	}
	return filepath.ToSlash(r), abs, nil
}
