package component

import (
	"path"
	"path/filepath"

	"github.com/osiris-go/osiris/workspace"
)

// StepIO is what one step touches on disk and whether its output is a
// function of its inputs alone. It is worked out once, here, from the
// component's spec, the step's config and its resolved connection; the
// validator, the engine's confinement, the step cache key, remote sync and
// watch all use it (one rule, one place).
type StepIO struct {
	// Reads are the files the step reads: paths or globs as written
	// (workspace-relative or absolute), a connection's base_dir applied.
	Reads []string
	// Writes are the files the step writes, in the same form.
	Writes []string
	// ReadsUnknown, when not empty, says why the files the step reads cannot
	// be known before it runs (a path built at run time in SQL). Such a step
	// is never reused by the step cache and cannot run remotely.
	ReadsUnknown string
	// NonDeterministic, when not empty, says why the step's output may
	// differ between two runs with the same inputs (now(), random()). Such
	// a step is never reused by the step cache.
	NonDeterministic string
	// Origin names, for messages, where each path of Reads and Writes comes
	// from: its config key ("path", "query" for a file SQL reads), or
	// OriginConnection+field for a connection's field.
	Origin map[string]string
}

// OriginConnection prefixes an Origin that is a connection's field.
const OriginConnection = "connection."

// KeyError is a config value StepPaths cannot work with (a query that is
// not a SELECT); Key names the config key.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// AddRead records a path the step reads and where it comes from.
func (io *StepIO) AddRead(p, origin string) {
	io.Reads = append(io.Reads, p)
	io.origin(p, origin)
}

func (io *StepIO) origin(p, origin string) {
	if io.Origin == nil {
		io.Origin = map[string]string{}
	}
	if _, set := io.Origin[p]; !set {
		io.Origin[p] = origin
	}
}

// IOFunc adds what a family knows beyond config keys (the files a SQL
// query reads) to the default StepIO of a step.
type IOFunc func(cfg Config, conn *workspace.Connection, io *StepIO) error

// StepPaths returns what a step of spec with config cfg and connection
// conn (nil when it has none) touches. Paths come from the spec's
// ReadsPaths and WritesPaths keys, or, when the config does not set such a
// key, from the connection's field of that name (a DuckDB connection's
// path); a connection's base_dir is joined to relative ones. A writer's key
// that is both read and written (a DuckDB database it writes into) counts
// as a write only. Then the spec's IO hook, if any, adds its own.
func StepPaths(spec Spec, cfg map[string]any, conn *workspace.Connection) (StepIO, error) {
	var io StepIO
	values := func(key string) []string {
		if _, set := cfg[key]; !set {
			if p := conn.Get(key); p != "" && p != ":memory:" {
				io.origin(p, OriginConnection+key)
				return []string{p}
			}
			return nil
		}
		var out []string
		switch v := cfg[key].(type) {
		case string:
			out = []string{v}
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		case []string:
			out = v
		}
		var res []string
		for _, p := range out {
			if p == "" || p == ":memory:" {
				continue
			}
			p = JoinBaseDir(conn, p)
			io.origin(p, key)
			res = append(res, p)
		}
		return res
	}
	isWrite := map[string]bool{}
	for _, k := range spec.WritesPaths {
		isWrite[k] = true
		io.Writes = append(io.Writes, values(k)...)
	}
	for _, k := range spec.ReadsPaths {
		if spec.Role == RoleWrite && isWrite[k] {
			continue
		}
		io.Reads = append(io.Reads, values(k)...)
	}
	if spec.IO != nil {
		if err := spec.IO(Config(cfg), conn, &io); err != nil {
			return io, err // a *KeyError when about one key
		}
	}
	return io, nil
}

// JoinBaseDir is p as a step of connection conn means it: joined to the
// connection's base_dir when p is relative (the filesystem family's rule).
func JoinBaseDir(conn *workspace.Connection, p string) string {
	if base := conn.Get("base_dir"); base != "" && !filepath.IsAbs(p) {
		return path.Join(filepath.ToSlash(base), filepath.ToSlash(p))
	}
	return p
}
