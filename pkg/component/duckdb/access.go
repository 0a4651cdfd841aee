package duckdb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/osiris-go/osiris/pkg/component"
)

// Access is what a confined session may touch on disk. DuckDB enforces it
// itself: once Confine has run, read_csv('/etc/passwd'), COPY … TO a path
// outside it, ATTACH of another file and INSTALL/LOAD of extensions fail
// with "Permission Error: … disabled by configuration", and SQL cannot turn
// access back on while the database is open.
type Access struct {
	// TempDir is where DuckDB spills (temp_directory); it is allowed.
	TempDir string
	// Dirs are folders whose whole content is allowed (allowed_directories).
	Dirs []string
	// Paths are single files allowed (allowed_paths).
	Paths []string
}

// openLocks holds, per database file, the lock under which a session on
// it is opened and confined (see OpenConfined).
var openLocks sync.Map // cleaned path → *sync.Mutex

// OpenConfined opens the database file at path (read-only when readOnly)
// and confines the session to a. Every session on one file shares one
// DuckDB instance (duckdb-go's instance cache), and DuckDB's settings
// belong to the instance: checking "still open?" and then setting the
// allowed paths is a race between two steps opening the same file at once
// (the second one's SET allowed_paths fails with "Cannot change
// allowed_paths when enable_external_access is disabled"). The per-file
// lock makes open-and-confine one step: a session is handed out only once
// the instance is confined, and the next one finds it so.
func OpenConfined(ctx context.Context, path string, readOnly bool, a Access) (*Session, error) {
	l, _ := openLocks.LoadOrStore(filepath.Clean(path), new(sync.Mutex))
	mu := l.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	open := Open
	if readOnly {
		open = OpenReadOnly
	}
	s, err := open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := s.Confine(ctx, a); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Confine applies a, in the order DuckDB requires: temp_directory (which
// cannot change afterwards), allowed_directories, allowed_paths, then
// enable_external_access = false. Settings that do not touch files
// (memory_limit, threads) can still be changed after it.
//
// A database file is opened once per process and shared by every session
// on it (duckdb-go's instance cache; open file sessions with OpenConfined,
// which makes open-and-confine atomic): when an earlier session already
// confined the database, Confine leaves it as it is — the settings belong
// to the database, not the connection. File sessions therefore set no
// TempDir of their own (a step's temp directory is removed when the step
// ends) and allow the database's default spill folder, <file>.tmp.
func (s *Session) Confine(ctx context.Context, a Access) error {
	open, err := s.externalAccess(ctx)
	if err != nil {
		return fmt.Errorf("duckdb enable_external_access: %w", err)
	}
	if !open {
		return nil
	}
	dirs := append([]string(nil), a.Dirs...)
	if a.TempDir != "" {
		if err := s.Exec(ctx, "SET temp_directory = "+QuoteString(a.TempDir)); err != nil {
			return fmt.Errorf("duckdb temp_directory: %w", err)
		}
		dirs = append(dirs, a.TempDir)
	}
	if err := s.Exec(ctx, "SET allowed_directories = "+stringList(withSlash(dirs))); err != nil {
		return fmt.Errorf("duckdb allowed_directories: %w", err)
	}
	if err := s.Exec(ctx, "SET allowed_paths = "+stringList(a.Paths)); err != nil {
		return fmt.Errorf("duckdb allowed_paths: %w", err)
	}
	if err := s.Exec(ctx, "SET enable_external_access = false"); err != nil {
		return fmt.Errorf("duckdb enable_external_access: %w", err)
	}
	return nil
}

// externalAccess reports whether the database may still touch any file.
func (s *Session) externalAccess(ctx context.Context) (bool, error) {
	rr, err := s.Query(ctx, "SELECT current_setting('enable_external_access')::BOOLEAN")
	if err != nil {
		return false, err
	}
	defer rr.Release()
	for rr.Next() {
		if c, ok := rr.RecordBatch().Column(0).(*array.Boolean); ok && c.Len() > 0 {
			return c.Value(0), nil
		}
	}
	if err := rr.Err(); err != nil {
		return false, err
	}
	return false, fmt.Errorf("no value for enable_external_access")
}

// withSlash ends every folder with a separator, so that allowing /ws/data
// cannot allow /ws/data2.
func withSlash(dirs []string) []string {
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		out = append(out, strings.TrimSuffix(d, string(filepath.Separator))+string(filepath.Separator))
	}
	return out
}

func stringList(items []string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = QuoteString(it)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// WorkspaceAccess is the access of SQL a pipeline writes (duckdb.processor,
// duckdb.extractor): the workspace's data — every entry of the root except
// the protected ones (osiris.toml, .env and other dot-entries, pipelines,
// build, run_logs, state) — and the step's temp directory.
func WorkspaceAccess(req *component.Request) Access {
	a := Access{TempDir: req.TempDir}
	if req.Files != nil {
		a.Dirs, a.Paths = req.Files.DataPaths()
	}
	return a
}

// databaseAccess is what a session on a database file needs besides the
// rest of a: the file, its WAL and its default spill folder <file>.tmp.
func databaseAccess(a Access, path string) Access {
	a.TempDir = ""
	a.Paths = append(a.Paths, path, path+".wal")
	a.Dirs = append(a.Dirs, path+".tmp")
	return a
}

// QueryAccess is the access of a query whose reads are known (AnalyzeQuery
// gave no ReadsUnknown): the files it names, each glob's folder when that
// folder is workspace data (else the files the glob matches now), and the
// step's temp directory — nothing else. The step cache hashed and remote
// sync carried exactly these files, so a read the parser did not see fails
// ("Permission Error") instead of going unnoticed.
func QueryAccess(req *component.Request, reads []string) Access {
	a := Access{TempDir: req.TempDir}
	if req.Files == nil {
		return a
	}
	dataDirs, dataFiles := req.Files.DataPaths()
	// isData: the real path of an existing file that SQL may read at all.
	isData := func(abs string) (string, bool) {
		r, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return "", false
		}
		return r, insideAny(r, dataDirs) || slices.Contains(dataFiles, r)
	}
	for _, p := range reads {
		abs, err := req.Files.Resolve(p)
		if err != nil {
			continue // checkQuery refused it; DuckDB will too
		}
		if !strings.ContainsAny(p, "*?[") {
			if r, ok := isData(abs); ok {
				a.Paths = append(a.Paths, r)
			}
			continue
		}
		if r, err := filepath.EvalSymlinks(globDir(abs)); err == nil && insideAny(r, dataDirs) {
			a.Dirs = append(a.Dirs, r)
			continue
		}
		matches, _ := filepath.Glob(abs)
		for _, m := range matches {
			if r, ok := isData(m); ok {
				a.Paths = append(a.Paths, r)
			}
		}
	}
	return a
}

// globDir is the folder part of a glob before its first pattern character.
func globDir(pattern string) string {
	dir := pattern
	for strings.ContainsAny(dir, "*?[") {
		dir = filepath.Dir(dir)
	}
	return dir
}

func insideAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, string(filepath.Separator))+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
