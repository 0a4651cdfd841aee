package remote

import (
	"context"
	"testing"

	"github.com/osiris-go/osiris/pkg/remote/sandbox"
)

// countingSandbox counts starts of the sandbox it wraps.
type countingSandbox struct {
	sandbox.Sandbox
	starts int
}

func (c *countingSandbox) Start(ctx context.Context, o sandbox.StartOptions) (sandbox.Process, error) {
	c.starts++
	return c.Sandbox.Start(ctx, o)
}

// A prestarted worker (started while the pipeline compiled) serves the
// run: the sandbox is not started a second time; one that no run takes
// is stopped by Discard.
func TestPrestartedWorkerServesTheRun(t *testing.T) {
	ws, m, plan := inprocWorkspace(t, nil)
	inner := &countingSandbox{Sandbox: pipeSandbox{dir: t.TempDir()}}
	pre := &Prestarted{name: inner.Describe().Name, cancel: func() {}, stderr: &switchWriter{}, done: make(chan struct{})}
	go func() {
		defer close(pre.done)
		pre.proc, pre.err = inner.Start(context.Background(), sandbox.StartOptions{Stderr: pre.stderr})
	}()
	sb, ok := pre.take(inner)
	if !ok {
		t.Fatal("the prestarted sandbox was not taken")
	}
	res, err := runWith(context.Background(), t, sb, ws, m, plan)
	if err != nil || res.Status != "success" {
		t.Fatalf("run: %v", err)
	}
	pre.Discard()
	if inner.starts != 1 {
		t.Errorf("the sandbox was started %d times, want once (the prestart)", inner.starts)
	}

	// Not taken: Discard stops it.
	other := &Prestarted{name: "other", cancel: func() {}, stderr: &switchWriter{}, done: make(chan struct{})}
	go func() {
		defer close(other.done)
		other.proc, other.err = pipeSandbox{dir: t.TempDir()}.Start(context.Background(), sandbox.StartOptions{})
	}()
	if _, ok := other.take(inner); ok {
		t.Error("a prestart of another sandbox was taken")
	}
	other.Discard()
	if err := other.proc.Wait(); err == nil {
		t.Log("discarded worker ended cleanly")
	}
}
