package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/runlog"
	"github.com/osiris-go/osiris/workspace"
)

func (a *app) cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	params := paramFlag{}
	fs.Var(params, "param", "set a param `NAME=VALUE` (repeatable)")
	dryRun := fs.Bool("dry-run", false, "print the plan, execute nothing")
	lastCompile := fs.Bool("last-compile", false, "run the manifest of the most recent compile")
	timeout := fs.Duration("timeout", 0, "bound the whole run (e.g. 30m); 0 = none")
	noCache := fs.Bool("no-cache", false, "execute every step and rehash every file read; do not reuse step outputs of earlier runs (the step cache)")
	fs.Bool("remote", false, "run in the sandbox `[NAME]` of [remote.NAME] (default: the one marked default, else the only one, else local)")
	args, remoteName, useRemote := splitRemoteFlag(args)
	a.remote = useRemote
	pos, err := a.parseFlags(fs, args, "run PIPELINE | MANIFEST_DIR | --last-compile [--param k=v] [--dry-run] [--timeout D] [--remote [NAME]]")
	if err != nil {
		return err
	}
	a.dryRun = *dryRun
	if *timeout < 0 {
		return diag.Usage("--timeout %s is negative; give a duration such as 30m, or 0 for no limit", *timeout)
	}
	ws, err := a.workspace()
	if err != nil {
		return err
	}
	if !*dryRun {
		// An unwritable state folder would fail the run after its run
		// directory exists; say so before anything happens.
		if err := exec.CheckStateDir(ws.Path(ws.Config.Paths.State)); err != nil {
			return err
		}
	}
	// The sandbox starts only once the pipeline has compiled: a refused
	// pipeline starts nothing, not even a sandbox (remote.Prestart, which
	// overlapped the two, is not used here for that reason).
	m, manifestDir, err := a.runTarget(ws, pos, *lastCompile, params)
	if err != nil {
		return err
	}
	if *dryRun {
		return a.printPlan(ws, m)
	}
	if useRemote {
		return a.executeRemote(ws, m, manifestDir, *timeout, remoteName, nil)
	}
	// SQL names files relative to the workspace root and DuckDB resolves
	// them against the working directory (a remote worker runs in its ws/).
	if err := os.Chdir(ws.Root); err != nil {
		return err
	}
	return a.execute(ws, m, manifestDir, localRun{Timeout: *timeout, NoCache: *noCache})
}

var errParamOnManifest = diag.Usage("--param has no effect on a compiled manifest; compile the pipeline with it instead")

// runTarget compiles a pipeline or loads a compiled manifest.
func (a *app) runTarget(ws *workspace.Workspace, pos []string, last bool, params paramFlag) (*compile.Manifest, string, error) {
	buildDir := ws.Path(ws.Config.Paths.Build)
	stateDir := ws.Path(ws.Config.Paths.State)
	switch {
	case last && len(pos) > 0:
		return nil, "", diag.Usage("give either a pipeline/manifest or --last-compile, not both")
	case last:
		if len(params) > 0 {
			return nil, "", errParamOnManifest
		}
		dir, err := compile.LastCompile(ws.Root, buildDir, stateDir)
		if err != nil {
			return nil, "", &diag.UsageError{Err: err}
		}
		m, err := compile.LoadManifest(dir)
		if err != nil {
			return nil, "", &diag.UsageError{Err: err}
		}
		return m, dir, nil
	case len(pos) != 1:
		return nil, "", diag.Usage("run takes one pipeline file or manifest directory (or --last-compile)")
	}
	base, err := a.workDir()
	if err != nil {
		return nil, "", err
	}
	p := pos[0]
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, "", diag.Usage("%s: no such pipeline file or manifest directory", pos[0])
	}
	if st.IsDir() || filepath.Base(p) == "manifest.yaml" {
		dir := p
		if !st.IsDir() {
			dir = filepath.Dir(p)
		}
		if len(params) > 0 {
			return nil, "", errParamOnManifest
		}
		m, err := compile.LoadManifest(dir)
		if err != nil {
			return nil, "", &diag.UsageError{Err: err}
		}
		return m, dir, nil
	}
	started := time.Now()
	m, dir, changed, ds, err := a.compileOne(ws, p, params)
	if !a.dryRun { // a plan is not a run: nothing is recorded
		a.recordCompile(ws, p, started, m, dir, changed, ds, err, true)
	}
	if err != nil {
		return nil, "", err
	}
	if ds.HasErrors() {
		return nil, "", ds
	}
	a.printDiagnostics(ds) // warnings
	return m, dir, nil
}

// printPlan prints the steps in execution order with component, connection,
// inputs — what a run would do, executing nothing.
func (a *app) printPlan(ws *workspace.Workspace, m *compile.Manifest) error {
	if a.json {
		return a.printJSON(compile.Plan(m))
	}
	a.outf("plan for %s (%s, profile %s, manifest %s)\n", m.Pipeline.File, m.Pipeline.Name, m.Profile, m.ShortHash())
	for i, s := range m.Steps {
		conn := s.Connection
		if conn == "" {
			conn = "-"
		}
		needs := strings.Join(s.Needs, ", ")
		switch {
		case len(s.Needs) == 0:
			needs = "(root)"
		case s.ImplicitNeeds:
			needs += " (implicit: the nearest earlier step that produces a table)"
		}
		a.outf("%2d. %-28s %-28s connection %s\n", i+1, s.ID, s.Component+" ("+s.Mode+")", conn)
		a.outf("    needs: %s\n", needs)
		for _, in := range s.Inputs {
			a.outf("    input %s ← %s\n", in.Name, in.Step)
		}
		a.outf("    cache: %s\n", orDash(s.Cache))
	}
	return nil
}

// execute runs m locally, recording the run under run_logs/.
func (a *app) execute(ws *workspace.Workspace, m *compile.Manifest, manifestDir string, lr localRun) error {
	sigs := watchSignals(a.stderr)
	defer sigs.stop()
	lr.Signals = sigs
	ctx := sigs.ctx
	if lr.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lr.Timeout)
		defer cancel()
	}
	progress := newProgress(a)
	lr.Sinks = append(lr.Sinks, progress)
	res, relDir, runErr := a.runLocal(ctx, ws, m, manifestDir, lr)
	progress.done()
	if relDir == "" {
		return runErr
	}
	return a.runOutcome(res, runErr, relDir, ctx)
}

// localRun are the settings of one local run beside the manifest.
type localRun struct {
	Timeout time.Duration // applied by execute
	NoCache bool          // execute every step (--no-cache)
	// CacheExtracts reuses database extractors (watch --cache-extracts).
	CacheExtracts bool
	// ReuseWrites skips writers whose target holds what they would write
	// (watch --reuse-writes); a plain run always writes.
	ReuseWrites bool
	Sinks       []exec.EventSink // besides the recorder
	// Signals, when set, records the run as cancelled on a second signal
	// (run); watch handles its own.
	Signals *runSignals
}

// runLocal records and runs m with the engine: the one code path of run and
// watch. relDir is "" when the run directory could not be created (err says
// why); otherwise the run is recorded whatever its outcome.
func (a *app) runLocal(ctx context.Context, ws *workspace.Workspace, m *compile.Manifest, manifestDir string, lr localRun) (*exec.Result, string, error) {
	opts, err := engineOptions(ws)
	if err != nil {
		return nil, "", err
	}
	setMemoryLimit(opts.MemoryBudget)
	runID := exec.NewRunID()
	stateDir := ws.Path(ws.Config.Paths.State)
	rec, err := exec.StartRecorder(exec.RecorderOptions{
		RunLogsDir:    ws.Path(ws.Config.Paths.RunLogs),
		StateDir:      stateDir,
		WorkspaceRoot: ws.Root,
		Manifest:      m,
		ManifestDir:   manifestDir,
		RunID:         runID,
		Started:       time.Now(),
		Where:         "local",
		Masker:        ws.Masker,
	})
	if err != nil {
		return nil, "", fmt.Errorf("creating the run directory: %w", err)
	}
	// report.html exists from the start and follows the run.
	live := runlog.ForWorkspace(ws).StartLiveReport(rec.Dir())
	if lr.Signals != nil {
		lr.Signals.recording(func(sig os.Signal) {
			rec.Finish(nil, fmt.Errorf("%w: stopped at once by a second %s; steps still running were abandoned", exec.ErrCancelled, sig))
			live.Close()
			a.writeRunPages(ws, rec.Dir())
			fmt.Fprintf(a.stderr, "run directory: %s\n", rec.RelDir())
		})
	}
	cache := exec.NewStepCache(ws.Root, stateDir)
	cache.NoReuse, cache.ReuseExtracts, cache.ReuseWrites = lr.NoCache, lr.CacheExtracts, lr.ReuseWrites
	cache.Engine = engineIdentity(cache)
	engine := &exec.Engine{Options: opts}
	res, runErr := engine.Run(ctx, m, exec.RunEnv{
		RunID:  runID,
		RunDir: rec.Dir(),
		Files:  ws.Files,
		Connect: func(ctx context.Context, ref, family string) (*workspace.Connection, error) {
			return ws.ResolveConnection(ref, family)
		},
		Sink:      append(append(exec.MultiSink{rec.Sink()}, lr.Sinks...), live),
		Metrics:   nil,
		Masker:    ws.Masker,
		Log:       rec.Logger(),
		StepCache: cache,
	})
	finish := func() {
		if ferr := rec.Finish(res, runErr); ferr != nil && runErr == nil {
			runErr = ferr
		}
	}
	if lr.Signals != nil {
		lr.Signals.finish(finish)
	} else {
		finish()
	}
	live.Close()
	a.writeRunPages(ws, rec.Dir())
	return res, rec.RelDir(), runErr
}

// runOutcome prints the summary and maps the result to an exit code.
func (a *app) runOutcome(res *exec.Result, runErr error, relDir string, ctx context.Context) error {
	if a.json {
		out := map[string]any{"run_dir": relDir}
		if res != nil {
			out["run_id"] = res.RunID
			out["status"] = res.Status
			out["duration_ms"] = res.DurationMs
			out["rows"] = res.RowsTotal
			out["steps"] = res.Steps
			if res.FailedStep != "" {
				out["failed_step"] = res.FailedStep
			}
			if res.Error != "" {
				out["error"] = res.Error
			}
		}
		if err := a.printJSON(out); err != nil {
			return err
		}
	}
	status := exec.StatusFailed
	if res != nil {
		status = res.Status
	}
	switch {
	case runErr == nil && status == exec.StatusSuccess:
		if !a.json {
			a.outf("✓ %s  %d rows  %s  %s\n", status, res.RowsTotal, fmtMS(res.DurationMs), relDir)
		}
		return nil
	case status == exec.StatusCancelled || errors.Is(runErr, exec.ErrCancelled):
		if ctx.Err() == context.DeadlineExceeded {
			// The limit struck between steps: nothing was running to fail.
			return &exitError{code: exitRunFailed, err: fmt.Errorf("%v (--timeout); run directory: %s", exec.ErrRunTimedOut, relDir)}
		}
		return &exitError{code: exitInterrupted, err: fmt.Errorf("run cancelled; run directory: %s", relDir)}
	}
	msg := "run failed"
	if runErr != nil {
		msg = runErr.Error()
	}
	err := fmt.Errorf("%s\nrun directory: %s", msg, relDir)
	var ue *diag.UsageError
	if errors.As(runErr, &ue) {
		// A missing variable or connection: nothing was executed.
		return &exitError{code: exitUsage, err: err}
	}
	return &exitError{code: exitRunFailed, err: err}
}

// forgetLocalWrites empties the step cache's write ledger before a remote
// run: its writers change targets without the local cache knowing what
// they wrote, so no later `watch --reuse-writes` may trust the ledger.
func forgetLocalWrites(ws *workspace.Workspace) error {
	if err := exec.ForgetWrites(ws.Root, ws.Path(ws.Config.Paths.State)); err != nil {
		return fmt.Errorf("clearing the step cache's write ledger: %w", err)
	}
	return nil
}

func engineOptions(ws *workspace.Workspace) (exec.Options, error) {
	budget, err := ws.Config.Run.MemoryBudgetBytes()
	if err != nil {
		return exec.Options{}, &diag.UsageError{Err: fmt.Errorf("osiris.toml [run] memory_budget: %w", err)}
	}
	return exec.Options{
		MemoryBudget: budget,
		MaxParallel:  ws.Config.Run.MaxParallelSteps,
		BatchRows:    ws.Config.Run.BatchRows,
		Compression:  ws.Config.Run.ParquetCompression,
		Streaming:    ws.Config.Run.Streaming,
	}, nil
}

// memoryHeadroom is what a run needs beside the hybrid cache's budget:
// batches in flight, parquet row groups being encoded, driver buffers.
const memoryHeadroom = 128 << 20

// setMemoryLimit gives the Go runtime a soft memory limit of the cache
// budget plus headroom, so that the garbage collector works harder before
// the process outgrows what the user allowed (W8: peak RSS at a 64 MiB
// budget 341 MB → 247 MB, for ~5% more time). An explicit
// GOMEMLIMIT wins; an unlimited budget sets no limit. Memory DuckDB
// allocates in C is not counted by the Go runtime.
func setMemoryLimit(budget int64) {
	if budget < 0 || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(budget + memoryHeadroom)
}

func fmtMS(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%d ms", ms)
	}
	return fmt.Sprintf("%.1f s", float64(ms)/1000)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
