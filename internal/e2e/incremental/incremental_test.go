package incremental

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb", to read what duckdb.writer wrote
	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

const dbName = "osiris_t_incr"

// writers are the three writer steps every pipeline of this package has.
var writers = []string{"to-mysql", "to-postgres", "to-duckdb"}

// fixture is a MariaDB source table and its three targets.
type fixture struct {
	t        *testing.T
	w        *e2e.Workspace
	my       *sql.DB
	pg       *pgx.Conn
	src, dst string
}

// setup serialises creating the databases (two CREATE DATABASE at once
// collide in PostgreSQL).
var setup sync.Mutex

func newFixture(t *testing.T, remote bool) *fixture {
	t.Helper()
	setup.Lock()
	defer setup.Unlock()
	name := strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(strings.TrimPrefix(t.Name(), "Test")))
	cfg := e2e.Config{Name: "e2e-incr", MySQLDB: dbName, PGDB: dbName, DuckDB: true}
	if remote {
		cfg.Extra = "\n[remote.box]\nkind = \"local\"\n"
	}
	f := &fixture{t: t, w: e2e.NewConfiguredWorkspace(t, cfg, nil), my: testenv.MySQLDB(t, dbName), pg: testenv.PGConn(t, dbName),
		src: fmt.Sprintf("src_%s_%d", name, os.Getpid()), dst: fmt.Sprintf("dst_%s_%d", name, os.Getpid())}
	drop := func() {
		f.my.Exec("DROP TABLE IF EXISTS " + f.src)
		f.my.Exec("DROP TABLE IF EXISTS " + f.dst)
		f.pg.Exec(context.Background(), `DROP TABLE IF EXISTS "`+f.dst+`"`)
	}
	drop()
	t.Cleanup(drop)
	return f
}

// pipeline writes pipelines/p.yaml: the source table (filtered by where,
// when given) into the three targets (or only the writer steps named in
// only) with the writer keys in write (a YAML flow-mapping body, such as
// `write_mode: merge, primary_key: [id]`).
func (f *fixture) pipeline(where, write string, only ...string) {
	extract := fmt.Sprintf("connection: \"@mysql.src\", table: %s", f.src)
	if where != "" {
		extract += fmt.Sprintf(", where: %q", where)
	}
	target := func(id, component, conn string) string {
		if len(only) > 0 && !slices.Contains(only, id) {
			return ""
		}
		return fmt.Sprintf(`  - id: %s
    component: %s
    mode: write
    needs: [extract]
    config: {connection: "%s", table: %s, create_if_missing: true, %s}
`, id, component, conn, f.dst, write)
	}
	f.w.Write("pipelines/p.yaml", `oml_version: "0.1.0"
name: incr
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {`+extract+`}
`+target("to-mysql", "mysql.writer", "@mysql.src")+target("to-postgres", "postgres.writer", "@postgres.dst")+target("to-duckdb", "duckdb.writer", "@duckdb.local"))
}

// run runs the pipeline (with args) and returns its run directory; it
// fails the test unless the exit code is want.
func (f *fixture) run(want int, args ...string) (string, e2e.Result) {
	f.t.Helper()
	r := f.w.Osiris(append([]string{"--json", "run", "pipelines/p.yaml"}, args...)...)
	if r.ExitCode != want {
		f.t.Fatalf("osiris run %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.ExitCode, want, r.Stdout, r.Stderr)
	}
	if want == 2 { // refused before a run started
		return "", r
	}
	return f.w.RunDirOf(r), r
}

// rows returns each target's rows of query (over table {T}, which names the
// target), sorted, one string per row, NULL as NULL.
func (f *fixture) rows(query string) map[string][]string {
	f.t.Helper()
	out := map[string][]string{
		"mysql":    e2e.SQLRows(f.t, f.my, "|", "NULL", strings.ReplaceAll(strings.ReplaceAll(query, "{T}", "`"+f.dst+"`"), "AS BIGINT", "AS SIGNED")),
		"postgres": e2e.PGRows(f.t, f.pg, "|", strings.ReplaceAll(query, "{T}", `"`+f.dst+`"`)),
	}
	db, err := sql.Open("duckdb", filepath.Join(f.w.Root, "warehouse.duckdb")+"?access_mode=read_only")
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	out["duckdb"] = e2e.SQLRows(f.t, db, "|", "NULL", strings.ReplaceAll(query, "{T}", `"`+f.dst+`"`))
	return out
}

// source is the source's rows of query (over table {T}).
func (f *fixture) source(query string) []string {
	return e2e.SQLRows(f.t, f.my, "|", "NULL", strings.ReplaceAll(query, "{T}", "`"+f.src+"`"))
}

// equal fails the test unless every target holds want.
func (f *fixture) equal(what string, got map[string][]string, want []string) {
	f.t.Helper()
	for target, rows := range got {
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			f.t.Errorf("%s: %s holds\n%s\nwant\n%s", what, target, strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
}

// columnTypes returns each target's type of column col.
func (f *fixture) columnTypes(col string) map[string]string {
	f.t.Helper()
	out := map[string]string{}
	var s string
	if err := f.my.QueryRow("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?", f.dst, col).Scan(&s); err != nil {
		f.t.Fatalf("mysql type of %s: %v", col, err)
	}
	out["mysql"] = s
	if err := f.pg.QueryRow(context.Background(), "SELECT data_type FROM information_schema.columns WHERE table_name = $1 AND column_name = $2", f.dst, col).Scan(&s); err != nil {
		f.t.Fatalf("postgres type of %s: %v", col, err)
	}
	out["postgres"] = s
	db, err := sql.Open("duckdb", filepath.Join(f.w.Root, "warehouse.duckdb")+"?access_mode=read_only")
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow("SELECT data_type FROM information_schema.columns WHERE table_name = ? AND column_name = ?", f.dst, col).Scan(&s); err != nil {
		f.t.Fatalf("duckdb type of %s: %v", col, err)
	}
	out["duckdb"] = s
	return out
}

// Merge updates the rows whose key is in the input and inserts the others:
// after a source update and insert, every target equals the source.
func TestMerge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e2e.MySQLExec(t, f.my,
		"CREATE TABLE "+f.src+" (id INT PRIMARY KEY, name VARCHAR(40), amount INT)",
		"INSERT INTO "+f.src+" VALUES (1, 'ada', 10), (2, 'bob', 20), (3, 'cy', 30)")
	f.pipeline("", "write_mode: merge, primary_key: [id]")
	f.run(0)
	const q = "SELECT id, name, amount FROM {T}"
	f.equal("first run", f.rows(q), f.source(q))

	e2e.MySQLExec(t, f.my,
		"UPDATE "+f.src+" SET name = 'bobby', amount = 21 WHERE id = 2",
		"UPDATE "+f.src+" SET amount = NULL WHERE id = 3",
		"INSERT INTO "+f.src+" VALUES (4, 'dee', 40), (5, 'eve', 50)")
	runDir, _ := f.run(0)
	want := f.source(q)
	if len(want) != 5 {
		t.Fatalf("source has %d rows", len(want))
	}
	f.equal("after merge", f.rows(q), want)
	st := e2e.ReadStatus(t, runDir)
	for _, s := range writers {
		if got := st.Step(t, s).RowsOut; got != 5 {
			t.Errorf("%s: rows_out %d, want 5", s, got)
		}
	}
	// upsert stays merge's synonym.
	e2e.MySQLExec(t, f.my, "UPDATE "+f.src+" SET name = 'ada2' WHERE id = 1")
	f.pipeline("", "write_mode: upsert, primary_key: [id]")
	f.run(0)
	f.equal("after upsert", f.rows(q), f.source(q))
}

// delete+insert replaces the target rows of the input's delete_key values:
// the rows of group b are reloaded from a filtered extract (one gone, one
// changed, one new), group a is untouched.
func TestDeleteInsert(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e2e.MySQLExec(t, f.my,
		"CREATE TABLE "+f.src+" (grp VARCHAR(10), id INT, v INT)",
		"INSERT INTO "+f.src+" VALUES ('a', 1, 1), ('a', 2, 2), ('b', 3, 3), ('b', 4, 4)")
	f.pipeline("", "write_mode: append")
	f.run(0)
	const q = "SELECT grp, id, v FROM {T}"
	f.equal("first run", f.rows(q), f.source(q))

	e2e.MySQLExec(t, f.my,
		"DELETE FROM "+f.src+" WHERE id = 3",
		"UPDATE "+f.src+" SET v = 40 WHERE id = 4",
		"INSERT INTO "+f.src+" VALUES ('b', 5, 5)",
		// Changed in the source but outside the extract: the target keeps
		// its old value, proving only group b was touched.
		"UPDATE "+f.src+" SET v = 100 WHERE id = 1")
	f.pipeline("grp = 'b'", "write_mode: delete+insert, delete_key: [grp]")
	runDir, _ := f.run(0)
	want := []string{"a|1|1", "a|2|2", "b|4|40", "b|5|5"}
	f.equal("after delete+insert", f.rows(q), want)
	st := e2e.ReadStatus(t, runDir)
	for _, s := range writers {
		if got := st.Step(t, s).RowsOut; got != 2 {
			t.Errorf("%s: rows_out %d, want 2", s, got)
		}
	}
}

// delete+insert without delete_key is refused by validation (exit 2,
// naming the step's write_mode line).
func TestDeleteInsertNeedsDeleteKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.pipeline("", "write_mode: delete+insert")
	_, r := f.run(2)
	if !strings.Contains(r.Stderr, "delete_key") || !strings.Contains(r.Stderr, "p.yaml:") {
		t.Errorf("stderr does not say delete_key is needed, at file:line:\n%s", r.Stderr)
	}
}

// evolve sets up the source (id, name, n INT, amt DECIMAL(6,2)), loads
// it, then adds a column, widens n to BIGINT and amt to DECIMAL(12,4) in
// the source, with one new row whose n and amt only fit the wider types.
func evolve(t *testing.T, f *fixture, write string, args ...string) string {
	e2e.MySQLExec(t, f.my,
		"CREATE TABLE "+f.src+" (id INT, name VARCHAR(40), n INT, amt DECIMAL(6,2))",
		"INSERT INTO "+f.src+" VALUES (1, 'ada', 10, 1.50), (2, 'bob', 20, NULL)")
	f.pipeline("", write)
	f.run(0, args...)
	e2e.MySQLExec(t, f.my,
		"ALTER TABLE "+f.src+" ADD COLUMN last_name VARCHAR(40), MODIFY n BIGINT, MODIFY amt DECIMAL(12,4)",
		"INSERT INTO "+f.src+" VALUES (3, 'cy', 5000000000, 12345678.1234, 'young')")
	f.pipeline("id > 2", write)
	runDir, _ := f.run(0, args...)
	return runDir
}

// A column added in the source appears in every target, NULL in the rows
// loaded before; an INT that became BIGINT widens the target column; the
// schema_changed event says what changed.
func TestSchemaEvolutionAdd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	runDir := evolve(t, f, "write_mode: append")
	checkEvolved(t, f, runDir)
}

// The same through --remote (local kind).
func TestSchemaEvolutionAddRemote(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	runDir := evolve(t, f, "write_mode: append", "--remote", "box")
	checkEvolved(t, f, runDir)
}

func checkEvolved(t *testing.T, f *fixture, runDir string) {
	t.Helper()
	f.equal("after the evolved load", f.rows("SELECT id, name, n, CAST(amt * 10000 AS BIGINT), last_name FROM {T}"),
		[]string{"1|ada|10|15000|NULL", "2|bob|20|NULL|NULL", "3|cy|5000000000|123456781234|young"})
	types := f.columnTypes("n")
	for target, want := range map[string]string{"mysql": "bigint", "postgres": "bigint", "duckdb": "BIGINT"} {
		if !strings.HasPrefix(types[target], want) {
			t.Errorf("%s: column n is %s, want %s", target, types[target], want)
		}
	}
	var scale int
	if err := f.pg.QueryRow(context.Background(), "SELECT numeric_precision, numeric_scale FROM information_schema.columns WHERE table_name = $1 AND column_name = 'amt'", f.dst).Scan(new(int), &scale); err != nil || scale != 4 {
		t.Errorf("postgres: amt has scale %d (%v), want 4", scale, err)
	}
	events := e2e.ReadEvents(t, runDir)
	for _, s := range writers {
		ev := e2e.EventsNamed(events, osexec.EventSchemaChanged, s)
		if len(ev) != 1 {
			t.Errorf("%s: %d schema_changed events, want 1", s, len(ev))
			continue
		}
		sum, _ := ev[0].Fields["summary"].(string)
		if !strings.Contains(sum, "added last_name") || !strings.Contains(sum, "widened n") || !strings.Contains(sum, "amt:") {
			t.Errorf("%s: schema_changed summary %q does not name the added and widened columns", s, sum)
		}
	}
	// osiris logs diff shows the change against the previous run.
	r := f.w.Osiris("logs", "diff")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "schema_changed") || !strings.Contains(r.Stdout, "last_name") {
		t.Errorf("logs diff (exit %d) does not show the schema change:\n%s\n%s", r.ExitCode, r.Stdout, r.Stderr)
	}
}

// A column that is a number in the target arriving as text is refused
// before anything is written: exit 1, every target unchanged, the error
// names the column and both types.
func TestSchemaEvolutionIncompatible(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e2e.MySQLExec(t, f.my,
		"CREATE TABLE "+f.src+" (id INT, code INT)",
		"INSERT INTO "+f.src+" VALUES (1, 10), (2, 20)")
	f.pipeline("", "write_mode: append")
	f.run(0)
	const q = "SELECT id, code FROM {T}"
	before := f.rows(q)
	e2e.MySQLExec(t, f.my,
		"ALTER TABLE "+f.src+" MODIFY code VARCHAR(10)",
		"INSERT INTO "+f.src+" VALUES (3, 'x30')")
	for _, w := range writers { // one writer a run: each must refuse by itself
		f.pipeline("", "write_mode: append", w)
		runDir, _ := f.run(1)
		st := e2e.ReadStatus(t, runDir)
		if st.Status != osexec.StatusFailed || st.FailedStep != w {
			t.Errorf("%s: status %s, failed step %q", w, st.Status, st.FailedStep)
		}
		// The column and both types: int(11)/integer/INTEGER in the
		// target, LONGTEXT/text/VARCHAR in the input.
		msg := strings.ToLower(st.Error)
		if !strings.Contains(msg, `"code"`) || !strings.Contains(msg, "incompatible") || !strings.Contains(msg, "int") || !(strings.Contains(msg, "text") || strings.Contains(msg, "varchar")) {
			t.Errorf("%s: error does not name the column and both types: %s", w, st.Error)
		}
	}
	f.equal("after the refused loads", f.rows(q), before["mysql"])
}

// schema_evolution: fail refuses a new input column: exit 1, targets
// unchanged.
func TestSchemaEvolutionFail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e2e.MySQLExec(t, f.my,
		"CREATE TABLE "+f.src+" (id INT, name VARCHAR(40))",
		"INSERT INTO "+f.src+" VALUES (1, 'ada')")
	f.pipeline("", "write_mode: append, schema_evolution: fail")
	f.run(0)
	e2e.MySQLExec(t, f.my,
		"ALTER TABLE "+f.src+" ADD COLUMN last_name VARCHAR(40)",
		"INSERT INTO "+f.src+" VALUES (2, 'bob', 'b')")
	for _, w := range writers { // one writer a run: each must refuse by itself
		f.pipeline("", "write_mode: append, schema_evolution: fail", w)
		runDir, _ := f.run(1)
		if st := e2e.ReadStatus(t, runDir); st.FailedStep != w || !strings.Contains(st.Error, "schema_evolution: fail") || !strings.Contains(st.Error, "last_name") {
			t.Errorf("%s: failed step %q, error does not say schema_evolution: fail refused last_name: %s", w, st.FailedStep, st.Error)
		}
	}
	f.equal("after the refused loads", f.rows("SELECT * FROM {T}"), []string{"1|ada"})
}

// A NOT NULL target column without a default that the input lacks is
// refused before anything is written; a column with a default is no
// difference (schema_evolution: fail loads it) and fills itself.
func TestSchemaEvolutionMissingNotNull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	e2e.MySQLExec(t, f.my,
		"CREATE TABLE "+f.src+" (id INT, name VARCHAR(40))",
		"INSERT INTO "+f.src+" VALUES (1, 'ada')",
		"CREATE TABLE "+f.dst+" (id INT, name TEXT, must INT NOT NULL, tag VARCHAR(10) NOT NULL DEFAULT 'd')")
	e2e.PGExec(t, f.pg, `CREATE TABLE "`+f.dst+`" (id int, name text, must int NOT NULL, tag text NOT NULL DEFAULT 'd')`)
	duck, err := sql.Open("duckdb", filepath.Join(f.w.Root, "warehouse.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	e2e.MySQLExec(t, duck, `CREATE TABLE "`+f.dst+`" (id INTEGER, name VARCHAR, must INTEGER NOT NULL, tag VARCHAR NOT NULL DEFAULT 'd')`)
	duck.Close()
	for _, w := range writers {
		f.pipeline("", "write_mode: append", w)
		runDir, _ := f.run(1)
		st := e2e.ReadStatus(t, runDir)
		if st.FailedStep != w || !strings.Contains(st.Error, `"must"`) || !strings.Contains(st.Error, "NOT NULL") {
			t.Errorf("%s: failed step %q; error does not name the NOT NULL column: %s", w, st.FailedStep, st.Error)
		}
	}
	const q = "SELECT id, name, tag FROM {T}"
	f.equal("after the refused loads", f.rows(q), nil)

	e2e.MySQLExec(t, f.my, "ALTER TABLE "+f.dst+" DROP COLUMN must")
	e2e.PGExec(t, f.pg, `ALTER TABLE "`+f.dst+`" DROP COLUMN must`)
	if duck, err = sql.Open("duckdb", filepath.Join(f.w.Root, "warehouse.duckdb")); err != nil {
		t.Fatal(err)
	}
	e2e.MySQLExec(t, duck, `ALTER TABLE "`+f.dst+`" DROP COLUMN must`)
	duck.Close()
	f.pipeline("", "write_mode: append, schema_evolution: fail")
	f.run(0)
	f.equal("after the load", f.rows(q), []string{"1|ada|d"})
}
