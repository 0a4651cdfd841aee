package main

import (
	"path/filepath"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/workspace"
)

func (a *app) cmdCompile(args []string) error {
	ws, files, params, err := a.pipelineCommand("compile", args)
	if err != nil {
		return err
	}
	type result struct {
		File         string `json:"file"`
		ManifestDir  string `json:"manifest_dir"`
		ManifestHash string `json:"manifest_hash"`
		Changed      bool   `json:"changed"`
	}
	var results []result
	var all diag.List
	for _, f := range files {
		m, dir, changed, ds, err := a.compileOne(ws, f, params)
		all = append(all, ds...)
		if err != nil {
			return err
		}
		if m == nil {
			continue
		}
		results = append(results, result{File: ws.Files.Rel(f), ManifestDir: ws.Files.Rel(dir), ManifestHash: m.ManifestHash, Changed: changed})
	}
	a.printDiagnostics(all)
	if a.json {
		if err := a.printJSON(results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			state := "unchanged"
			if r.Changed {
				state = "written"
			}
			a.outf("%s → %s (%s)\n", r.File, r.ManifestDir, state)
		}
	}
	if all.HasErrors() {
		return &exitError{code: exitUsage}
	}
	return nil
}

// compileOne validates and compiles one pipeline and writes build/. It
// returns the diagnostics (warnings too); m is nil when there were errors.
func (a *app) compileOne(ws *workspace.Workspace, file string, params map[string]string) (*compile.Manifest, string, bool, diag.List, error) {
	m, ds := compile.Compile(compile.FromWorkspace(ws), file, compile.Options{Profile: a.profile, Params: params})
	if ds.HasErrors() || m == nil {
		return nil, "", false, ds, nil
	}
	dir, changed, err := compile.WriteBuild(ws.Root, filepath.Join(ws.Root, ws.Config.Paths.Build), filepath.Join(ws.Root, ws.Config.Paths.State), m)
	if err != nil {
		return nil, "", false, ds, err
	}
	return m, dir, changed, ds, nil
}
