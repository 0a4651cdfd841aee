package remote

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/workspace"
)

// Prestarted is a sandbox started ahead of its run, while the client
// compiles the pipeline: starting a container or an ssh session (and
// checking the binary there) costs more than compiling, so the two
// overlap. Execute takes it (ExecuteOptions.Prestarted) when the run goes
// to the same sandbox; Discard stops it when no run follows.
type Prestarted struct {
	name   string
	cancel context.CancelFunc
	stderr *switchWriter
	done   chan struct{} // closed when the start returned
	proc   sandbox.Process
	err    error

	mu    sync.Mutex
	taken bool
}

// Prestart starts the sandbox name ("" = the default) now. It never fails:
// a sandbox that cannot be resolved or started is reported by Execute, as
// without a prestart.
func Prestart(ws *workspace.Workspace, name, binary string) *Prestarted {
	rc, err := ws.ResolveRemote(name)
	if err != nil {
		return nil
	}
	sb, err := sandbox.Open(rc, sandbox.Env{Root: ws.Root, StateDir: filepath.Join(ws.Root, ws.Config.Paths.State)})
	if err != nil {
		return nil
	}
	bin, sum, err := SandboxBinary(ws, rc, binary)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Prestarted{name: rc.Name, cancel: cancel, stderr: &switchWriter{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.proc, p.err = sb.Start(ctx, sandbox.StartOptions{Binary: bin, BinarySHA256: sum, Stderr: p.stderr})
	}()
	return p
}

// take wraps sb so that its first Start returns the prestarted worker,
// when it is the same sandbox; false when it cannot be used.
func (p *Prestarted) take(sb sandbox.Sandbox) (sandbox.Sandbox, bool) {
	if p == nil || sb.Describe().Name != p.name {
		return sb, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.taken {
		return sb, false
	}
	p.taken = true
	return &prestartedSandbox{Sandbox: sb, p: p}, true
}

// Discard stops the prestarted worker unless a run took it.
func (p *Prestarted) Discard() {
	if p == nil {
		return
	}
	p.mu.Lock()
	taken := p.taken
	p.taken = true
	p.mu.Unlock()
	if taken {
		return
	}
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		return
	}
	if p.proc != nil {
		p.proc.Kill()
		waited := make(chan struct{})
		go func() { p.proc.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
		}
	}
}

type prestartedSandbox struct {
	sandbox.Sandbox
	p    *Prestarted
	once sync.Once
}

func (s *prestartedSandbox) Start(ctx context.Context, opts sandbox.StartOptions) (sandbox.Process, error) {
	first := false
	s.once.Do(func() { first = true })
	if !first {
		return s.Sandbox.Start(ctx, opts)
	}
	s.p.stderr.set(opts.Stderr)
	select {
	case <-s.p.done:
		return s.p.proc, s.p.err
	case <-ctx.Done():
		s.p.cancel()
		go func() {
			<-s.p.done
			if s.p.proc != nil {
				s.p.proc.Kill()
			}
		}()
		return nil, context.Cause(ctx)
	}
}

// switchWriter buffers what is written until set gives it a writer.
type switchWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer
}

func (s *switchWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		return s.w.Write(b)
	}
	if s.buf.Len() < 64<<10 {
		s.buf.Write(b)
	}
	return len(b), nil
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w == nil {
		w = io.Discard
	}
	w.Write(s.buf.Bytes())
	s.buf.Reset()
	s.w = w
}
