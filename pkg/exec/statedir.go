package exec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/osiris-go/osiris/pkg/diag"
)

// CheckStateDir reports whether a run could be recorded in stateDir: its
// index folder exists or can be made, and the index and its lock can be
// opened for appending. It writes nothing else. Callers check before a run
// starts (StartRecorder does), so that an unwritable state folder (read-only,
// a file where a folder should be, a full disk's quota) stops the run before
// any run directory or target changes, with one message naming the cause,
// instead of leaving a run directory no index knows about.
func CheckStateDir(stateDir string) error {
	dir := filepath.Join(stateDir, "index")
	fail := func(err error) error {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s %s: %w", pe.Op, pe.Path, pe.Err)
		}
		return &diag.UsageError{Err: fmt.Errorf("osiris's state folder %s cannot be written (%v); nothing ran: make it writable, or point [paths] state in osiris.toml elsewhere", stateDir, err)}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	for _, name := range []string{"runs.jsonl", "runs.lock"} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fail(err)
		}
		if err := f.Close(); err != nil {
			return fail(err)
		}
	}
	return nil
}
