package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote"
)

// cmdWorker is the sandbox side of a remote run: it speaks the framed
// protocol on stdin/stdout (nothing else ever goes to stdout) and logs to
// stderr. Users do not run it by hand; sandboxes start it.
func (a *app) cmdWorker(args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	stdio := fs.Bool("stdio", false, "speak the protocol on stdin/stdout (the only transport)")
	dir := fs.String("dir", ".", "the worker's `DIR`: its content-addressed store and run trees")
	if _, err := a.parseFlags(fs, args, "worker --stdio [--dir DIR]"); err != nil {
		return err
	}
	if !*stdio {
		return diag.Usage("osiris worker speaks only over stdin/stdout: pass --stdio (sandboxes start it; see `osiris run --remote`)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return remote.Serve(ctx, a.stdin, a.stdout, remote.WorkerOptions{
		Dir:     *dir,
		Version: version,
		Stderr:  a.stderr,
		OnRun:   func(o exec.Options) { setMemoryLimit(o.MemoryBudget) },
	})
}
