package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/runlog"
)

// logsSubcommands are listed by `osiris help logs` after the flags.
const logsSubcommands = `
Subcommands:
  list    list runs and compiles, newest first
  show    a run's header, steps and error (--events: its events, --follow: live)
  diff    what changed between two runs of a pipeline
  html    (re)write run_logs/index.html and every run's report.html
  gc      remove old runs per osiris.toml [retention]

RUN is a run id, a unique prefix of one, last, or last:PIPELINE.
Each subcommand has its own --help.
`

const logsSynopsis = "logs list|show|diff|html|gc [RUN] [flags]"

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
	case "-h", "--help", "help":
		a.writeCommandHelp(a.stdout, "logs", logsSynopsis, nil)
		fmt.Fprint(a.stdout, logsSubcommands)
		return nil
	}
	return diag.Usage("unknown logs subcommand %q (use list, show, diff, html or gc)", sub)
}

// logsStore loads the workspace and returns its run store.
func (a *app) logsStore() (*runlog.Store, error) {
	ws, err := a.workspace()
	if err != nil {
		return nil, err
	}
	return runlog.ForWorkspace(ws), nil
}

func (a *app) notice(n runlog.Notice) {
	if n != "" {
		fmt.Fprintln(a.stderr, "osiris: "+string(n))
	}
}

func (a *app) logsList(args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	pipeline := fs.String("pipeline", "", "only runs of this pipeline (file, or its name without .yaml)")
	status := fs.String("status", "", "only these statuses (comma-separated: success, failed, cancelled, running, killed)")
	since := fs.String("since", "", "only runs started within this time back (90m, 36h, 2d, 1w) or since a date")
	limit := fs.Int("limit", 0, "at most N runs (0 = all)")
	kind := fs.String("kind", "", "only runs (run) or compiles (compile)")
	pos, err := a.parseFlags(fs, args, "logs list [--pipeline P] [--status S] [--since 2d] [--limit N] [--kind run|compile] [--json]")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return diag.Usage("logs list takes no arguments (use --pipeline to filter)")
	}
	st, err := a.logsStore()
	if err != nil {
		return err
	}
	f := runlog.Filter{Pipeline: *pipeline, Limit: *limit, Kind: *kind}
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
		a.outf("no runs recorded%s\n", map[bool]string{true: " that match", false: ""}[*pipeline != "" || *status != "" || *since != "" || *kind != ""])
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tKIND\tPIPELINE\tPROFILE\tSTATUS\tSTARTED\tDURATION\tROWS\tWHERE\tRUN DIR")
	for _, r := range runs {
		started := strings.Replace(strings.TrimSuffix(r.Started, "Z"), "T", " ", 1)
		if i := strings.LastIndexByte(started, '.'); i > 0 {
			started = started[:i]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Short(), r.Kind, r.Slug, r.Profile, r.Status,
			started, runlog.FmtDuration(r.DurationMs), r.Rows, r.Where, r.RunDir)
	}
	return tw.Flush()
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
	st, err := a.logsStore()
	if err != nil {
		return err
	}
	sel := ""
	if len(pos) == 1 {
		sel = pos[0]
	}
	run, notice, err := st.Select(sel, *kind)
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

func (a *app) logsEvents(st *runlog.Store, run runlog.Run, step string, follow bool) error {
	print := func(e exec.Event) error {
		if a.json {
			b, err := e.MarshalJSON()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, a.mask(string(b)))
			return err
		}
		_, err := fmt.Fprintln(a.stdout, a.mask(runlog.FormatEvent(e)))
		return err
	}
	if follow {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return st.Follow(ctx, run, step, print)
	}
	evs, err := st.Events(run, step)
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
	a.outf("  started %s · duration %s · rows %d\n", d.Started, runlog.FmtDuration(d.DurationMs), d.Rows)
	a.outf("  run dir %s\n", d.RunDir)
	if d.ManifestDir != "" {
		a.outf("  manifest dir %s\n", d.ManifestDir)
	}
	if len(d.Steps) > 0 {
		a.outf("\n")
		tw := tabwriter.NewWriter(a.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tCOMPONENT\tSTATUS\tROWS IN\tROWS OUT\tDURATION\tCACHE\tARTIFACT")
		for _, s := range d.Steps {
			art := "-"
			if s.Artifact != nil {
				art = runlog.FmtBytes(s.Artifact.Bytes)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", s.ID, s.Component, s.Status, s.RowsIn, s.RowsOut,
				runlog.FmtDuration(s.DurationMs), orDash(s.Cache), art)
		}
		tw.Flush()
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
