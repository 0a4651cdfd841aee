// Package e2e drives the real osiris binary against real services (MariaDB,
// PostgreSQL) the way a user does: a workspace on disk, `osiris run`, the run
// directory read back. Its subpackages hold the end-to-end tests; this file
// is their shared harness.
package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/duckdb"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// RepoRoot is the repository root.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds bin/osiris once per test process (into a temp dir, with the
// duckdb_arrow tag) and returns its path. OSIRIS_BIN overrides.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("OSIRIS_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "osiris-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "osiris")
		cmd := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", binPath, "./cmd/osiris")
		cmd.Dir = RepoRoot()
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building osiris: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// Workspace is a workspace directory for one test.
type Workspace struct {
	t    testing.TB
	Root string
	// Env is added to the environment of every command (NAME=value).
	Env []string

	checkedMu sync.Mutex
	checked   map[string]bool // run directories whose artifacts were re-read
}

// NewWorkspace writes files (path → content, relative to the root) into a
// fresh temp dir. osiris.toml must be among them.
func NewWorkspace(t testing.TB, files map[string]string) *Workspace {
	t.Helper()
	w := &Workspace{t: t, Root: t.TempDir()}
	for p, c := range files {
		w.Write(p, c)
	}
	t.Cleanup(func() { CheckDuckDBFiles(t, w.Root) })
	return w
}

// NewWorkspaceAt wraps an existing workspace directory (e.g. one made by
// `osiris init`).
func NewWorkspaceAt(t testing.TB, root string) *Workspace {
	t.Cleanup(func() { CheckDuckDBFiles(t, root) })
	return &Workspace{t: t, Root: root}
}

// CheckDuckDBFiles opens every DuckDB database file under root and fails
// the test when one holds an object osiris left behind: a view whose name
// starts with osiris_ (the writer's view over its input stream, which
// crashes whoever reads it once the run is gone). Every workspace runs it
// when its test ends.
func CheckDuckDBFiles(t testing.TB, root string) {
	t.Helper()
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".duckdb") {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		objs, err := duckdb.ListObjects(ctx, p)
		if err != nil {
			t.Errorf("listing the objects of %s: %v", p, err)
			return nil
		}
		for _, o := range objs {
			if o.Kind == "view" && strings.HasPrefix(strings.ToLower(o.Name), "osiris_") {
				t.Errorf("%s holds %s %s.%s, left by osiris", p, o.Kind, o.Schema, o.Name)
			}
		}
		return nil
	})
}

// Write writes one file of the workspace.
func (w *Workspace) Write(rel, content string) {
	w.t.Helper()
	p := filepath.Join(w.Root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// Result of one osiris command.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Command returns an *exec.Cmd for `osiris -C root args...` with the
// workspace's environment, for tests that need to signal the process.
func (w *Workspace) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, Binary(w.t), append([]string{"-C", w.Root}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.Env = append(cmd.Env, w.Env...)
	return cmd
}

// Osiris runs `osiris -C root args...` and returns its output and exit code
// (it never fails the test by itself; a 10-minute limit guards hangs).
func (w *Workspace) Osiris(args ...string) Result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := w.Command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			w.t.Fatalf("osiris %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	w.CheckArtifacts()
	return Result{Stdout: out.String(), Stderr: errb.String(), ExitCode: code}
}

// CheckArtifacts re-reads every artifact of every run directory under the
// workspace that it has not checked yet (a directory holding status.json
// and events.jsonl) and fails the test unless the file holds the rows and
// the table digest status.json records for it: what a consumer reads from
// parquet must be what the engine saw in memory. Osiris calls it after every
// command; tests that start the binary themselves call it once it ended.
func (w *Workspace) CheckArtifacts() {
	w.t.Helper()
	w.checkedMu.Lock()
	defer w.checkedMu.Unlock()
	if w.checked == nil {
		w.checked = map[string]bool{}
	}
	filepath.WalkDir(w.Root, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() || de.Name() != "status.json" {
			return nil
		}
		dir := filepath.Dir(p)
		if w.checked[dir] {
			return nil
		}
		if _, err := os.Stat(filepath.Join(dir, "events.jsonl")); err != nil {
			return nil
		}
		w.checked[dir] = true
		st := ReadStatus(w.t, dir)
		for _, s := range st.Steps {
			a := s.Artifact
			if a == nil {
				continue
			}
			rel, _ := filepath.Rel(w.Root, dir)
			path := filepath.Join(dir, filepath.FromSlash(a.Path))
			d, n, err := ParquetDigest(path)
			switch {
			case err != nil:
				w.t.Errorf("run %s, step %s: re-reading the artifact: %v", rel, s.ID, err)
			case n != a.Rows:
				w.t.Errorf("run %s, step %s: the artifact holds %d rows, status.json records %d", rel, s.ID, n, a.Rows)
			case d != a.TableDigest:
				w.t.Errorf("run %s, step %s: the artifact read back has table digest %s, status.json records %s (memory and parquet disagree)", rel, s.ID, d, a.TableDigest)
			}
		}
		return nil
	})
}

// ParquetDigest reads a parquet file back and returns its table digest and
// row count, computed the way the engine computes them on the stream.
func ParquetDigest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	pr, err := file.NewParquetReader(f)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	defer pr.Close()
	rows := component.ParquetBatchRows(pr.MetaData(), 4096, component.DefaultBatchBytes)
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: rows}, memory.DefaultAllocator)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	defer rr.Release()
	d, n, err := osexec.TableDigest(context.Background(), rr)
	if err != nil {
		return "", 0, fmt.Errorf("digest of %s: %w", path, err)
	}
	return d, n, nil
}

// MustRun runs `osiris run --json args...`, fails the test unless it exits
// 0, and returns the run directory (absolute).
func (w *Workspace) MustRun(args ...string) string {
	w.t.Helper()
	r := w.Osiris(append([]string{"--json", "run"}, args...)...)
	if r.ExitCode != 0 {
		w.t.Fatalf("osiris run %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.ExitCode, r.Stdout, r.Stderr)
	}
	return w.RunDirOf(r)
}

// RunDirOf extracts run_dir from `run --json` output.
func (w *Workspace) RunDirOf(r Result) string {
	w.t.Helper()
	var out struct {
		RunDir string `json:"run_dir"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.RunDir == "" {
		w.t.Fatalf("no run_dir in run --json output (%v):\n%s\nstderr:\n%s", err, r.Stdout, r.Stderr)
	}
	return filepath.Join(w.Root, filepath.FromSlash(out.RunDir))
}

// Status is status.json of a run directory.
type Status struct {
	Status     string              `json:"status"`
	RunID      string              `json:"run_id"`
	FailedStep string              `json:"failed_step"`
	Error      string              `json:"error"`
	RowsTotal  int64               `json:"rows_total"`
	Steps      []osexec.StepResult `json:"steps"`
}

// ReadStatus reads status.json of runDir.
func ReadStatus(t testing.TB, runDir string) Status {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, "status.json"))
	if err != nil {
		t.Fatalf("status.json: %v", err)
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("status.json: %v", err)
	}
	return s
}

// Step returns the step of a status by id (fails the test if absent).
func (s Status) Step(t testing.TB, id string) osexec.StepResult {
	t.Helper()
	for _, st := range s.Steps {
		if st.ID == id {
			return st
		}
	}
	t.Fatalf("status has no step %q", id)
	return osexec.StepResult{}
}

// ReadEvents reads events.jsonl of runDir.
func ReadEvents(t testing.TB, runDir string) []osexec.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, "events.jsonl"))
	if err != nil {
		t.Fatalf("events.jsonl: %v", err)
	}
	var out []osexec.Event
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var e osexec.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("events.jsonl line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// Index reads the runs of the workspace's run index
// (.osiris/index/runs.jsonl); compile records are left out.
func (w *Workspace) Index() []osexec.IndexedRun {
	w.t.Helper()
	all, err := osexec.ReadIndex(filepath.Join(w.Root, ".osiris"))
	if err != nil {
		w.t.Fatalf("reading the run index: %v", err)
	}
	var runs []osexec.IndexedRun
	for _, r := range all {
		if r.Record == osexec.RecordKindRun {
			runs = append(runs, r)
		}
	}
	return runs
}

// GrepTree returns the workspace-relative files under dirs (relative to
// the root) that contain any of needles.
func (w *Workspace) GrepTree(needles []string, dirs ...string) []string {
	w.t.Helper()
	var hits []string
	for _, d := range dirs {
		root := filepath.Join(w.Root, d)
		filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) {
					rel, _ := filepath.Rel(w.Root, p)
					hits = append(hits, rel+": "+n)
				}
			}
			return nil
		})
	}
	sort.Strings(hits)
	return hits
}

// Config says what goes into a test workspace's osiris.toml.
type Config struct {
	Name        string // [project].name; "e2e" when empty
	Budget      string // [run] memory_budget; "" keeps the default
	BatchRows   int    // [run] batch_rows; 0 keeps the default
	MaxParallel int    // [run] max_parallel_steps; 0 keeps the default
	Streaming   string // [run] streaming: "true", "false"; "" keeps the default
	Paths       string // the body of a [paths] table ("" writes none)
	// MySQLDB adds [connections.mysql.src] for that MariaDB database (created
	// if missing; the test skips, or fails under CI, without MariaDB).
	MySQLDB string
	// PGDB adds [connections.postgres.dst] for that PostgreSQL database.
	PGDB string
	// DuckDB adds [connections.duckdb.local] (warehouse.duckdb).
	DuckDB bool
	// Extra is appended to osiris.toml verbatim.
	Extra string
}

// NewConfiguredWorkspace writes osiris.toml from cfg plus files into a fresh
// workspace. Connection values come from ${VAR}s set in the workspace's
// environment, the way users keep secrets out of osiris.toml.
func NewConfiguredWorkspace(t testing.TB, cfg Config, files map[string]string) *Workspace {
	t.Helper()
	name := cfg.Name
	if name == "" {
		name = "e2e"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[project]\nname = %q\nprofile = \"dev\"\n", name)
	if cfg.Paths != "" {
		b.WriteString("\n[paths]\n" + cfg.Paths + "\n")
	}
	b.WriteString("\n[run]\n")
	if cfg.Budget != "" {
		fmt.Fprintf(&b, "memory_budget = %q\n", cfg.Budget)
	}
	if cfg.BatchRows > 0 {
		fmt.Fprintf(&b, "batch_rows = %d\n", cfg.BatchRows)
	}
	if cfg.MaxParallel > 0 {
		fmt.Fprintf(&b, "max_parallel_steps = %d\n", cfg.MaxParallel)
	}
	if cfg.Streaming != "" {
		fmt.Fprintf(&b, "streaming = %s\n", cfg.Streaming)
	}
	var env []string
	if cfg.MySQLDB != "" {
		testenv.MySQLDSN(t, cfg.MySQLDB) // skips without MariaDB; creates the database
		fmt.Fprintf(&b, `
[connections.mysql.src]
host = "${E2E_MYSQL_HOST}"
port = "${E2E_MYSQL_PORT}"
database = %q
user = "${E2E_MYSQL_USER}"
password = "${E2E_MYSQL_PASSWORD:-}"
`, cfg.MySQLDB)
		env = append(env, "E2E_MYSQL_HOST="+testenv.MySQLHost(), "E2E_MYSQL_PORT="+testenv.MySQLPort(),
			"E2E_MYSQL_USER="+testenv.MySQLUser(), "E2E_MYSQL_PASSWORD="+testenv.MySQLPassword())
	}
	if cfg.PGDB != "" {
		env = append(env, "E2E_PG_URL="+testenv.PGConnString(t, cfg.PGDB))
		b.WriteString("\n[connections.postgres.dst]\ndsn = \"${E2E_PG_URL}\"\n")
	}
	if cfg.DuckDB {
		b.WriteString("\n[connections.duckdb.local]\npath = \"warehouse.duckdb\"\n")
	}
	b.WriteString(cfg.Extra)
	all := map[string]string{"osiris.toml": b.String()}
	for k, v := range files {
		all[k] = v
	}
	w := NewWorkspace(t, all)
	w.Env = append(w.Env, env...)
	return w
}

// EventsNamed returns the events called name (of step, when step != "").
func EventsNamed(events []osexec.Event, name, step string) []osexec.Event {
	var out []osexec.Event
	for _, e := range events {
		if e.Event == name && (step == "" || e.Step == step) {
			out = append(out, e)
		}
	}
	return out
}

// MySQLExec runs statements one by one, failing the test on the first error.
func MySQLExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", shorten(s), err)
		}
	}
}

// SQLRows returns every row of a query (any database/sql driver: MariaDB,
// DuckDB) as its values joined by sep
// (NULL as null), sorted, so two tables compare whatever their row order.
func SQLRows(t testing.TB, db *sql.DB, sep, null, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", shorten(query), err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", shorten(query), err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = null
			if v.Valid {
				parts[i] = v.String
			}
		}
		out = append(out, strings.Join(parts, sep))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// PGRows is SQLRows for PostgreSQL (NULL as "NULL").
func PGRows(t testing.TB, conn *pgx.Conn, sep, query string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", shorten(query), err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v != nil {
				parts[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(parts, sep))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// PGExec runs statements on conn, failing the test on the first error.
func PGExec(t testing.TB, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", shorten(s), err)
		}
	}
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
