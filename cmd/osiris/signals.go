package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// runSignals stops a run on SIGINT, SIGTERM and SIGHUP (a closed terminal or
// a dropped ssh session must not leave a run without its record). The first
// signal cancels the run's context: steps stop, the run is recorded as
// cancelled, exit 130. A second signal exits 130 at once, after recording
// the run as cancelled (status.json, the index end line): a step that does
// not stop on cancel (a driver blocked in C, an open(2) on a FIFO) must not
// trap the user.
type runSignals struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	ch     chan os.Signal
	done   chan struct{}
	stderr io.Writer
	exit   func(code int)

	mu sync.Mutex
	// abandon records the run as stopped; nil before the run is recorded
	// and after its record is complete.
	abandon func(sig os.Signal)
}

func watchSignals(stderr io.Writer) *runSignals {
	s := &runSignals{ch: make(chan os.Signal, 2), done: make(chan struct{}), stderr: stderr, exit: os.Exit}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	signal.Notify(s.ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go s.loop()
	return s
}

func (s *runSignals) loop() {
	select {
	case sig := <-s.ch:
		s.cancel(fmt.Errorf("received %s", sig))
	case <-s.done:
		return
	}
	select {
	case sig := <-s.ch:
		s.mu.Lock() // waits for a record being completed
		if s.abandon != nil {
			s.abandon(sig)
			s.abandon = nil
		}
		fmt.Fprintf(s.stderr, "osiris: %s again: stopped at once\n", sig)
		s.exit(exitInterrupted)
	case <-s.done:
	}
}

// recording sets what a second signal does to the run's record; finish
// completes the record, excluding a second signal meanwhile.
func (s *runSignals) recording(abandon func(sig os.Signal)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abandon = abandon
}

func (s *runSignals) finish(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	s.abandon = nil
}

// stop restores default signal handling.
func (s *runSignals) stop() {
	signal.Stop(s.ch)
	close(s.done)
	s.cancel(nil)
}
