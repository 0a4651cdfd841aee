package main

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/workspace"
)

// pipelineCommand is the setup validate and compile share: --param, the
// workspace and the pipeline files named (or all of them).
func (a *app) pipelineCommand(name string, args []string) (*workspace.Workspace, []string, paramFlag, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	params := paramFlag{}
	fs.Var(params, "param", "set a param `NAME=VALUE` (repeatable)")
	fs.BoolVar(&a.remote, "remote", false, "check what a remote run needs too: every file a step reads is known before it runs")
	pos, err := a.parseFlags(fs, args, name+" [PIPELINE...] [--param k=v] [--remote]")
	if err != nil {
		return nil, nil, nil, err
	}
	ws, err := a.workspace()
	if err != nil {
		return nil, nil, nil, err
	}
	files, err := a.pipelineFiles(ws, pos)
	if err != nil {
		return nil, nil, nil, err
	}
	return ws, files, params, nil
}

func (a *app) cmdValidate(args []string) error {
	ws, files, params, err := a.pipelineCommand("validate", args)
	if err != nil {
		return err
	}
	env := compile.FromWorkspace(ws)
	opts := compile.Options{Profile: a.profile, Params: params, Remote: a.remote}
	var all diag.List
	type result struct {
		File        string            `json:"file"`
		Valid       bool              `json:"valid"`
		Diagnostics []diag.Diagnostic `json:"diagnostics"`
	}
	var results []result
	for _, f := range files {
		ds := compile.Validate(env, f, opts)
		all = append(all, ds...)
		results = append(results, result{File: ws.Files.Rel(f), Valid: !ds.HasErrors(), Diagnostics: nonNil(ds)})
	}
	if a.json {
		if err := a.printJSON(results); err != nil {
			return err
		}
	} else {
		a.printDiagnostics(all)
		ok := 0
		for _, r := range results {
			if r.Valid {
				ok++
			}
		}
		if !all.HasErrors() {
			a.outf("%d %s valid\n", ok, plural(ok, "pipeline", "pipelines"))
		}
	}
	if all.HasErrors() {
		return &exitError{code: exitUsage}
	}
	return nil
}

func nonNil(l diag.List) []diag.Diagnostic {
	if l == nil {
		return []diag.Diagnostic{}
	}
	return l
}

// printDiagnostics writes every diagnostic (errors and warnings) to stderr.
func (a *app) printDiagnostics(l diag.List) {
	if len(l) > 0 {
		a.printErr(l)
	}
}

// pipelineFiles returns the pipeline files named on the command line
// (relative to the current directory or -C), or every *.yaml/*.yml under the
// workspace's pipelines folder.
func (a *app) pipelineFiles(ws *workspace.Workspace, args []string) ([]string, error) {
	base, err := a.workDir()
	if err != nil {
		return nil, err
	}
	var files []string
	if len(args) > 0 {
		for _, p := range args {
			if !filepath.IsAbs(p) {
				p = filepath.Join(base, p)
			}
			st, err := os.Stat(p)
			if err != nil {
				return nil, diag.Usage("pipeline %s: %v", p, os.ErrNotExist)
			}
			if st.IsDir() {
				found, err := findPipelines(p)
				if err != nil {
					return nil, err
				}
				files = append(files, found...)
				continue
			}
			files = append(files, p)
		}
		return files, nil
	}
	dir := ws.Path(ws.Config.Paths.Pipelines)
	files, err = findPipelines(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, diag.Usage("no pipeline files (*.yaml) in %s", ws.Files.Rel(dir))
	}
	return files, nil
}

func findPipelines(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && p != dir {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext == ".yaml" || ext == ".yml" {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
