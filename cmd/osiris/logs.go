package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/osiris-go/osiris/internal/termsafe"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/runlog"
	"github.com/osiris-go/osiris/workspace"
)

// logsSubcommands are listed by `osiris help logs` after the flags.
const logsSubcommands = `
Subcommands:
  list    list runs, newest first (--kind compile|all: compiles too)
  show    a run's header, steps and error (--events: its events, --follow: live)
  diff    what changed between two runs of a pipeline
  html    (re)write run_logs/index.html and every run's report.html
  serve   serve run_logs/ on 127.0.0.1, pages that reload while a run goes
  gc      remove old runs per osiris.toml [retention]

RUN is a run id, a unique prefix of one, last, or last:PIPELINE.
Each subcommand has its own --help.
`

const logsSynopsis = "logs list|show|diff|html|serve|gc [RUN] [flags]"

var logsSubcommandNames = []string{"list", "show", "diff", "html", "serve", "gc"}

func (a *app) cmdLogs(args []string) error {
	if len(args) == 0 {
		a.writeCommandHelp(a.stderr, "logs", logsSynopsis, nil)
		fmt.Fprint(a.stderr, logsSubcommands)
		return &exitError{code: exitUsage}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list", "ls":
		return a.logsList(rest)
	case "show":
		return a.logsShow(rest)
	case "diff":
		return a.logsDiff(rest)
	case "html":
		return a.logsHTML(rest)
	case "serve":
		return a.logsServe(rest)
	case "gc":
		return a.logsGC(rest)
	case "-h", "--help", "help":
		a.writeCommandHelp(a.stdout, "logs", logsSynopsis, nil)
		fmt.Fprint(a.stdout, logsSubcommands)
		return nil
	}
	if sg := diag.Suggest(sub, logsSubcommandNames); sg != "" {
		return diag.Usage("unknown logs subcommand %q (did you mean `osiris logs %s`?); use list, show, diff, html, serve or gc", sub, sg)
	}
	return diag.Usage("unknown logs subcommand %q (use list, show, diff, html, serve or gc)", sub)
}

// logsStore loads the workspace and returns its run store, and the
// profile given with --profile ("" when none was: logs then show every
// profile's runs).
func (a *app) logsStore() (*runlog.Store, string, error) {
	profile := a.profile // before the workspace fills in its default
	if a.ws != nil {
		profile = ""
	}
	ws, err := a.workspace()
	if err != nil {
		return nil, "", err
	}
	return runlog.ForWorkspace(ws), profile, nil
}

func (a *app) notice(n runlog.Notice) {
	if n != "" {
		fmt.Fprintln(a.stderr, "osiris: "+a.term(string(n)))
	}
}

// table is a tabwriter on stdout whose cells are made terminal-safe
// before they are measured.
func (a *app) table() (io.Writer, func() error) {
	tw := tabwriter.NewWriter(a.stdout, 0, 2, 2, ' ', 0)
	return termsafe.Writer(maskWriter{a, tw}), tw.Flush
}

type maskWriter struct {
	a *app
	w io.Writer
}

func (m maskWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(m.w, m.a.mask(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (a *app) logsList(args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	pipeline := fs.String("pipeline", "", "only runs of this pipeline (file, or its name without .yaml)")
	status := fs.String("status", "", "only these statuses (comma-separated: success, failed, cancelled, running, killed)")
	since := fs.String("since", "", "only runs started within this time back (90m, 36h, 2d, 1w) or since a date")
	limit := fs.Int("limit", 0, "at most N runs (0 = all)")
	kind := fs.String("kind", "run", "runs (run), compiles (compile) or both (all)")
	pos, err := a.parseFlags(fs, args, "logs list [--pipeline P] [--status S] [--since 2d] [--limit N] [--kind run|compile|all] [--json]")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return diag.Usage("logs list takes no arguments (use --pipeline to filter)")
	}
	st, profile, err := a.logsStore()
	if err != nil {
		return err
	}
	f := runlog.Filter{Pipeline: *pipeline, Limit: *limit, Kind: *kind, Profile: profile}
	if *status != "" {
		f.Status = strings.Split(*status, ",")
	}
	if f.Since, err = runlog.ParseSince(*since, st.Now0()); err != nil {
		return err
	}
	runs, notice, err := st.List(f)
	a.notice(notice)
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(runs)
	}
	if len(runs) == 0 {
		a.outf("no runs recorded%s\n", map[bool]string{true: " that match", false: ""}[*pipeline != "" || *status != "" || *since != "" || *kind != "run" || profile != ""])
		return nil
	}
	tw, flush := a.table()
	fmt.Fprintln(tw, "RUN\tKIND\tPIPELINE\tPROFILE\tSTATUS\tSTARTED (UTC)\tDURATION\tROWS\tWHERE\tRUN DIR")
	for _, r := range runs {
		started := displayStart(r.Started)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Short(), r.Kind, r.Slug, r.Profile, r.Status,
			started, runlog.FmtDuration(r.DurationMs), r.Rows, r.Where, r.RunDir)
	}
	return flush()
}

func (a *app) logsShow(args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	events := fs.Bool("events", false, "print the run's events instead of its summary")
	step := fs.String("step", "", "with --events: only this step's events")
	follow := fs.Bool("follow", false, "with --events: keep printing events while the run goes on")
	kind := fs.String("kind", "", "with `last`: the newest run (run) or compile (compile)")
	pos, err := a.parseFlags(fs, args, "logs show [RUN | last | last:PIPELINE] [--events [--step S] [--follow]] [--json]")
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return diag.Usage("logs show takes one run (an id, a prefix of one, last or last:PIPELINE)")
	}
	if (*step != "" || *follow) && !*events {
		return diag.Usage("--step and --follow go with --events")
	}
	st, profile, err := a.logsStore()
	if err != nil {
		return err
	}
	sel := ""
	if len(pos) == 1 {
		sel = pos[0]
	}
	run, notice, err := st.Select(sel, *kind, profile)
	a.notice(notice)
	if err != nil {
		return err
	}
	if *events {
		return a.logsEvents(st, run, *step, *follow)
	}
	d, err := st.Show(run)
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(d)
	}
	a.printDetail(d)
	return nil
}

// checkStep: --step names a step of the run (a typo would print nothing).
func checkStep(st *runlog.Store, run runlog.Run, step string) error {
	if step == "" {
		return nil
	}
	d, err := st.Show(run)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(d.Steps))
	for _, s := range d.Steps {
		if s.ID == step {
			return nil
		}
		ids = append(ids, s.ID)
	}
	hint := ""
	if sg := diag.Suggest(step, ids); sg != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", sg)
	}
	return diag.Usage("--step %q: run %s has no such step%s; its steps: %s", step, run.Short(), hint, strings.Join(ids, ", "))
}

func (a *app) logsEvents(st *runlog.Store, run runlog.Run, step string, follow bool) error {
	if err := checkStep(st, run, step); err != nil {
		return err
	}
	print := func(e exec.Event) error {
		if a.json {
			b, err := e.MarshalJSON()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, a.termJSON(b))
			return err
		}
		_, err := fmt.Fprintln(a.stdout, a.term(runlog.FormatEvent(e)))
		return err
	}
	if follow {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := st.Follow(ctx, run, step, print, func(w string) { a.notice(runlog.Notice(w)) })
		if errors.Is(err, runlog.ErrRunKilled) {
			// The closing line a terminal event would have given.
			a.outf("run %s killed: %s\n", run.Short(), runlog.ErrRunKilled)
			return &exitError{code: exitRunFailed}
		}
		return err
	}
	evs, notice, err := st.Events(run, step)
	a.notice(notice)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if err := print(e); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) printDetail(d runlog.Detail) {
	a.outf("%s %s  %s  %s\n", d.Kind, d.RunID, d.Pipeline, strings.ToUpper(d.Status))
	where := d.Where
	if d.Host != "" {
		where += fmt.Sprintf(" (host %s, pid %d)", d.Host, d.PID)
	}
	short := strings.TrimPrefix(d.ManifestHash, "sha256:")
	if len(short) > 12 {
		short = short[:12]
	}
	a.outf("  profile %s · manifest %s · %s\n", d.Profile, orDash(short), where)
	a.outf("  started %s UTC · duration %s · rows %d\n", displayStart(d.Started), runlog.FmtDuration(d.DurationMs), d.Rows)
	a.outf("  run dir %s\n", d.RunDir)
	if d.ManifestDir != "" {
		a.outf("  manifest dir %s\n", d.ManifestDir)
	}
	for _, p := range d.Problems {
		a.outf("  damaged record: %s\n", p)
	}
	if len(d.Steps) > 0 {
		a.outf("\n")
		tw, flush := a.table()
		fmt.Fprintln(tw, "STEP\tCOMPONENT\tSTATUS\tROWS IN\tROWS OUT\tDURATION\tCACHE\tARTIFACT")
		for _, s := range d.Steps {
			art := "-"
			if s.Artifact != nil {
				art = runlog.FmtBytes(s.Artifact.Bytes)
			}
			dur := runlog.FmtDuration(s.DurationMs)
			if s.Status == exec.StatusRunning {
				dur += " so far"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", s.ID, s.Component, s.Status, s.RowsIn, s.RowsOut,
				dur, orDash(s.Cache), art)
		}
		flush()
	}
	for _, dg := range d.Diagnostics {
		a.outf("  %s\n", dg.String())
	}
	if d.Error != "" {
		a.outf("\nerror")
		if d.FailedStep != "" {
			a.outf(" in step %s", d.FailedStep)
		}
		a.outf(": %s\n", d.Error)
	}
	if len(d.LogTail) > 0 {
		a.outf("\nlast lines of osiris.log for step %s:\n", d.FailedStep)
		for _, l := range d.LogTail {
			a.outf("  %s\n", l)
		}
	}
}

// writeRunPages writes the run's report.html and refreshes
// run_logs/index.html at the end of a run, cancelled or failed ones too
// (the run's own context may be done: the pages get their own). A page
// that cannot be written is a warning; the run's outcome stands.
func (a *app) writeRunPages(ws *workspace.Workspace, runDir string) {
	if err := runlog.ForWorkspace(ws).WriteRunReport(context.Background(), runDir); err != nil {
		fmt.Fprintln(a.stderr, "osiris: warning: writing the run's report: "+a.term(err.Error()))
	}
}

func (a *app) logsDiff(args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	pos, err := a.parseFlags(fs, args, "logs diff [RUN_A] [RUN_B] [--json]")
	if err != nil {
		return err
	}
	if len(pos) > 2 {
		return diag.Usage("logs diff takes at most two runs (none: the last run against the one before it)")
	}
	st, profile, err := a.logsStore()
	if err != nil {
		return err
	}
	var ra, rb runlog.Run
	var notice runlog.Notice
	switch len(pos) {
	case 2:
		if ra, notice, err = st.Select(pos[0], "", profile); err == nil {
			rb, _, err = st.Select(pos[1], "", profile)
		}
	default:
		sel := "last"
		if len(pos) == 1 {
			sel = pos[0]
		}
		if rb, notice, err = st.Select(sel, "", profile); err == nil && rb.Kind == exec.RecordKindCompile {
			err = diag.Usage("logs diff compares runs; %s is a compile", rb.RunID)
		}
		if err == nil {
			var ok bool
			ra, ok, err = st.Previous(rb)
			if err == nil && !ok {
				err = diag.Usage("run %s is the first run of %s; there is nothing to compare it with", rb.Short(), rb.Slug)
			}
		}
	}
	a.notice(notice)
	if err != nil {
		return err
	}
	d, err := st.DiffRuns(ra, rb)
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(d)
	}
	a.outf("%s %s (%s, %d rows) → %s (%s, %d rows): rows %+d", ra.Slug, ra.Short(), ra.Status, ra.Rows, rb.Short(), rb.Status, rb.Rows, d.RowsDelta)
	if d.ManifestChanged {
		a.outf(", manifest changed")
	}
	a.outf("\n")
	for _, sd := range d.Steps {
		a.outf("  %-24s %s\n", sd.Step, sd.Summary())
	}
	a.outf("%d step(s) changed, %d unchanged\n", len(d.Steps), d.Unchanged)
	return nil
}

func (a *app) logsHTML(args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	open := fs.Bool("open", false, "open run_logs/index.html with the desktop's opener (xdg-open, open)")
	pos, err := a.parseFlags(fs, args, "logs html [--open]")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return diag.Usage("logs html takes no arguments")
	}
	st, _, err := a.logsStore()
	if err != nil {
		return err
	}
	n, problems, notice, err := st.WriteSite(context.Background())
	a.notice(notice)
	for _, p := range problems {
		fmt.Fprintln(a.stderr, "osiris: warning: no report for "+a.term(p))
	}
	if err != nil {
		return err
	}
	index := st.IndexHTMLPath()
	rel := index
	if r, err := filepath.Rel(st.Root, index); err == nil {
		rel = r
	}
	if a.json {
		if err := a.printJSON(map[string]any{"reports": n, "index": filepath.ToSlash(rel), "problems": append([]string{}, problems...)}); err != nil {
			return err
		}
	} else {
		a.outf("wrote %d run reports and %s\n", n, rel)
		if len(problems) > 0 {
			a.outf("%d run(s) could not be shown (damaged; see the warnings above)\n", len(problems))
		}
	}
	if *open {
		opener := ""
		for _, c := range []string{"xdg-open", "open"} {
			if p, err := osexec.LookPath(c); err == nil {
				opener = p
				break
			}
		}
		if opener == "" {
			a.outf("no desktop opener (xdg-open, open) found; open file://%s in a browser\n", index)
			return nil
		}
		if err := osexec.Command(opener, index).Start(); err != nil {
			return fmt.Errorf("opening %s: %w", rel, err)
		}
	}
	return nil
}

func (a *app) logsGC(args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "print what would be removed, remove nothing")
	pos, err := a.parseFlags(fs, args, "logs gc [--dry-run]")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return diag.Usage("logs gc takes no arguments; it applies osiris.toml [retention]")
	}
	ws, err := a.workspace()
	if err != nil {
		return err
	}
	st := runlog.ForWorkspace(ws)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ret := runlog.Retention{Days: ws.Config.Retention.RunLogsDays, KeepPerPipeline: ws.Config.Retention.KeepRunsPerPipeline}
	res, notice, err := st.GC(ctx, runlog.GCOptions{Retention: ret, DryRun: *dry})
	a.notice(notice)
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(res)
	}
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	for _, r := range res.Removed {
		a.outf("%s %s %s %s (%s)\n", verb, r.Short(), r.Slug, displayStart(r.Started), r.RunDir)
	}
	a.outf("%s %d runs (%s), kept %d (retention: older than %d days beyond the newest %d per pipeline)\n",
		verb, len(res.Removed), runlog.FmtBytes(res.Bytes), res.Kept, ret.Days, ret.KeepPerPipeline)
	if res.Leftovers > 0 {
		a.outf("finished an interrupted gc: %d run directories it had set aside\n", res.Leftovers)
	}
	if res.CacheEntries > 0 {
		a.outf("step cache: %d entries pruned (%s)\n", res.CacheEntries, runlog.FmtBytes(res.CacheBytes))
	}
	return nil
}

func displayStart(ts string) string {
	s := strings.Replace(strings.TrimSuffix(ts, "Z"), "T", " ", 1)
	if i := strings.LastIndexByte(s, '.'); i > 0 {
		s = s[:i]
	}
	return s
}

func (a *app) logsServe(args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	port := fs.Int("port", 8765, "port on 127.0.0.1 (0: any free port)")
	pos, err := a.parseFlags(fs, args, "logs serve [--port N]")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return diag.Usage("logs serve takes no arguments")
	}
	if *port < 0 || *port > 65535 {
		return diag.Usage("--port %d: use a port between 1 and 65535, or 0 for any free one", *port)
	}
	st, _, err := a.logsStore()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = st.Serve(ctx, fmt.Sprintf("127.0.0.1:%d", *port), func(url string) {
		a.outf("serving %s on %s (loopback only; Ctrl-C to stop)\n", relPath(st.Root, st.RunLogsDir), url)
	})
	if err != nil {
		return fmt.Errorf("logs serve: %w", err)
	}
	return nil
}

func relPath(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return filepath.ToSlash(r)
	}
	return p
}
