package compile

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// The workspace path policy at validate time (the same workspace.Files
// rules the drivers apply at run time, so run never meets a path validate
// accepted): every path a step reads or writes, as component.StepPaths
// gives them — its config keys listed in the spec's ReadsPaths/WritesPaths,
// joined to a filesystem connection's base_dir, a DuckDB connection's path,
// the literal paths its SQL reads — is inside the workspace unless
// written as an absolute path, never climbs out through `..` or a symlink
// (dangling ones included), and is never one of the workspace's own files.
// A writer may in addition not write the running pipeline file, a DuckDB
// database file (unless it is a duckdb writer), or a file a step upstream
// of it reads.

// FilesEnv is implemented by an Env that knows the workspace's protected
// paths (FromWorkspace); others get the defaults of workspace.NewFiles.
type FilesEnv interface {
	Files() *workspace.Files
}

// ConnectionFieldEnv is implemented by an Env that can show a connection's
// field as written in osiris.toml (unexpanded), with where it is defined.
type ConnectionFieldEnv interface {
	ConnectionField(family, alias, key string) (value, where string, ok bool)
}

// pathUse is one file a step reads or writes, resolved.
type pathUse struct {
	what  string // for messages: "steps[2].config.path"
	shown string // as written (joined to base_dir)
	abs   string
	glob  bool
	at    pos
	write bool
	sql   bool // read by the step's query, not named by a config key
}

func (v *validator) files() *workspace.Files {
	if v.filesCache != nil {
		return v.filesCache
	}
	if fe, ok := v.env.(FilesEnv); ok && fe.Files() != nil {
		v.filesCache = fe.Files()
	} else if f, err := workspace.NewFiles(v.env.Root()); err == nil {
		v.filesCache = f
	}
	return v.filesCache
}

func (v *validator) connectionField(ref, key string) (value, where string, ok bool) {
	ce, isCE := v.env.(ConnectionFieldEnv)
	if !isCE || ref == "" {
		return "", "", false
	}
	family, alias, err := workspace.ParseRef(ref)
	if err != nil {
		return "", "", false
	}
	value, where, ok = ce.ConnectionField(family, alias, key)
	if !ok || strings.Contains(value, "${") {
		return "", "", false // expanded at run time only; checked there
	}
	return value, where, true
}

// checkStepPaths applies the path policy to every path a step reads or
// writes, as component.StepPaths gives them (config keys joined to the
// connection's base_dir, a DuckDB connection's path, the files its SQL
// reads), each reported where it is written.
func (v *validator) checkStepPaths(st *stepIR, written map[string]*yEntry, cfgAt pos) {
	conn := v.pathConnection(st.connection)
	io, err := component.StepPaths(*st.spec, st.effective, conn)
	at := func(key string) pos {
		if e := written[key]; e != nil {
			return e.val.pos()
		}
		return cfgAt
	}
	if err != nil {
		key := "config"
		var ke *component.KeyError
		if errors.As(err, &ke) {
			key = ke.Key
		}
		v.errorf(at(key), "config-value", st.label, "", "%s.config.%s: %v", st.path, key, err)
		return
	}
	// StepPaths leaves an empty path out; it is a mistake where written.
	for _, key := range append(append([]string(nil), st.spec.ReadsPaths...), st.spec.WritesPaths...) {
		if p, ok := st.effective[key].(string); ok && written[key] != nil && strings.TrimSpace(p) == "" {
			v.checkPath(st, st.path+".config."+key, p, at(key), true)
			delete(st.effective, key)
		}
	}
	check := func(p string, write bool) {
		key := io.Origin[p]
		var what string
		where := at(key)
		switch {
		case strings.HasPrefix(key, component.OriginConnection):
			field := strings.TrimPrefix(key, component.OriginConnection)
			_, defined, _ := v.connectionField(st.connection, field)
			what = fmt.Sprintf("%s of connection %s (%s)", field, st.connection, defined)
			where = at("connection")
		case key == "query":
			what = st.path + ".config.query reads"
		default:
			what = st.path + ".config." + key
		}
		if !v.checkPath(st, what, p, where, write) {
			if key != "query" && !strings.HasPrefix(key, component.OriginConnection) {
				delete(st.effective, key)
			}
			return
		}
		if u, ok := v.pathUse(what, p, where, write); ok {
			u.sql = key == "query"
			st.paths = append(st.paths, u)
		}
	}
	for _, p := range io.Reads {
		check(p, false)
	}
	for _, p := range io.Writes {
		check(p, true)
	}
	if v.opts.Remote && io.ReadsUnknown != "" {
		v.errorf(at("query"), "remote-reads-unknown", st.label,
			"write every path the query reads as a literal, or run the pipeline locally",
			"%s.config.query: the files it reads cannot be known before it runs (%s); a remote run carries only the files a step names", st.path, io.ReadsUnknown)
	}
}

// pathConnection is the connection's fields that place a step's files
// (base_dir, path), as written in osiris.toml; one that is expanded only at
// run time is left out (checked there).
func (v *validator) pathConnection(ref string) *workspace.Connection {
	family, alias, err := workspace.ParseRef(ref)
	if ref == "" || err != nil {
		return nil
	}
	c := &workspace.Connection{Family: family, Alias: alias, Values: map[string]any{}}
	for _, key := range []string{"base_dir", "path"} {
		if val, _, ok := v.connectionField(ref, key); ok && val != "" {
			c.Values[key] = val
		}
	}
	return c
}

func (v *validator) pathUse(what, shown string, at pos, write bool) (pathUse, bool) {
	f := v.files()
	if f == nil {
		return pathUse{}, false
	}
	abs, err := f.Resolve(shown)
	if err != nil {
		return pathUse{}, false
	}
	return pathUse{what: what, shown: shown, abs: abs, glob: !write && strings.ContainsAny(shown, "*?["), at: at, write: write}, true
}

// checkPath reports what the policy refuses about one path; what names it
// in the message ("steps[2].config.path").
func (v *validator) checkPath(st *stepIR, what, p string, at pos, write bool) bool {
	if strings.TrimSpace(p) == "" {
		v.errorf(at, "bad-path", st.label, "name a file, relative to the workspace", "%s is empty", what)
		return false
	}
	if escapesWorkspace(p) {
		v.errorf(at, "path-escape", st.label, "keep files inside the workspace or write an absolute path",
			"%s %q escapes the workspace through ..", what, p)
		return false
	}
	f := v.files()
	if f == nil {
		return true
	}
	abs, err := f.Resolve(p)
	var pe *workspace.PathError
	if errors.As(err, &pe) {
		code := "path-escape"
		if strings.HasSuffix(pe.Reason, "not data") {
			code = "protected-path"
		}
		hint := pe.Hint
		if hint == "" {
			hint = "keep files inside the workspace or write an absolute path"
		}
		v.errorf(at, code, st.label, hint, "%s %q %s", what, p, pe.Reason)
		return false
	}
	if err != nil {
		v.errorf(at, "bad-path", st.label, "", "%s %q: %v", what, p, err)
		return false
	}
	if write && abs == v.pipelineAbs() {
		v.errorf(at, "protected-path", st.label, "write to a data file", "%s %q is this pipeline's own file", what, p)
		return false
	}
	if !write && strings.ContainsAny(p, "*?[") {
		// A glob must not match a protected file (path: "*" would read .env).
		matches, _ := filepath.Glob(abs)
		for _, m := range matches {
			if w, prot := f.Protected(m); prot {
				v.errorf(at, "protected-path", st.label, "narrow the pattern, e.g. data/*.csv",
					"%s %q matches %s, which is %s, not data", what, p, f.Rel(m), w)
				return false
			}
		}
		return true
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() && write {
		v.errorf(at, "bad-path", st.label, "name a file in it, e.g. "+path.Join(filepath.ToSlash(p), "out.csv"), "%s %q is a directory, not a file", what, p)
		return false
	}
	return true
}

// pipelineAbs is the absolute path of the file being validated.
func (v *validator) pipelineAbs() string {
	if filepath.IsAbs(v.file) {
		return filepath.Clean(v.file)
	}
	return filepath.Join(v.env.Root(), filepath.FromSlash(v.file))
}

// checkWriteTargets refuses writers that would overwrite a DuckDB database
// file as if it were a data file, or a file their own upstream reads.
func (v *validator) checkWriteTargets() {
	dbFiles := map[string]string{} // abs → what names it
	for _, ref := range v.env.ConnectionRefs() {
		if !strings.HasPrefix(ref, "@duckdb.") {
			continue
		}
		if p, where, ok := v.connectionField(ref, "path"); ok {
			if abs, err := v.files().Resolve(p); err == nil {
				dbFiles[abs] = fmt.Sprintf("the database file of connection %s (%s)", ref, where)
			}
		}
	}
	for _, st := range v.steps {
		if st.spec == nil || !contains(st.spec.Families, "duckdb") {
			continue
		}
		for _, u := range st.paths {
			if u.sql {
				continue // a file its query reads, not its database
			}
			if _, known := dbFiles[u.abs]; !known {
				dbFiles[u.abs] = fmt.Sprintf("the DuckDB database file of step %q", st.id)
			}
		}
	}
	for _, st := range v.steps {
		if st.spec == nil || st.spec.Role != component.RoleWrite {
			continue
		}
		duckWriter := contains(st.spec.Families, "duckdb")
		for _, u := range st.paths {
			if !u.write {
				continue
			}
			if what, ok := dbFiles[u.abs]; ok && !duckWriter {
				v.errorf(u.at, "protected-path", st.label, "write the data to another file, or use duckdb.writer to load it into a table",
					"%s %q is %s; %s would overwrite the database", u.what, u.shown, what, st.component)
				continue
			}
			if duckWriter {
				continue // reading one table and writing another of a database is fine
			}
			if up, r := v.upstreamReading(st, u.abs); up != nil {
				v.errorf(u.at, "protected-path", st.label, "write to another file",
					"%s %q is the input step %q reads (%s); the step would overwrite its own input", u.what, u.shown, up.id, r.shown)
			}
		}
	}
}

// upstreamReading returns the step upstream of st (transitively) that
// reads abs, if any.
func (v *validator) upstreamReading(st *stepIR, abs string) (*stepIR, pathUse) {
	seen := map[string]bool{}
	queue := append([]string(nil), st.needs...)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		up := v.byID[id]
		if up == nil {
			continue
		}
		for _, u := range up.paths {
			if u.write {
				continue
			}
			if u.abs == abs {
				return up, u
			}
			if u.glob {
				if ok, _ := filepath.Match(u.abs, abs); ok {
					return up, u
				}
			}
		}
		queue = append(queue, up.needs...)
	}
	return nil, pathUse{}
}
