package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/osiris-go/osiris/pkg/diag"
)

// ConfigFileName is the file that marks a workspace root.
const ConfigFileName = "osiris.toml"

// ErrNoWorkspace is wrapped by the error FindRoot returns when no
// osiris.toml is found.
var ErrNoWorkspace = errors.New("no workspace")

// FindRoot walks up from start (a directory or a file in it) to the
// directory holding osiris.toml and returns it as an absolute path. The
// error when there is none wraps ErrNoWorkspace and is a usage error
// (exit 2).
func FindRoot(start string) (string, error) {
	abs, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("find workspace from %s: %w", start, err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		abs = filepath.Dir(abs)
	}
	for dir := abs; ; {
		fi, err := os.Stat(filepath.Join(dir, ConfigFileName))
		if err == nil && !fi.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", &diag.UsageError{Err: &noWorkspaceError{dir: abs}}
}

type noWorkspaceError struct{ dir string }

func (e *noWorkspaceError) Error() string {
	return fmt.Sprintf("no %s in %s or any parent; run `osiris init` or pass -C DIR", ConfigFileName, e.dir)
}

func (e *noWorkspaceError) Is(target error) bool { return target == ErrNoWorkspace }
