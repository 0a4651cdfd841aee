package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer safe to read while a process writes it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WatchProc is a running `osiris watch`: its stdout as lines, its stderr,
// and its exit. The process is killed at the end of the test if it still
// runs.
type WatchProc struct {
	t      *testing.T
	Cmd    *exec.Cmd
	lines  chan string
	stderr SyncBuffer
	exited chan error
}

// StartWatch starts `osiris -C root watch args...` and returns at once.
func StartWatch(t *testing.T, w *Workspace, args ...string) *WatchProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	p := &WatchProc{t: t, lines: make(chan string, 100), exited: make(chan error, 1)}
	p.Cmd = w.Command(ctx, append([]string{"watch"}, args...)...)
	p.Cmd.Stderr = &p.stderr
	out, err := p.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.exited <- p.Cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.Cmd.ProcessState == nil {
			_ = p.Cmd.Process.Kill()
		}
	})
	return p
}

// Stderr is what watch printed on stderr so far.
func (p *WatchProc) Stderr() string { return p.stderr.String() }

// Line waits for the next stdout line matching re.
func (p *WatchProc) Line(re string, within time.Duration) string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("watch exited while waiting for %q\nstderr:\n%s", re, p.Stderr())
			}
			if rx.MatchString(l) {
				return l
			}
		case <-deadline:
			p.t.Fatalf("no line matching %q within %s\nstderr:\n%s", re, within, p.Stderr())
		}
	}
}

// Report waits for the next JSON report (watch --json) whose event is one
// of events.
func (p *WatchProc) Report(within time.Duration, events ...string) map[string]any {
	p.t.Helper()
	var m map[string]any
	l := p.Line(`"event":"(`+strings.Join(events, "|")+`)"`, within)
	if err := json.Unmarshal([]byte(l), &m); err != nil {
		p.t.Fatal(err)
	}
	return m
}

// Run waits for the next JSON report of a run (watch --json).
func (p *WatchProc) Run(within time.Duration) map[string]any {
	p.t.Helper()
	return p.Report(within, "run")
}

// Stop sends Ctrl-C and expects a clean stop: exit 130 (interrupted).
func (p *WatchProc) Stop() {
	p.t.Helper()
	if code := p.ExitCode(syscall.SIGINT); code != 130 {
		p.t.Errorf("watch after Ctrl-C: exit %d, want 130\nstderr:\n%s", code, p.Stderr())
	}
}

// ExitCode sends sig and returns watch's exit code once it has exited.
func (p *WatchProc) ExitCode(sig syscall.Signal) int {
	p.t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	return p.Wait()
}

// Wait returns watch's exit code once it has exited; being killed by a
// signal fails the test.
func (p *WatchProc) Wait() int {
	p.t.Helper()
	for range p.lines {
	}
	select {
	case err := <-p.exited:
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.t.Fatalf("watch was killed by %s (exit %d); stderr:\n%s", ws.Signal(), 128+int(ws.Signal()), p.Stderr())
			}
			return ee.ExitCode()
		default:
			p.t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		p.t.Fatal("watch did not exit within 30s")
	}
	return -1
}
