package exec

import (
	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// stepPaths is component.StepPaths as two lists; an error gives none.
func stepPaths(spec component.Spec, cfg map[string]any, conn *workspace.Connection) (reads, writes []string) {
	io, err := component.StepPaths(spec, cfg, conn)
	if err != nil {
		return nil, nil
	}
	return io.Reads, io.Writes
}

// StepFiles returns, for every step of m, the workspace files it reads and
// writes as absolute paths or glob patterns (watch mode watches the reads
// and ignores a pipeline's own writes). connect resolves connections for
// base_dir; it may be nil, and a connection it cannot resolve is skipped.
func StepFiles(m *compile.Manifest, files *workspace.Files, connect func(ref, family string) (*workspace.Connection, error)) (reads, writes []string) {
	seen := map[string]bool{}
	add := func(dst *[]string, p string) {
		abs, err := files.Resolve(p)
		if err != nil || seen[abs] {
			return
		}
		seen[abs] = true
		*dst = append(*dst, abs)
	}
	for i := range m.Steps {
		s := &m.Steps[i]
		spec, ok := component.Lookup(s.Component)
		if !ok || len(spec.ReadsPaths)+len(spec.WritesPaths) == 0 {
			continue
		}
		var conn *workspace.Connection
		if connect != nil && len(spec.Families) > 0 {
			conn, _ = connect(s.Connection, spec.Families[0])
		}
		rs, ws := stepPaths(spec, s.Config, conn)
		for _, p := range rs {
			add(&reads, p)
		}
		for _, p := range ws {
			add(&writes, p)
		}
	}
	return reads, writes
}
