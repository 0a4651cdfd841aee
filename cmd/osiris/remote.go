package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	_ "github.com/osiris-go/osiris/pkg/remote/sandbox/docker" // the sandbox kinds
	_ "github.com/osiris-go/osiris/pkg/remote/sandbox/local"
	_ "github.com/osiris-go/osiris/pkg/remote/sandbox/ssh"
	"github.com/osiris-go/osiris/pkg/runlog"
	"github.com/osiris-go/osiris/workspace"
)

// splitRemoteFlag takes `--remote [NAME]` out of args: the name is
// optional, so the flag package cannot parse it. A following argument is
// the name unless it is a flag or looks like a pipeline or manifest path.
func splitRemoteFlag(args []string) (rest []string, name string, set bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(rest, args[i:]...), name, set
		case a == "--remote" || a == "-remote":
			set = true
			if i+1 < len(args) && isRemoteName(args[i+1]) {
				name = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--remote=") || strings.HasPrefix(a, "-remote="):
			set = true
			_, name, _ = strings.Cut(a, "=")
		default:
			rest = append(rest, a)
		}
	}
	return rest, name, set
}

func isRemoteName(s string) bool {
	if s == "" || strings.HasPrefix(s, "-") || strings.ContainsAny(s, `/\.`) {
		return false
	}
	// A manifest directory given by a bare name is a path; any other word
	// is a sandbox name, even when a folder of that name exists (dock/).
	if _, err := os.Stat(filepath.Join(s, compile.ManifestFile)); err == nil {
		return false
	}
	return true
}

// openSandbox resolves [remote.NAME] and builds its sandbox. Its errors are
// configuration errors.
func openSandbox(ws *workspace.Workspace, name string) (*workspace.RemoteConfig, sandbox.Sandbox, error) {
	rc, err := ws.ResolveRemote(name)
	if err != nil {
		return nil, nil, &diag.UsageError{Err: err}
	}
	sb, err := sandbox.Open(rc, sandbox.Env{Root: ws.Root, StateDir: filepath.Join(ws.Root, ws.Config.Paths.State)})
	if err != nil {
		return nil, nil, &diag.UsageError{Err: err}
	}
	return rc, sb, nil
}

// executeRemote runs m in a sandbox; the run is recorded locally exactly as
// a local run is (plus the sandbox_* and sync_* events).
func (a *app) executeRemote(ws *workspace.Workspace, m *compile.Manifest, manifestDir string, timeout time.Duration, name string, pre *remote.Prestarted) error {
	// As a local run: SIGINT, SIGTERM and SIGHUP cancel (the worker gets
	// `cancel`, then the sandbox stops); a second signal exits at once.
	sigs := watchSignals(a.stderr)
	defer sigs.stop()
	ctx := sigs.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	progress := newProgress(a)
	res, relDir, runErr := a.runRemote(ctx, ws, m, manifestDir, name, progress, progress.transfer, remoteInterrupts{sigs}, pre)
	progress.done()
	if relDir == "" {
		return runErr // refused before a run directory existed
	}
	return a.runOutcome(res, runErr, relDir, ctx)
}

// runRemote runs m in the sandbox name and writes the run's pages: the one
// code path of `run --remote` and the MCP run tool. relDir is "" when the
// run was refused before its directory existed.
func (a *app) runRemote(ctx context.Context, ws *workspace.Workspace, m *compile.Manifest, manifestDir, name string, sink exec.EventSink, transfer func(remote.Transfer), intr remote.Interrupts, pre *remote.Prestarted) (*exec.Result, string, error) {
	opts, err := engineOptions(ws)
	if err != nil {
		return nil, "", err
	}
	if err := forgetLocalWrites(ws); err != nil {
		return nil, "", err
	}
	live := runlog.ForWorkspace(ws).StartLiveReport("") // its run directory is found from the events
	res, relDir, runErr := remote.Execute(ctx, remote.ExecuteOptions{
		Workspace:   ws,
		Manifest:    m,
		ManifestDir: manifestDir,
		Remote:      name,
		Engine:      opts,
		Version:     version,
		Progress:    exec.MultiSink{sink, live},
		Transfer:    transfer,
		Interrupts:  intr,
		Prestarted:  pre,
	})
	live.Close()
	if relDir != "" {
		a.writeRunPages(ws, filepath.Join(ws.Root, filepath.FromSlash(relDir)))
	}
	return res, relDir, runErr
}

// remoteInterrupts lets a second signal stop a remote run at once: the
// sandbox is killed and the run recorded before the process exits.
type remoteInterrupts struct{ s *runSignals }

func (r remoteInterrupts) Recording(abandon func(os.Signal)) { r.s.recording(abandon) }
func (r remoteInterrupts) Finish(f func())                   { r.s.finish(f) }

func (a *app) cmdRemote(args []string) error {
	const synopsis = "remote list | remote doctor [NAME] | remote gc [NAME]"
	fs := flag.NewFlagSet("remote", flag.ContinueOnError)
	all, err := a.parseFlags(fs, args, synopsis)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return diag.Usage("usage: osiris %s", synopsis)
	}
	sub, pos := all[0], all[1:]
	ws, err := a.workspace()
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if len(pos) > 0 {
			return diag.Usage("remote list takes no arguments")
		}
		return a.remoteList(ws)
	case "doctor":
		if len(pos) > 1 {
			return diag.Usage("remote doctor takes at most one sandbox name")
		}
		name := ""
		if len(pos) == 1 {
			name = pos[0]
		}
		return a.remoteDoctor(ws, name)
	case "gc":
		if len(pos) > 1 {
			return diag.Usage("remote gc takes at most one sandbox name")
		}
		name := ""
		if len(pos) == 1 {
			name = pos[0]
		}
		return a.remoteGC(ws, name)
	}
	return diag.Usage("unknown remote subcommand %q; usage: osiris %s", sub, synopsis)
}

func (a *app) remoteList(ws *workspace.Workspace) error {
	names := make([]string, 0, len(ws.Config.Remote))
	for n := range ws.Config.Remote {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		names = []string{"local"} // the implicit one --remote uses
	}
	type row struct {
		Name      string `json:"name"`
		Kind      string `json:"kind"`
		Default   bool   `json:"default"`
		Isolation string `json:"isolation,omitempty"`
		Where     string `json:"where,omitempty"`
		Error     string `json:"error,omitempty"`
	}
	var rows []row
	def, _ := ws.ResolveRemote("")
	for _, n := range names {
		r := row{Name: n, Default: def != nil && def.Name == n}
		rc, sb, err := openSandbox(ws, n)
		if err != nil {
			r.Error = err.Error()
			if c := ws.Config.Remote[n]; c != nil {
				r.Kind = c.Kind
			}
		} else {
			d := sb.Describe()
			r.Kind, r.Isolation, r.Where = rc.Kind, d.Isolation, d.Where
		}
		rows = append(rows, r)
	}
	if a.json {
		return a.printJSON(rows)
	}
	for _, r := range rows {
		mark := " "
		if r.Default {
			mark = "*"
		}
		if r.Error != "" {
			a.outf("%s %-16s %-8s error: %s\n", mark, r.Name, r.Kind, r.Error)
			continue
		}
		a.outf("%s %-16s %-8s %-18s %s\n", mark, r.Name, r.Kind, r.Isolation, r.Where)
	}
	return nil
}

func (a *app) remoteDoctor(ws *workspace.Workspace, name string) error {
	rc, sb, err := openSandbox(ws, name)
	if err != nil {
		return err
	}
	bin, sum, err := remote.SandboxBinary(ws, rc, "")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := remote.Doctor(ctx, sb, bin, sum, version, remote.ReachChecks(ws), ws.Masker)
	if err != nil {
		return namingRemote(rc.Name, err)
	}
	unreachable := 0
	for _, r := range rep.Status.Reach {
		if !r.OK && r.Addr != "" { // no address: not resolvable here, not checked
			unreachable++
		}
	}
	if a.json {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		d := rep.Sandbox
		a.outf("sandbox   %s (%s, %s) %s\n", d.Name, d.Kind, d.Isolation, d.Where)
		a.outf("worker    osiris %s, protocol %d, %s/%s, started and answered in %s\n", rep.Worker.OsirisVersion, rep.Worker.Protocol, rep.Worker.OS, rep.Worker.Arch, fmtMS(rep.StartMs))
		a.outf("client    osiris %s, protocol %d\n", version, rep.Protocol)
		maxStore, keepRuns := rc.StoreBounds()
		a.outf("store     %s in %d blobs (max_store %s, keep_runs %d, %d run(s) kept), %s free\n", fmtBytes(rep.Status.CASBytes), rep.Status.CASBlobs,
			fmtBytes(maxStore), keepRuns, rep.Status.KeptRuns, fmtBytes(rep.Status.FreeBytes))
		a.outf("disk      runs %s, partial uploads %s, binaries %s\n", fmtBytes(rep.Status.RunsBytes), fmtBytes(rep.Status.TmpBytes), fmtBytes(rep.Status.BinBytes))
		if len(rep.Status.Reach) == 0 {
			a.outf("reach     (the workspace defines no network connections)\n")
		}
		for _, r := range rep.Status.Reach {
			switch {
			case r.OK:
				a.outf("reach     ✓ %-24s %s\n", r.Name, r.Addr)
			case r.Addr == "":
				a.outf("reach     - %-24s not checked: %s\n", r.Name, r.Error)
			default:
				a.outf("reach     ✗ %-24s %s %s\n", r.Name, r.Addr, r.Error)
			}
		}
	}
	if unreachable > 0 {
		return &exitError{code: exitRunFailed, err: errors.New(fmt.Sprintf("%d connection(s) not reachable from sandbox %s", unreachable, rc.Name))}
	}
	return nil
}

// remoteGC bounds a sandbox now: dead workers' leftovers, then
// unreferenced blobs least recently used first down to max_store.
func (a *app) remoteGC(ws *workspace.Workspace, name string) error {
	rc, sb, err := openSandbox(ws, name)
	if err != nil {
		return err
	}
	bin, sum, err := remote.SandboxBinary(ws, rc, "")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	maxStore, keepRuns := rc.StoreBounds()
	res, err := remote.GC(ctx, sb, bin, sum, version, remote.GCRequest{MaxStore: maxStore, KeepRuns: keepRuns}, ws.Masker)
	if err != nil {
		return namingRemote(rc.Name, err)
	}
	if a.json {
		return a.printJSON(res)
	}
	a.outf("removed   %d blob(s), %s; %d dead worker tree(s); %d old binary(ies)\n", res.BlobsRemoved, fmtBytes(res.BytesFreed), res.RunsRemoved, res.BinsRemoved)
	a.outf("store     %s in %d blobs (max_store %s, keep_runs %d)\n", fmtBytes(res.StoreBytes), res.StoreBlobs, fmtBytes(maxStore), keepRuns)
	if res.OverBound {
		a.outf("note      the blobs of the last %d run(s) alone exceed max_store; lower keep_runs or raise max_store\n", keepRuns)
	}
	return nil
}

// namingRemote prefixes err with the sandbox's name unless it names it.
func namingRemote(name string, err error) error {
	if strings.Contains(err.Error(), fmt.Sprintf("remote %q", name)) {
		return err
	}
	return fmt.Errorf("remote %q: %w", name, err)
}
