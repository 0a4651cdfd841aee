package spawn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Command is a local command that starts a worker (or a provisioning
// script) somewhere else.
type Command struct {
	Path string
	Args []string // without Path
	Env  []string // the local command's environment; nil = this process's
	Dir  string   // its working directory; "" = this process's
	// Group starts the command in a process group of its own, and Kill
	// kills the whole group (the local kind: bwrap and the worker in it).
	Group bool
	// Stderr receives the command's stderr besides the tail kept for errors.
	Stderr io.Writer
	// Kill, if set, runs before the local process is killed (docker rm -f:
	// killing the docker client does not stop its container).
	Kill func() error
	// Exited turns a non-zero exit with the stderr tail into an error that
	// names the cause; nil keeps the *exec.ExitError.
	Exited func(err *exec.ExitError, tail string) error
}

// Process is a started Command. Its stdin and stdout are plain pipes that
// Wait does not close, so a reader may call Wait in parallel with reading
// stdout to the end.
type Process struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *bufio.Reader // the start script's answers, then the worker's frames
	tail   *Tail
	kill   func() error
	exited func(*exec.ExitError, string) error

	killOnce sync.Once
	killErr  error
	provID   string // the binary identity the start script reported

	// mu orders Kill against the reaping of the process: reaped is set
	// while the exited process is still a zombie, so Kill never signals a
	// pid or process group that may have been reused.
	mu     sync.Mutex
	reaped bool
	group  bool
}

// Start starts c; cancelling ctx kills it (c.Kill first).
func Start(ctx context.Context, c Command) (*Process, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	p := &Process{stdin: inW, stdout: bufio.NewReaderSize(&eofCloser{f: outR}, 64<<10), tail: NewTail(4096), kill: c.Kill, exited: c.Exited}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	p.group = c.Group
	if c.Group {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	cmd.Stdin = inR
	cmd.Stdout = outW
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(p.tail, c.Stderr)
	} else {
		cmd.Stderr = p.tail
	}
	cmd.Cancel = func() error {
		p.runKill()
		return p.signal()
	}
	cmd.WaitDelay = 5 * time.Second
	p.cmd = cmd
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	return p, nil
}

func (p *Process) runKill() {
	p.killOnce.Do(func() {
		if p.kill != nil {
			p.killErr = p.kill()
		}
	})
}

// Stdin is the worker's stdin; closing it tells the worker no more frames come.
func (p *Process) Stdin() io.WriteCloser { return p.stdin }

// Stdout is the worker's stdout; it closes itself at EOF.
func (p *Process) Stdout() io.Reader { return p.stdout }

// Tail is the last few KB of the command's stderr.
func (p *Process) Tail() string { return p.tail.String() }

// Wait waits for the command to exit. A non-zero exit goes through
// Command.Exited.
func (p *Process) Wait() error {
	// Wait for the exit without reaping, mark it, then reap.
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, p.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	p.mu.Lock()
	if p.group {
		// What the leader left behind in its group goes with it.
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	p.reaped = true
	p.mu.Unlock()
	err := p.cmd.Wait()
	p.stdin.Close()
	var ee *exec.ExitError
	if errors.As(err, &ee) && p.exited != nil {
		return p.exited(ee, p.tail.String())
	}
	return err
}

// Kill stops the worker now: Command.Kill, then the local process.
func (p *Process) Kill() error {
	p.runKill()
	return errors.Join(p.killErr, p.signal())
}

// signal SIGKILLs the process (its group with Command.Group) unless it has
// exited already.
func (p *Process) signal() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return nil
	}
	if p.group {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	err := p.cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		err = nil
	}
	return err
}

// eofCloser closes the pipe's read end once it has been read to the end,
// so that no descriptor outlives a finished worker.
type eofCloser struct {
	f    *os.File
	once sync.Once
}

func (r *eofCloser) Read(b []byte) (int, error) {
	n, err := r.f.Read(b)
	if err != nil {
		r.once.Do(func() { r.f.Close() })
		if errors.Is(err, os.ErrClosed) {
			err = io.EOF
		}
	}
	return n, err
}

// Tail keeps the last n bytes written to it.
type Tail struct {
	mu  sync.Mutex
	n   int
	buf []byte
}

// NewTail returns a Tail of n bytes.
func NewTail(n int) *Tail { return &Tail{n: n} }

func (t *Tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.n; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

// String is the tail, trimmed.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// LastLine is the last non-empty line of s (for one-line error messages).
func LastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// ExitCode is the exit status of err (an *exec.ExitError), or -1.
func ExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// Quote quotes s for a POSIX shell (the remote login shell of ssh).
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteArgs quotes each word and joins them with spaces.
func QuoteArgs(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}
