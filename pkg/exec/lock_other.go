//go:build !unix

package exec

import (
	"os"
	"sync"
)

// Without flock, only goroutines of this process are excluded; osiris
// targets Linux and macOS.
var indexMu sync.Mutex

func lockFile(path string) (unlock func(), err error) {
	indexMu.Lock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		indexMu.Unlock()
		return nil, err
	}
	return func() { f.Close(); indexMu.Unlock() }, nil
}

// Without flock a run's liveness is only known inside this process.
var (
	heldMu sync.Mutex
	held   = map[string]bool{}
)

func holdLock(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	f.Close()
	heldMu.Lock()
	held[path] = true
	heldMu.Unlock()
	return func() { heldMu.Lock(); delete(held, path); heldMu.Unlock() }, nil
}

func lockHeld(path string) bool {
	heldMu.Lock()
	defer heldMu.Unlock()
	return held[path]
}
