package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote"
	"github.com/osiris-go/osiris/pkg/watch"
	"github.com/osiris-go/osiris/workspace"
)

func (a *app) cmdWatch(args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	params := paramFlag{}
	fs.Var(params, "param", "set a param `NAME=VALUE` (repeatable)")
	poll := fs.Duration("poll", 0, "poll modification times and sizes every `D` instead of using inotify (network file systems, bind mounts); default [watch] poll")
	debounce := fs.Duration("debounce", 0, "collect changes until `D` passes without one; default [watch] debounce (300ms)")
	noCache := fs.Bool("no-cache", false, "execute every step of every run; do not reuse step outputs")
	cacheExtracts := fs.Bool("cache-extracts", false, "reuse database extractors' outputs until their own config changes")
	fs.Bool("remote", false, "run every rerun in the sandbox `[NAME]` of [remote.NAME] (the step cache is local only: remote reruns execute every step)")
	args, remoteName, remote := splitRemoteFlag(args)
	pos, err := a.parseFlags(fs, args, "watch [PIPELINE…] [--poll D] [--debounce D] [--cache-extracts] [--no-cache] [--param k=v] [--remote [NAME]]")
	if err != nil {
		return err
	}
	ws, err := a.workspace()
	if err != nil {
		return err
	}
	var files []string
	if len(pos) > 0 {
		if files, err = a.pipelineFiles(ws, pos); err != nil {
			return err
		}
	}
	if *poll == 0 {
		*poll = ws.Config.Watch.PollInterval()
	}
	if *debounce == 0 {
		*debounce = ws.Config.Watch.DebounceDuration()
	}
	proj := &watchProject{a: a, ws: ws, params: params, lr: localRun{NoCache: *noCache, CacheExtracts: *cacheExtracts}}
	if remote {
		if _, err := ws.ResolveRemote(remoteName); err != nil {
			return &diag.UsageError{Err: err}
		}
		proj.remote, proj.remoteName = true, remoteName
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C the runs in progress are cancelled and
		// recorded; a second one kills the process the default way.
		<-ctx.Done()
		stop()
	}()
	w := watch.New(proj, watch.Options{
		Root:         ws.Root,
		PipelinesDir: filepath.Join(ws.Root, ws.Config.Paths.Pipelines),
		Pipelines:    files,
		ConfigFiles: []string{
			filepath.Join(ws.Root, "osiris.toml"),
			filepath.Join(ws.Root, ".env"),
			filepath.Join(ws.Root, workspace.ConnectionsYAMLFile),
		},
		Ignore: []string{
			filepath.Join(ws.Root, ws.Config.Paths.RunLogs),
			filepath.Join(ws.Root, ws.Config.Paths.Build),
			filepath.Join(ws.Root, ws.Config.Paths.State),
		},
		Debounce: *debounce,
		Poll:     *poll,
		Report:   (&watchPrinter{a: a, root: ws.Root, mask: proj.mask}).print,
	})
	if err := w.Run(ctx); err != nil {
		return err
	}
	return nil
}

// watchProject compiles and runs with the same code as `osiris run`.
type watchProject struct {
	a      *app
	params paramFlag
	lr     localRun
	// remote runs every run in a sandbox (watch --remote [NAME]).
	remote     bool
	remoteName string

	mu sync.Mutex
	ws *workspace.Workspace
}

func (p *watchProject) workspace() *workspace.Workspace {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ws
}

func (p *watchProject) Reload() error {
	ws, err := workspace.Load(p.workspace().Root)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ws = ws // a.ws stays: the printer reads it from other goroutines
	p.mu.Unlock()
	return nil
}

// mask hides the secrets of the current workspace (reloaded .env included).
func (p *watchProject) mask(s string) string { return p.workspace().Masker.Mask(s) }

func (p *watchProject) Compile(file string) (*watch.Target, error) {
	ws := p.workspace()
	m, dir, _, ds, err := p.a.compileOne(ws, file, p.params)
	if err != nil {
		return nil, err
	}
	if ds.HasErrors() {
		return nil, ds
	}
	reads, writes := exec.StepFiles(m, ws.Files, ws.ResolveConnection)
	return &watch.Target{File: file, Manifest: m, ManifestDir: dir, Reads: reads, Writes: writes}, nil
}

func (p *watchProject) Run(ctx context.Context, t *watch.Target, sink exec.EventSink) watch.Outcome {
	if p.remote {
		ws := p.workspace()
		opts, err := engineOptions(ws)
		if err != nil {
			return watch.Outcome{Err: err}
		}
		res, relDir, err := remote.Execute(ctx, remote.ExecuteOptions{
			Workspace: ws, Manifest: t.Manifest, ManifestDir: t.ManifestDir,
			Remote: p.remoteName, Engine: opts, Version: version, Progress: sink,
		})
		if relDir != "" {
			p.a.writeRunPages(ws, filepath.Join(ws.Root, filepath.FromSlash(relDir)))
		}
		return watch.Outcome{Result: res, RunDir: relDir, Err: err}
	}
	lr := p.lr
	lr.Sinks = []exec.EventSink{sink}
	res, relDir, err := p.a.runLocal(ctx, p.workspace(), t.Manifest, t.ManifestDir, lr)
	return watch.Outcome{Result: res, RunDir: relDir, Err: err}
}

// watchPrinter prints one line per run (spec 05), or one JSON object per
// report under --json.
type watchPrinter struct {
	a    *app
	root string
	mask func(string) string
}

func (w *watchPrinter) name(file string) string {
	return strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
}

func (w *watchPrinter) print(r watch.Report) {
	a := w.a
	if a.json {
		w.printJSON(r)
		return
	}
	ts := r.Time.Local().Format("15:04:05")
	switch r.Kind {
	case watch.ReportWatching:
		fmt.Fprintf(a.stderr, "watching %d %s (Ctrl-C to stop)\n", len(r.Paths), plural(len(r.Paths), "pipeline", "pipelines"))
	case watch.ReportInvalid:
		var dl diag.List
		if errors.As(r.Err, &dl) {
			a.printDiagnostics(dl)
		} else {
			a.printErr(r.Err)
		}
		a.outf("%s ✗ %s  does not validate; watching on (the last good version stays)\n", ts, w.name(r.File))
	case watch.ReportConfig:
		a.printErr(r.Err)
		a.outf("%s ✗ %s  cannot be loaded; watching on with the previous configuration\n", ts, filepath.Base(r.File))
	case watch.ReportRemoved:
		a.outf("%s - %s  removed; no longer watched\n", ts, w.name(r.File))
	case watch.ReportUnchanged:
		if a.verbose {
			a.outf("%s = %s  manifest unchanged; not rerun\n", ts, w.name(r.File))
		}
	case watch.ReportRun:
		w.printRun(ts, r)
	}
}

func (w *watchPrinter) printRun(ts string, r watch.Report) {
	a, o, name := w.a, r.Outcome, w.name(r.File)
	res := o.Result
	switch {
	case res != nil && res.Status == exec.StatusSuccess && o.Err == nil:
		cached := 0
		for _, s := range res.Steps {
			if s.Cache == "hit" {
				cached++
			}
		}
		a.outf("%s ✓ %s  %d %s (%d cached)  %s  %s\n", ts, name, len(res.Steps), plural(len(res.Steps), "step", "steps"), cached, fmtMS(res.DurationMs), o.RunDir)
	case res != nil && res.Status == exec.StatusCancelled:
		why := "cancelled"
		if r.Superseded {
			why = "cancelled for a newer change"
		}
		a.outf("%s ⊘ %s  %s  %s\n", ts, name, why, o.RunDir)
	default:
		msg := "run failed"
		if res != nil && res.FailedStep != "" {
			msg = fmt.Sprintf("step %q: %s", res.FailedStep, res.Error)
		} else if o.Err != nil {
			msg = o.Err.Error()
		}
		if o.RunDir != "" {
			msg += "  " + o.RunDir
		}
		a.outf("%s ✗ %s  %s\n", ts, name, w.mask(firstLine(msg)))
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// printJSON writes one object per report: tools (and the benchmark's W7)
// read the status, the run directory and the time from the end of the
// debounce window to run_start.
func (w *watchPrinter) printJSON(r watch.Report) {
	out := map[string]any{"event": r.Kind, "ts": r.Time.UTC().Format(time.RFC3339Nano)}
	if r.File != "" {
		out["pipeline"] = relSlashPath(w.root, r.File)
	}
	if len(r.Paths) > 0 {
		ps := make([]string, len(r.Paths))
		for i, p := range r.Paths {
			ps[i] = relSlashPath(w.root, p)
		}
		out["paths"] = ps
	}
	if r.Err != nil {
		var dl diag.List
		if errors.As(r.Err, &dl) {
			msgs := make([]string, len(dl))
			for i, d := range dl {
				msgs[i] = d.String()
			}
			out["errors"] = msgs
		} else {
			out["errors"] = []string{r.Err.Error()}
		}
	}
	if o := r.Outcome; o != nil {
		out["run_dir"] = o.RunDir
		if !r.Trigger.IsZero() {
			out["debounce_end"] = r.Trigger.UTC().Format(time.RFC3339Nano)
			if !r.RunStart.IsZero() {
				out["start_latency_ms"] = float64(r.RunStart.Sub(r.Trigger).Microseconds()) / 1000
			}
		}
		out["superseded"] = r.Superseded
		if res := o.Result; res != nil {
			cached := 0
			for _, s := range res.Steps {
				if s.Cache == "hit" {
					cached++
				}
			}
			out["run_id"], out["status"], out["duration_ms"] = res.RunID, res.Status, res.DurationMs
			out["steps"], out["cached"], out["rows"] = len(res.Steps), cached, res.RowsTotal
			if res.FailedStep != "" {
				out["failed_step"], out["error"] = res.FailedStep, res.Error
			}
		} else {
			out["status"] = exec.StatusFailed
			if o.Err != nil {
				out["error"] = o.Err.Error()
			}
		}
	}
	b, err := json.Marshal(out)
	if err == nil {
		_, err = fmt.Fprintln(w.a.stdout, w.a.termJSON([]byte(w.mask(string(b)))))
	}
	if err != nil {
		w.a.printErr(err)
	}
}

func relSlashPath(root, p string) string {
	if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(p)
}
