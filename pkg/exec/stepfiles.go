package exec

import (
	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// StepFiles returns, for every step of m, the workspace files it reads and
// writes as absolute paths or glob patterns, from component.StepPaths (the
// engine's rule: config paths with base_dir applied, a DuckDB connection's
// path, the files a query reads). Watch mode watches the reads and ignores
// a pipeline's own writes. connect resolves connections; it may be nil,
// and a connection it cannot resolve is skipped.
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
		if !ok {
			continue
		}
		var conn *workspace.Connection
		if family, ref, needs := StepConnection(s); needs && connect != nil {
			conn, _ = connect(ref, family)
		}
		io, err := component.StepPaths(spec, s.Config, conn)
		if err != nil {
			continue
		}
		for _, p := range io.Reads {
			add(&reads, p)
		}
		for _, p := range io.Writes {
			add(&writes, p)
		}
	}
	return reads, writes
}
