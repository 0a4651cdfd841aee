package file

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
)

// configPath is the config's path joined to the connection's base_dir
// when it is relative.
func configPath(req *component.Request) (string, error) {
	p := req.Config.String("path")
	if p == "" {
		return "", fmt.Errorf("step %q: path is required", req.StepID)
	}
	return component.JoinBaseDir(req.Conn, p), nil
}

// inputFiles resolves the step's path (a file or a glob) to existing files,
// sorted; every match is checked against the workspace rules.
func inputFiles(req *component.Request) ([]string, error) {
	p, err := configPath(req)
	if err != nil {
		return nil, err
	}
	abs, err := req.Files.Resolve(p)
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	if !strings.ContainsAny(p, "*?[") {
		st, err := os.Stat(abs)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("step %q: file %s does not exist", req.StepID, p)
			}
			return nil, fmt.Errorf("step %q: %w", req.StepID, err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("step %q: %s is a directory; name a file or a glob such as %s/*.csv", req.StepID, p, p)
		}
		return []string{abs}, nil
	}
	matches, err := filepath.Glob(abs)
	if err != nil {
		return nil, fmt.Errorf("step %q: bad glob %q: %w", req.StepID, p, err)
	}
	var files []string
	// No match may be protected or a symlink leading out of the workspace.
	if err := req.Files.CheckRead(p); err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	for _, m := range matches {
		if st, err := os.Stat(m); err != nil || st.IsDir() {
			continue
		}
		files = append(files, m)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("step %q: no file matches %s", req.StepID, p)
	}
	sort.Strings(files)
	return files, nil
}

// outputFile resolves the step's output path and creates its directory
// when create_dirs (default true).
func outputFile(req *component.Request) (string, error) {
	p, err := configPath(req)
	if err != nil {
		return "", err
	}
	abs, err := req.Files.Resolve(p)
	if err != nil {
		return "", fmt.Errorf("step %q: %w", req.StepID, err)
	}
	dir := filepath.Dir(abs)
	if req.Config.Bool("create_dirs", true) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("step %q: %w", req.StepID, err)
		}
	} else if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("step %q: directory of %s: %w (set create_dirs: true)", req.StepID, p, err)
	}
	return abs, nil
}

// atomicFile is a temporary file next to its target, renamed over it on
// Commit. Abort (safe after Commit) removes the temporary file.
type atomicFile struct {
	*os.File
	target    string
	committed bool
}

func createAtomic(target string) (*atomicFile, error) {
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, target: target}, nil
}

// Commit makes the content durable, then gives it the target's name.
func (a *atomicFile) Commit() error {
	if err := a.Sync(); err != nil {
		return err
	}
	if err := a.Close(); err != nil {
		return err
	}
	if err := os.Chmod(a.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(a.Name(), a.target); err != nil {
		return err
	}
	a.committed = true
	// Persist the rename itself; best effort (not every platform can sync a
	// directory).
	if d, err := os.Open(filepath.Dir(a.target)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Abort discards the temporary file unless committed.
func (a *atomicFile) Abort() {
	if a.committed {
		return
	}
	_ = a.Close()
	_ = os.Remove(a.Name())
}
