package main

import (
	"fmt"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
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
		started := time.Now()
		m, dir, changed, ds, err := a.compileOne(ws, f, params)
		all = append(all, ds...)
		a.recordCompile(ws, f, started, m, dir, changed, ds, err, false)
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
// recordCompile records a compile (run_logs/…-compile/, the run index) so
// that `osiris logs list --kind compile` shows it, a failed one too. A
// record that cannot be written is a warning: the compile itself stands.
func (a *app) recordCompile(ws *workspace.Workspace, file string, started time.Time, m *compile.Manifest, dir string, changed bool, ds diag.List, err error, forRun bool) {
	rel := ""
	if dir != "" {
		rel = ws.Files.Rel(dir)
	}
	if _, rerr := exec.RecordCompile(exec.CompileRecordOptions{
		RunLogsDir:    ws.Path(ws.Config.Paths.RunLogs),
		StateDir:      ws.Path(ws.Config.Paths.State),
		WorkspaceRoot: ws.Root,
		Pipeline:      ws.Files.Rel(file),
		PipelinesDir:  ws.Config.Paths.Pipelines,
		Profile:       a.profile,
		Started:       started,
		Manifest:      m,
		ManifestDir:   rel,
		Changed:       changed,
		Diagnostics:   ds,
		Err:           err,
		ForRun:        forRun,
		Masker:        ws.Masker,
	}); rerr != nil {
		fmt.Fprintln(a.stderr, "osiris: warning: recording the compile: "+a.term(rerr.Error()))
	}
}

func (a *app) compileOne(ws *workspace.Workspace, file string, params map[string]string) (*compile.Manifest, string, bool, diag.List, error) {
	m, ds := compile.Compile(compile.FromWorkspace(ws), file, compile.Options{Profile: a.profile, Params: params, Remote: a.remote})
	if ds.HasErrors() || m == nil {
		return nil, "", false, ds, nil
	}
	dir, changed, err := compile.WriteBuild(ws.Root, ws.Path(ws.Config.Paths.Build), ws.Path(ws.Config.Paths.State), m)
	if err != nil {
		return nil, "", false, ds, err
	}
	return m, dir, changed, ds, nil
}
