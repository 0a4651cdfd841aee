package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
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
	retry := fs.Duration("retry", 0, "rerun a pipeline whose run failed after `D`, again after each failure, until it succeeds or a change reruns it; default [watch] retry (never)")
	noCache := fs.Bool("no-cache", false, "execute every step of every run; do not reuse step outputs")
	cacheExtracts := fs.Bool("cache-extracts", false, "reuse database extractors' outputs until their own config changes")
	reuseWrites := fs.Bool("reuse-writes", false, "skip a writer (not append) whose target still holds what this workspace last wrote there with the same key")
	fs.Bool("remote", false, "run every rerun in the sandbox `[NAME]` of [remote.NAME] (the step cache is local only: remote reruns execute every step)")
	args, remoteName, remote := splitRemoteFlag(args)
	pos, err := a.parseFlags(fs, args, "watch [PIPELINE…] [--poll D] [--debounce D] [--retry D] [--cache-extracts] [--reuse-writes] [--no-cache] [--param k=v] [--remote [NAME]]")
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
	if *retry < 0 {
		return diag.Usage("--retry %s: give a positive duration such as 30s", *retry)
	}
	if *retry == 0 {
		*retry = ws.Config.Watch.RetryInterval()
	}
	proj := &watchProject{a: a, ws: ws, params: params, lr: localRun{NoCache: *noCache, CacheExtracts: *cacheExtracts, ReuseWrites: *reuseWrites}}
	if remote && (*reuseWrites || *cacheExtracts) {
		return diag.Usage("--reuse-writes and --cache-extracts use the local step cache; remote reruns execute every step (drop the flag or --remote)")
	}
	if remote {
		if _, err := ws.ResolveRemote(remoteName); err != nil {
			return &diag.UsageError{Err: err}
		}
		proj.remote, proj.remoteName = true, remoteName
		a.remote = true // compile refuses what a sandbox cannot run
	}
	// As for run: relative paths in SQL are relative to the root.
	if err := os.Chdir(ws.Root); err != nil {
		return err
	}
	ctx, stop := watchStopSignals(a.stderr, proj)
	defer stop()
	pipelinesDir := filepath.Join(ws.Root, ws.Config.Paths.Pipelines)
	w := watch.New(proj, watch.Options{
		Root:         ws.Root,
		PipelinesDir: pipelinesDir,
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
		Retry:    *retry,
		Report:   (&watchPrinter{a: a, root: ws.Root, pipelines: pipelinesDir, retry: *retry, mask: proj.mask}).print,
	})
	if err := w.Run(ctx); err != nil {
		return err
	}
	if context.Cause(ctx) != nil {
		// Stopped by a signal, the runs in progress recorded as cancelled:
		// 130 like an interrupted run, whatever the last runs gave (each
		// printed its line; `osiris logs list` has them).
		return &exitError{code: exitInterrupted}
	}
	return nil
}

// watchStopSignals returns a context cancelled by the first SIGINT, SIGTERM
// or SIGHUP (a closed terminal or a dropped ssh session): the runs in
// progress are cancelled and recorded, then watch exits 130. A second
// Ctrl-C or SIGTERM stops at once, exit 130, after recording the runs still
// in progress as cancelled (a step that does not stop on cancel must not
// trap the user); a repeated SIGHUP is ignored (a closing terminal may send
// it more than once). SIGPIPE is ignored: with the terminal gone, a line
// printed must not kill watch before its runs are recorded.
func watchStopSignals(stderr io.Writer, p *watchProject) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	done := make(chan struct{})
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	signal.Ignore(syscall.SIGPIPE)
	go func() {
		select {
		case sig := <-ch:
			cancel(fmt.Errorf("received %s", sig))
			fmt.Fprintf(stderr, "osiris: %s: cancelling the runs in progress (Ctrl-C again stops at once)\n", sig)
		case <-done:
			return
		}
		for {
			select {
			case sig := <-ch:
				if sig == syscall.SIGHUP {
					continue
				}
				p.abandonRuns(sig)
				fmt.Fprintf(stderr, "osiris: %s again: stopped at once\n", sig)
				os.Exit(exitInterrupted)
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
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
	// running are the local runs in progress, for a second signal to
	// record them as stopped (see runSignals).
	running map[*runSignals]bool
}

// abandonRuns records every local run still in progress as stopped at once
// by sig, as a second signal does for `osiris run`.
func (p *watchProject) abandonRuns(sig os.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for rs := range p.running {
		rs.mu.Lock() // waits for a record being completed
		if rs.abandon != nil {
			rs.abandon(sig)
			rs.abandon = nil
		}
		rs.mu.Unlock()
	}
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

// UsedConfig encodes what t uses of the workspace configuration beside its
// manifest: each connection its steps name, resolved (secrets included; the
// watcher keeps only a keyed hash of this, in memory), the [run] settings
// and, for watch --remote, the sandboxes.
func (p *watchProject) UsedConfig(t *watch.Target) []byte {
	ws := p.workspace()
	used := map[string]any{"run": ws.Config.Run}
	if p.remote {
		used["remote"] = ws.Config.Remote
	}
	if t.Manifest != nil {
		for _, s := range t.Manifest.Steps {
			if _, done := used[s.Connection]; s.Connection == "" || done {
				continue
			}
			conn, err := ws.ResolveConnection(s.Connection, "")
			if err != nil {
				used[s.Connection] = "error: " + err.Error()
				continue
			}
			vals := make(map[string]string, len(conn.Values))
			for k, v := range conn.Values {
				vals[k] = fmt.Sprint(v)
			}
			used[s.Connection] = vals
		}
	}
	b, err := json.Marshal(used)
	if err != nil {
		return []byte(err.Error())
	}
	return b
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
		if err := forgetLocalWrites(ws); err != nil {
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
	// Only the record of this run: the signals themselves are watch's.
	lr.Signals = &runSignals{}
	p.mu.Lock()
	if p.running == nil {
		p.running = map[*runSignals]bool{}
	}
	p.running[lr.Signals] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.running, lr.Signals)
		p.mu.Unlock()
	}()
	res, relDir, err := p.a.runLocal(ctx, p.workspace(), t.Manifest, t.ManifestDir, lr)
	return watch.Outcome{Result: res, RunDir: relDir, Err: err}
}

// watchPrinter prints one line per run (spec 05), or one JSON object per
// report under --json.
type watchPrinter struct {
	a         *app
	root      string
	pipelines string        // the pipelines folder, absolute
	retry     time.Duration // --retry
	mask      func(string) string
}

// name is a pipeline's path under the pipelines folder without its
// extension ("sub/x" and "x" stay apart), or its workspace-relative path.
func (w *watchPrinter) name(file string) string {
	rel := relSlashPath(w.pipelines, file)
	if strings.HasPrefix(rel, "/") {
		rel = relSlashPath(w.root, file)
	}
	return strings.TrimSuffix(rel, filepath.Ext(rel))
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
		a.outf("%s - %s  removed; watched again if it comes back\n", ts, w.name(r.File))
	case watch.ReportUnchanged:
		if a.verbose {
			a.outf("%s = %s  manifest and configuration unchanged; not rerun\n", ts, w.name(r.File))
		}
	case watch.ReportStarted:
		why := ""
		switch {
		case r.Retry > 0:
			why = fmt.Sprintf(" (retry %d after a failure)", r.Retry)
		case len(r.Paths) > 0:
			why = " (changed: " + w.pathList(r.Paths) + ")"
		}
		a.outf("%s ▶ %s  started%s\n", ts, w.name(r.File), why)
	case watch.ReportWarning:
		a.outf("%s ! %s  %s: %s\n", ts, w.name(r.File), r.Step, w.mask(shortWarning(w.root, r.Message)))
	case watch.ReportRun:
		w.printRun(ts, r)
	}
}

// pathList names up to three changed files, workspace-relative.
func (w *watchPrinter) pathList(paths []string) string {
	const most = 3
	out := make([]string, 0, most+1)
	for i, p := range paths {
		if i == most {
			out = append(out, fmt.Sprintf("%d more", len(paths)-most))
			break
		}
		out = append(out, relSlashPath(w.root, p))
	}
	return strings.Join(out, ", ")
}

// maxWarning bounds a warning on the terminal; the whole text is in the
// run's events.jsonl and report.
const maxWarning = 160

var longDigest = regexp.MustCompile(`(sha256:[0-9a-f]{12})[0-9a-f]{52}`)

// shortWarning makes a step warning fit one terminal line: its first line,
// paths relative to the workspace, digests cut to 12 hex digits, at most
// maxWarning characters — the middle goes, so that both what happened (the
// start) and why (the end) stay.
func shortWarning(root, msg string) string {
	msg = firstLine(msg)
	msg = strings.ReplaceAll(msg, root+string(filepath.Separator), "")
	msg = longDigest.ReplaceAllString(msg, "$1…")
	if r := []rune(msg); len(r) > maxWarning {
		head := maxWarning * 2 / 5
		msg = string(r[:head]) + "…" + string(r[len(r)-(maxWarning-head-1):])
	}
	return msg
}

func (w *watchPrinter) printRun(ts string, r watch.Report) {
	a, o, name := w.a, r.Outcome, w.name(r.File)
	res := o.Result
	switch {
	case res != nil && res.Status == exec.StatusSuccess && o.Err == nil:
		cached, skipped := cacheCounts(res)
		reused := fmt.Sprintf("%d cached", cached)
		if skipped > 0 {
			reused += fmt.Sprintf(", %d %s skipped", skipped, plural(skipped, "write", "writes"))
		}
		a.outf("%s ✓ %s  %d %s (%s)  %s  %s\n", ts, name, len(res.Steps), plural(len(res.Steps), "step", "steps"), reused, fmtMS(res.DurationMs), o.RunDir)
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
		msg = firstLine(msg) // the run directory and the report hold the rest
		if o.RunDir != "" {
			msg += "  " + o.RunDir
		}
		if w.retry > 0 {
			msg += fmt.Sprintf("  (retry in %s)", w.retry)
		}
		a.outf("%s ✗ %s  %s\n", ts, name, w.mask(msg))
	}
}

// cacheCounts counts the steps the step cache served: outputs reused
// (cached, skipped writers included) and writers skipped.
func cacheCounts(res *exec.Result) (cached, writesSkipped int) {
	for _, s := range res.Steps {
		if s.Cache == exec.CacheHit {
			cached++
			if s.Status == exec.StatusSkipped {
				writesSkipped++
			}
		}
	}
	return cached, writesSkipped
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
	if r.Retry > 0 {
		out["retry"] = r.Retry
	}
	if r.Kind == watch.ReportWarning {
		out["step"], out["message"] = r.Step, r.Message
	}
	if r.Kind == watch.ReportStarted && !r.Trigger.IsZero() {
		out["debounce_end"] = r.Trigger.UTC().Format(time.RFC3339Nano)
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
			cached, skipped := cacheCounts(res)
			out["run_id"], out["status"], out["duration_ms"] = res.RunID, res.Status, res.DurationMs
			out["steps"], out["cached"], out["rows"] = len(res.Steps), cached, res.RowsTotal
			out["writes_skipped"] = skipped
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
