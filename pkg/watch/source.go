package watch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// source reports paths that may have changed. It watches a tree (the
// workspace, minus ignored directories) recursively plus a few extra
// directories (where files a step reads live outside the workspace).
type source interface {
	// Changes delivers absolute paths; closed when the source stops.
	Changes() <-chan string
	// AddDir watches one more directory, not recursively.
	AddDir(dir string)
	Close() error
}

// tree says which directories a source covers.
type tree struct {
	root   string
	ignore []string // absolute directories never watched
}

// skipDir reports whether dir (absolute) is not watched: an ignored
// directory or inside one, or a hidden directory below the root (.git).
func (t tree) skipDir(dir string) bool {
	for _, ig := range t.ignore {
		if dir == ig || strings.HasPrefix(dir, ig+string(filepath.Separator)) {
			return true
		}
	}
	return dir != t.root && strings.HasPrefix(filepath.Base(dir), ".")
}

// ignored reports whether a path lies in an ignored directory.
func (t tree) ignored(p string) bool {
	for _, ig := range t.ignore {
		if p == ig || strings.HasPrefix(p, ig+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// notifySource is the inotify (fsnotify) source. Directories are watched,
// not files, so a save that renames a temporary file over the original
// (vim, JetBrains) is seen as a Create of the original's name.
type notifySource struct {
	t   tree
	w   *fsnotify.Watcher
	out chan string
	log zerolog.Logger

	mu      sync.Mutex
	watched map[string]bool
	done    chan struct{}
	wg      sync.WaitGroup
}

func newNotifySource(t tree, log zerolog.Logger) (*notifySource, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	s := &notifySource{t: t, w: w, out: make(chan string, 256), log: log, watched: map[string]bool{}, done: make(chan struct{})}
	if err := s.addTree(t.root, false); err != nil {
		w.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.loop()
	return s, nil
}

func (s *notifySource) Changes() <-chan string { return s.out }

// addTree watches dir and every directory under it. When emit is set (a
// directory that just appeared), the files already in it are reported:
// they may have been written before the watch was in place.
func (s *notifySource) addTree(dir string, emit bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // vanished meanwhile
		}
		if !d.IsDir() {
			if emit {
				s.send(p)
			}
			return nil
		}
		if s.t.skipDir(p) {
			return filepath.SkipDir
		}
		s.addDir(p)
		return nil
	})
}

func (s *notifySource) addDir(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watched[dir] {
		return
	}
	if err := s.w.Add(dir); err != nil {
		s.log.Warn().Err(err).Str("dir", dir).Msg("cannot watch directory")
		return
	}
	s.watched[dir] = true
}

func (s *notifySource) AddDir(dir string) {
	if _, err := os.Stat(dir); err == nil {
		s.addDir(dir)
	}
}

func (s *notifySource) send(p string) {
	select {
	case s.out <- p:
	case <-s.done:
	}
}

func (s *notifySource) loop() {
	defer s.wg.Done()
	defer close(s.out)
	for {
		select {
		case <-s.done:
			return
		case err, ok := <-s.w.Errors:
			if !ok {
				return
			}
			// An overflow loses events: report the whole root as changed.
			s.log.Warn().Err(err).Msg("file watcher error")
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				s.send(s.t.root)
			}
		case ev, ok := <-s.w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod || s.t.ignored(ev.Name) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if st, err := os.Lstat(ev.Name); err == nil && st.IsDir() {
					if !s.t.skipDir(ev.Name) {
						_ = s.addTree(ev.Name, true)
					}
					continue
				}
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				s.mu.Lock()
				delete(s.watched, ev.Name) // the kernel dropped its watch
				s.mu.Unlock()
			}
			s.send(ev.Name)
		}
	}
}

func (s *notifySource) Close() error {
	close(s.done)
	err := s.w.Close()
	s.wg.Wait()
	return err
}

// pollSource compares modification times and sizes every interval, for
// file systems where inotify events do not arrive (NFS, some container bind
// mounts). Like Hugo's filenotify poller, but one walk per interval over the
// watched tree instead of a goroutine per file.
type pollSource struct {
	t        tree
	interval time.Duration
	out      chan string

	// mu guards extra and state: AddDir (the watcher's goroutine) writes
	// both while the loop compares states.
	mu    sync.Mutex
	extra map[string]bool
	state map[string]fileState
	done  chan struct{}
	wg    sync.WaitGroup
}

type fileState struct {
	size  int64
	mtime time.Time
	mode  fs.FileMode
}

func newPollSource(t tree, interval time.Duration) *pollSource {
	s := &pollSource{t: t, interval: interval, out: make(chan string, 256), extra: map[string]bool{}, done: make(chan struct{})}
	s.state, _ = s.scan()
	s.wg.Add(1)
	go s.loop()
	return s
}

func (s *pollSource) Changes() <-chan string { return s.out }

func (s *pollSource) AddDir(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.extra[dir] {
		return
	}
	s.extra[dir] = true
	// Take the directory's current state as the baseline.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && !e.IsDir() {
			s.state[filepath.Join(dir, e.Name())] = fileState{info.Size(), info.ModTime(), info.Mode()}
		}
	}
}

// scan stats every file of the tree and of the extra directories; scanned
// are the extra directories it covered.
func (s *pollSource) scan() (st map[string]fileState, scanned map[string]bool) {
	st = map[string]fileState{}
	_ = filepath.WalkDir(s.t.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if s.t.skipDir(p) {
				return filepath.SkipDir
			}
			return nil
		}
		if info, err := d.Info(); err == nil {
			st[p] = fileState{info.Size(), info.ModTime(), info.Mode()}
		}
		return nil
	})
	s.mu.Lock()
	scanned = make(map[string]bool, len(s.extra))
	for d := range s.extra {
		scanned[d] = true
	}
	s.mu.Unlock()
	for dir := range scanned {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && !e.IsDir() {
				st[filepath.Join(dir, e.Name())] = fileState{info.Size(), info.ModTime(), info.Mode()}
			}
		}
	}
	return st, scanned
}

// diff swaps in the new state and returns the paths that changed. It holds
// mu while it reads both states: AddDir writes the current one. A directory
// added after the scan began keeps its baseline until the next scan.
func (s *pollSource) diff(now map[string]fileState, scanned map[string]bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.state
	for p, st := range prev {
		if dir := filepath.Dir(p); s.extra[dir] && !scanned[dir] {
			now[p] = st
		}
	}
	s.state = now
	var changed []string
	for p, st := range now {
		if old, ok := prev[p]; !ok || old != st {
			changed = append(changed, p)
		}
	}
	for p := range prev {
		if _, ok := now[p]; !ok {
			changed = append(changed, p)
		}
	}
	return changed
}

func (s *pollSource) loop() {
	defer s.wg.Done()
	defer close(s.out)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		for _, p := range s.diff(s.scan()) {
			select {
			case s.out <- p:
			case <-s.done:
				return
			}
		}
	}
}

func (s *pollSource) Close() error {
	close(s.done)
	s.wg.Wait()
	return nil
}

// newSource picks polling when interval > 0, else inotify.
func newSource(_ context.Context, t tree, poll time.Duration, log zerolog.Logger) (source, error) {
	if poll > 0 {
		return newPollSource(t, poll), nil
	}
	return newNotifySource(t, log)
}
