package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Files resolves paths named in pipeline configs against the workspace root
// and applies the workspace's path policy (see the package doc):
//
//   - a relative path stays inside the root, also after following symlinks
//     (dangling ones included); `..` that climbs out is refused;
//   - an absolute path is taken as written (the user said so explicitly);
//   - protected paths are never data, relative or absolute: osiris.toml,
//     osiris_connections.yaml, every dot-entry of the root (.env, .osiris,
//     .git), and the pipelines, build, run_logs and state folders.
type Files struct {
	Root string // absolute, cleaned

	protected []protectedPath
}

// protectedPath is a file or folder a pipeline may neither read nor write.
type protectedPath struct {
	abs  string // absolute, cleaned
	dir  bool   // everything below it is protected too
	what string // for messages: "the workspace config osiris.toml"
}

// NewFiles returns a resolver rooted at root with the default [paths]
// protected.
func NewFiles(root string) (*Files, error) {
	return NewFilesWithPaths(root, DefaultConfig("").Paths)
}

// NewFilesWithPaths returns a resolver rooted at root protecting the
// folders of paths (relative to root, or absolute).
func NewFilesWithPaths(root string, paths PathsConfig) (*Files, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	f := &Files{Root: filepath.Clean(abs)}
	f.protect(filepath.Join(f.Root, ConfigFileName), false, "the workspace config "+ConfigFileName)
	f.protect(filepath.Join(f.Root, ConnectionsYAMLFile), false, "the connections file "+ConnectionsYAMLFile)
	for _, p := range []struct{ path, what string }{
		{paths.Pipelines, "the pipelines folder"},
		{paths.Build, "the build folder"},
		{paths.RunLogs, "the run_logs folder"},
		{paths.State, "osiris's state folder"},
	} {
		if p.path == "" {
			continue
		}
		dir := f.join(p.path)
		if dir == f.Root {
			// pipelines = "." keeps pipelines at the root: the root cannot
			// be protected as a whole; compile protects the pipeline file.
			continue
		}
		f.protect(dir, true, p.what+" "+f.Rel(dir)+"/")
	}
	return f, nil
}

func (f *Files) join(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(f.Root, filepath.FromSlash(p))
}

func (f *Files) protect(abs string, dir bool, what string) {
	f.protected = append(f.protected, protectedPath{abs: filepath.Clean(abs), dir: dir, what: what})
}

// Protect adds a protected file (dir false) or folder. abs may be relative
// to the root.
func (f *Files) Protect(path string, dir bool, what string) {
	f.protect(f.join(path), dir, what)
}

// PathError is a path the policy refuses.
type PathError struct {
	Path   string
	Reason string
	// Hint says what to do; the default is about escaping the workspace.
	Hint string
}

func (e *PathError) Error() string {
	hint := e.Hint
	if hint == "" {
		hint = "keep files inside the workspace or write an absolute path"
	}
	return fmt.Sprintf("path %q %s; %s", e.Path, e.Reason, hint)
}

const protectedHint = "a pipeline reads and writes data files only; name a file outside osiris.toml, .env, pipelines, build, run_logs and .osiris"

// Resolve returns the absolute path for p after applying the policy. It
// does not require the file to exist (writers name files that do not
// exist yet); the existing part of the path is checked for symlinks that
// lead outside the root, and a dangling symlink is followed to where it
// points.
func (f *Files) Resolve(p string) (string, error) {
	if strings.TrimSpace(p) == "" {
		return "", &PathError{Path: p, Reason: "is empty", Hint: "name a file"}
	}
	var abs string
	if filepath.IsAbs(p) {
		abs = filepath.Clean(p)
	} else {
		clean := filepath.Clean(filepath.FromSlash(p))
		if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return "", &PathError{Path: p, Reason: "escapes the workspace through .."}
		}
		abs = filepath.Join(f.Root, clean)
		real, err := realPath(abs)
		if err != nil {
			return "", &PathError{Path: p, Reason: "cannot be resolved (" + err.Error() + ")", Hint: "fix or remove the symlink"}
		}
		if !within(real, f.realRoot()) {
			return "", &PathError{Path: p, Reason: "escapes the workspace through a symlink"}
		}
	}
	if what, ok := f.Protected(abs); ok {
		return "", &PathError{Path: p, Reason: "is " + what + ", not data", Hint: protectedHint}
	}
	return abs, nil
}

// Protected reports whether abs is, or is inside, a protected path, also
// when reached through a symlink; what names it for a message.
func (f *Files) Protected(abs string) (what string, ok bool) {
	abs = filepath.Clean(abs)
	real, err := realPath(abs)
	if err != nil {
		real = abs
	}
	rootReal := f.realRoot()
	for _, pp := range f.protected {
		cands := []string{pp.abs}
		if r, err := realPath(pp.abs); err == nil && r != pp.abs {
			cands = append(cands, r)
		}
		for _, c := range cands {
			for _, x := range []string{abs, real} {
				if x == c || (pp.dir && within(x, c)) {
					return pp.what, true
				}
			}
		}
	}
	// Dot-entries of the root (.env, .env.local, .osiris, .git) hold
	// secrets or machinery.
	for _, pair := range [][2]string{{abs, f.Root}, {real, rootReal}} {
		if rel, err := filepath.Rel(pair[1], pair[0]); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			first := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
			if first == DotEnvFile || strings.HasPrefix(first, DotEnvFile+".") {
				return "the secrets file " + first, true
			}
			if strings.HasPrefix(first, ".") {
				return "the hidden entry " + first + " of the workspace root", true
			}
		}
	}
	return "", false
}

func (f *Files) realRoot() string {
	if r, err := filepath.EvalSymlinks(f.Root); err == nil {
		return r
	}
	return f.Root
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

// realPath follows every symlink of abs: the longest existing prefix is
// evaluated, a dangling link is followed to its target (which need not
// exist), and the part that does not exist yet is kept as written.
func realPath(abs string) (string, error) {
	p := filepath.Clean(abs)
	for hops := 0; hops < 40; hops++ {
		existing := p
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
		rest, err := filepath.Rel(existing, p)
		if err != nil {
			return "", err
		}
		real, err := filepath.EvalSymlinks(existing)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		// existing is a link whose target does not exist (its parent
		// resolves): follow it by hand.
		fi, lerr := os.Lstat(existing)
		if lerr != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return "", err
		}
		target, rerr := os.Readlink(existing)
		if rerr != nil {
			return "", rerr
		}
		if !filepath.IsAbs(target) {
			parent, perr := filepath.EvalSymlinks(filepath.Dir(existing))
			if perr != nil {
				return "", perr
			}
			target = filepath.Join(parent, target)
		}
		p = filepath.Join(target, rest)
	}
	return "", errors.New("too many levels of symbolic links")
}

// RealPath returns abs with every symlink of its existing part followed,
// so that two spellings of one file (out/a.csv, out/./a.csv, link/a.csv)
// compare equal; abs itself when a link cannot be followed.
func (f *Files) RealPath(abs string) string {
	if r, err := realPath(abs); err == nil {
		return r
	}
	return filepath.Clean(abs)
}

// Rel returns p relative to the root with forward slashes, for records.
func (f *Files) Rel(abs string) string {
	r, err := filepath.Rel(f.Root, abs)
	if err != nil || strings.HasPrefix(r, "..") {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(r)
}

// DataPaths lists what SQL run by a pipeline (DuckDB) may touch: every
// entry of the workspace root that is not protected, descending into a
// folder that holds a protected path (build/ under var/, say) to list its
// other entries. dirs are folders, files single files; both absolute.
// Entries created later at the root itself are not included: a DuckDB
// session sees the workspace as it was when the session opened.
func (f *Files) DataPaths() (dirs, files []string) {
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if _, prot := f.Protected(p); prot {
				continue
			}
			if f.holdsProtected(p) {
				walk(p)
				continue
			}
			st, err := os.Stat(p) // follows a symlink; DuckDB decides on its target
			if err != nil {
				continue
			}
			if st.IsDir() {
				dirs = append(dirs, p)
			} else {
				files = append(files, p)
			}
		}
	}
	walk(f.Root)
	sort.Strings(dirs)
	sort.Strings(files)
	return dirs, files
}

// holdsProtected reports whether a protected path lies strictly below dir.
func (f *Files) holdsProtected(dir string) bool {
	for _, pp := range f.protected {
		if pp.abs != dir && within(pp.abs, dir) {
			return true
		}
	}
	return false
}
