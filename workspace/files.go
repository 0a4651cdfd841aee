package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files resolves paths named in pipeline configs against the workspace root.
// A relative path must stay inside the root, also after following symlinks;
// an absolute path is taken as written (the user said so explicitly).
type Files struct {
	Root string // absolute, cleaned
}

// NewFiles returns a resolver rooted at root.
func NewFiles(root string) (*Files, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	return &Files{Root: filepath.Clean(abs)}, nil
}

// PathError is returned for a path that escapes the workspace.
type PathError struct {
	Path   string
	Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("path %q %s; keep files inside the workspace or write an absolute path", e.Path, e.Reason)
}

// Resolve returns the absolute path for p. It does not require the file to
// exist (writers name files that do not exist yet); the existing part of the
// path is checked for symlinks that lead outside the root.
func (f *Files) Resolve(p string) (string, error) {
	if p == "" {
		return "", &PathError{Path: p, Reason: "is empty"}
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	clean := filepath.Clean(filepath.FromSlash(p))
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", &PathError{Path: p, Reason: "escapes the workspace through .."}
	}
	abs := filepath.Join(f.Root, clean)
	// Follow symlinks on the longest existing prefix.
	existing := abs
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err == nil {
		rootReal, rerr := filepath.EvalSymlinks(f.Root)
		if rerr != nil {
			rootReal = f.Root
		}
		if real != rootReal && !strings.HasPrefix(real, rootReal+string(filepath.Separator)) {
			return "", &PathError{Path: p, Reason: "escapes the workspace through a symlink"}
		}
	}
	return abs, nil
}

// Rel returns p relative to the root with forward slashes, for records.
func (f *Files) Rel(abs string) string {
	r, err := filepath.Rel(f.Root, abs)
	if err != nil || strings.HasPrefix(r, "..") {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(r)
}
