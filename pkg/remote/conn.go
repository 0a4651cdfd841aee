// The connection to a worker: starting it, the frame reader, requests and
// their answers, stopping it.

package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/osiris-go/osiris/pkg/remote/sandbox"
)

// startProcess starts the worker; the start itself is bounded by startCtx,
// the worker's life by procCtx.
func startProcess(startCtx, procCtx context.Context, sb sandbox.Sandbox, opts sandbox.StartOptions) (sandbox.Process, error) {
	type result struct {
		p   sandbox.Process
		err error
	}
	ch := make(chan result, 1)
	go func() {
		p, err := sb.Start(procCtx, opts)
		ch <- result{p, err}
	}()
	select {
	case r := <-ch:
		return r.p, r.err
	case <-startCtx.Done():
		go func() {
			if r := <-ch; r.p != nil {
				r.p.Kill()
			}
		}()
		return nil, fmt.Errorf("the sandbox did not start: %w", context.Cause(startCtx))
	}
}

// attach starts reading the worker's frames and waiting for its exit.
func (c *client) attach(proc sandbox.Process) {
	c.proc = proc
	c.enc = NewEncoder(proc.Stdin())
	c.frames = make(chan *Frame, 64)
	c.readDone = make(chan struct{})
	c.quit = make(chan struct{})
	c.waitCh = make(chan struct{})
	go func() {
		c.waitErr = proc.Wait()
		close(c.waitCh)
	}()
	go c.readLoop(proc.Stdout())
}

// detach ends the reader when the session is over (the worker stopped).
func (c *client) detach() { close(c.quit) }

// readLoop feeds c.frames until the stream ends or the session does
// (quit): it never outlives the run holding frames no one will read.
func (c *client) readLoop(r io.Reader) {
	dec := NewDecoder(r)
	for {
		f, err := dec.Decode()
		if err != nil {
			c.readErr = err
			close(c.readDone)
			close(c.frames)
			return
		}
		select {
		case c.frames <- f:
		case <-c.quit:
			c.readErr = errors.New("the session ended")
			close(c.readDone)
			// Unblock a worker still writing, so that it can exit.
			go io.Copy(io.Discard, r)
			return
		}
	}
}

// streamErr is why the frame stream ended, if it has.
func (c *client) streamErr() error {
	select {
	case <-c.readDone:
		return c.readErr
	default:
		return nil
	}
}

// deadErr explains why the frame stream ended.
func (c *client) deadErr(what string) error {
	// Give the process a moment to exit so its status can be reported.
	select {
	case <-c.waitCh:
	case <-time.After(2 * time.Second):
	}
	// The reader ends within moments of the process.
	select {
	case <-c.readDone:
	case <-time.After(500 * time.Millisecond):
	}
	var fe *FrameError
	cause := ""
	switch {
	case errors.As(c.streamErr(), &fe):
		cause = fe.Error()
	case isClosed(c.waitCh):
		cause = "the sandbox worker died (" + exitText(c.waitErr) + ")"
	default:
		cause = "the sandbox worker closed its stdout while still running"
	}
	return fmt.Errorf("%s: %s%s", what, cause, c.stderrTail())
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func (c *client) stderrTail() string {
	t := strings.TrimSpace(c.mask(c.stderr.String()))
	if t == "" {
		return ""
	}
	lines := strings.Split(t, "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\nlast lines of the worker's stderr:\n  " + strings.Join(lines, "\n  ")
}

func (c *client) send(typ string, body any) (uint64, error) {
	c.nextID++
	id := c.nextID
	if err := c.enc.Encode(NewFrame(typ, id, 0, body)); err != nil {
		return 0, c.deadErr("sending " + typ)
	}
	return id, nil
}

// next waits for a frame; a zero timeout waits as long as ctx.
func (c *client) next(ctx context.Context, timeout time.Duration, what string) (*Frame, error) {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return nil, c.deadErr(what)
			}
			if f.Type == TypeLog {
				c.logLine(f)
				continue
			}
			return f, nil
		case <-ctx.Done():
			return nil, interrupted(ctx, what)
		case <-tc:
			return nil, fmt.Errorf("%s: no answer from the sandbox worker within %s%s", what, timeout, c.stderrTail())
		}
	}
}

func (c *client) logLine(f *Frame) {
	if c.o.Log != nil && len(f.Payload) > 0 {
		c.o.Log(f.Payload)
	}
}

// expect waits for the answer to request id of type typ; an error frame
// becomes an error.
func (c *client) expect(ctx context.Context, id uint64, typ string, timeout time.Duration, what string, body any) (*Frame, error) {
	for {
		f, err := c.next(ctx, timeout, what)
		if err != nil {
			return nil, err
		}
		if f.Type == TypeError {
			var eb ErrorBody
			f.DecodeBody(&eb)
			return nil, fmt.Errorf("%s: the sandbox worker refused: %s", what, eb.Message)
		}
		if f.Re != id || f.Type != typ {
			return nil, &FrameError{Msg: fmt.Sprintf("%s: expected %s answering %d, got %s answering %d", what, typ, id, f.Type, f.Re)}
		}
		if body != nil {
			if err := f.DecodeBody(body); err != nil {
				return nil, err
			}
		}
		return f, nil
	}
}

// stop ends the worker: bye and a wait, or a kill. It returns the exit code
// (-1 when killed or unknown).
func (c *client) stop(kill bool) int {
	if !kill {
		if _, err := c.send(TypeBye, nil); err != nil {
			kill = true
		}
	}
	if !kill {
		c.proc.Stdin().Close()
		select {
		case <-c.waitCh:
		case <-time.After(10 * time.Second):
			kill = true
		}
	}
	if kill {
		c.proc.Kill()
		c.proc.Stdin().Close()
		select {
		case <-c.waitCh:
		case <-time.After(5 * time.Second):
		}
	}
	if !isClosed(c.waitCh) {
		return -1
	}
	if c.waitErr == nil {
		return 0
	}
	var ec interface{ ExitCode() int }
	if errors.As(c.waitErr, &ec) {
		return ec.ExitCode()
	}
	return -1
}

// tail keeps the last bytes written to it (the worker's stderr).
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
