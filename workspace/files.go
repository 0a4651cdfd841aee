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

// CheckRead applies the policy to a path a step reads, a file or a glob:
// the path resolves (Resolve), and no file a glob matches is protected or
// reached through a symlink out of the workspace.
func (f *Files) CheckRead(p string) error {
	abs, err := f.Resolve(p)
	if err != nil {
		return err
	}
	if !strings.ContainsAny(p, "*?[") {
		return nil
	}
	matches, err := filepath.Glob(abs)
	if err != nil {
		return &PathError{Path: p, Reason: "is not a valid glob (" + err.Error() + ")", Hint: "fix the pattern, e.g. data/*.csv"}
	}
	for _, m := range matches {
		if what, prot := f.Protected(m); prot {
			return &PathError{Path: p, Reason: "matches " + f.Rel(m) + ", which is " + what + ", not data", Hint: "narrow the pattern, e.g. data/*.csv"}
		}
		if !filepath.IsAbs(p) {
			if _, err := f.Resolve(f.Rel(m)); err != nil {
				return err
			}
		}
	}
	return nil
}

// DataPaths lists what SQL run by a pipeline (DuckDB) may read, as real
// paths (every symlink resolved): the data of the workspace, that is every
// entry below the root that is not protected, with every protected entry
// outside the set whatever the spelling. DuckDB canonicalises both the
// allowed folders and each path a query names (symlinks and .. resolved)
// before its prefix check, so the set must hold no real folder that is, or
// contains, a protected entry, and nothing outside the real root:
//
//   - a folder that holds a protected path (the root; var/ when build is
//     var/build) is not allowed as a whole: its other entries are;
//   - a symlink is judged by its target: one that leads out of the
//     workspace, to a protected entry, or to a folder holding one (self ->
//     ., data/up -> ..) is left out, not followed; one to data is allowed
//     as its target's real path;
//   - a symlink below an allowed folder needs nothing: DuckDB resolves it
//     when a query names it and refuses it unless its target is allowed.
//
// dirs are folders, files single files. Entries created later at the root
// itself are not included: a DuckDB session sees the workspace as it was
// when the session opened.
func (f *Files) DataPaths() (dirs, files []string) {
	rootReal := f.realRoot()
	var protReal []string // every protected entry, as written and resolved
	for _, pp := range f.protected {
		protReal = append(protReal, pp.abs)
		if r, err := realPath(pp.abs); err == nil && r != pp.abs {
			protReal = append(protReal, r)
		}
	}
	holdsProtected := func(dir string) bool {
		if dir == rootReal {
			return true // the root's dot-entries and osiris.toml
		}
		for _, p := range protReal {
			if p != dir && within(p, dir) {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			real, err := realPath(p)
			if err != nil || real == rootReal || !within(real, rootReal) || seen[real] {
				continue
			}
			if _, prot := f.Protected(p); prot {
				continue
			}
			if _, prot := f.Protected(real); prot {
				continue
			}
			st, err := os.Stat(real)
			if err != nil {
				continue
			}
			if st.IsDir() && holdsProtected(real) {
				if real == p {
					walk(p) // a real folder: list its other entries
				}
				continue // a symlink to it: its target is listed on its own
			}
			seen[real] = true
			if st.IsDir() {
				dirs = append(dirs, real)
			} else {
				files = append(files, real)
			}
		}
	}
	walk(rootReal)
	sort.Strings(dirs)
	sort.Strings(files)
	return dirs, files
}
