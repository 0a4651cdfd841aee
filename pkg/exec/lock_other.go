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
