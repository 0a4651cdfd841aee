// Package mem is a sandbox kind for tests, as restic's mem backend is a
// backend for tests: the worker runs in this process (remote.Serve over
// in-memory pipes), so any package can run a manifest "remotely" without
// bubblewrap, Docker or sshd, and the race detector sees client and worker
// together. Its store lives in a directory the test chooses (t.TempDir()).
//
// It is not registered as a kind of osiris.toml: a user's sandbox is a
// separate process, which this one is not.
package mem

import (
	"context"
	"io"
	"sync"

	"github.com/osiris-go/osiris/pkg/remote"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
)

// Sandbox runs workers in this process with their store in Dir.
type Sandbox struct {
	Name string // for events; "mem" when empty
	Dir  string
	// Stderr receives the workers' logs; nil discards them.
	Stderr io.Writer

	mu      sync.Mutex
	started int
}

// New returns a sandbox whose store is dir.
func New(dir string) *Sandbox { return &Sandbox{Dir: dir} }

// Describe says it is the in-process kind.
func (s *Sandbox) Describe() sandbox.Description {
	name := s.Name
	if name == "" {
		name = "mem"
	}
	return sandbox.Description{Name: name, Kind: "mem", Isolation: "none (in process)", Where: s.Dir}
}

// Starts is how many workers were started.
func (s *Sandbox) Starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// Start serves the protocol in a goroutine; cancelling ctx ends it.
func (s *Sandbox) Start(ctx context.Context, _ sandbox.StartOptions) (sandbox.Process, error) {
	s.mu.Lock()
	s.started++
	s.mu.Unlock()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	wctx, cancel := context.WithCancel(ctx)
	p := &process{in: inW, out: outR, inR: inR, outW: outW, cancel: cancel, done: make(chan struct{})}
	stderr := s.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	go func() {
		p.err = remote.Serve(wctx, inR, outW, remote.WorkerOptions{Dir: s.Dir, Version: "mem", Stderr: stderr})
		outW.Close()
		inR.Close()
		close(p.done)
	}()
	return p, nil
}

type process struct {
	in     *io.PipeWriter
	out    *io.PipeReader
	inR    *io.PipeReader
	outW   *io.PipeWriter
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (p *process) Stdin() io.WriteCloser { return p.in }
func (p *process) Stdout() io.Reader     { return p.out }
func (p *process) Wait() error           { <-p.done; return p.err }

// Kill ends the worker as a killed process ends: its pipes close and its
// run is cancelled.
func (p *process) Kill() error {
	p.cancel()
	p.inR.CloseWithError(io.ErrClosedPipe)
	p.outW.CloseWithError(io.ErrClosedPipe)
	return nil
}
