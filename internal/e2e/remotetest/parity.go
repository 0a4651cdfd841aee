package remotetest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

// dbName is the MariaDB and PostgreSQL database of one sandbox's tests.
func dbName(sb Sandbox) string { return "osiris_rt_" + sb.id() }

// seedPipeline is spec 02's example on the test databases: MySQL join →
// DuckDB input_df → Postgres replace.
func seedPipeline(table string) string {
	return `oml_version: "0.1.0"
name: remote-seed
steps:
  - id: extract-movies
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.src"
      query: |
        SELECT m.movie_id, m.title, m.director_id, d.name AS director_name
        FROM movies m JOIN directors d ON m.director_id = d.director_id
  - id: compute-director-stats
    component: duckdb.processor
    mode: transform
    needs: [extract-movies]
    config:
      query: |
        SELECT director_id, director_name, COUNT(*) AS movie_count
        FROM input_df GROUP BY ALL HAVING COUNT(*) >= 1
  - id: write-director-stats
    component: postgres.writer
    mode: write
    needs: [compute-director-stats]
    config:
      connection: "@postgres.dst"
      table: ` + table + `
      write_mode: replace
      create_if_missing: true
`
}

// loadMovies (re)creates movies and directors in the sandbox's MariaDB
// database, with NULLs and non-ASCII text.
func loadMovies(t *testing.T, sb Sandbox) {
	t.Helper()
	db := testenv.MySQLDB(t, dbName(sb))
	e2e.MySQLExec(t, db,
		"DROP TABLE IF EXISTS movies", "DROP TABLE IF EXISTS directors",
		"CREATE TABLE directors (director_id INT PRIMARY KEY, name VARCHAR(100) NULL)",
		"CREATE TABLE movies (movie_id INT PRIMARY KEY, title VARCHAR(200) NULL, director_id INT NULL)")
	var b strings.Builder
	b.WriteString("INSERT INTO directors VALUES ")
	for i := 1; i <= 120; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		name := fmt.Sprintf("'Réalisateur %03d'", i)
		if i%17 == 0 {
			name = "NULL"
		}
		fmt.Fprintf(&b, "(%d,%s)", i, name)
	}
	e2e.MySQLExec(t, db, b.String())
	b.Reset()
	b.WriteString("INSERT INTO movies VALUES ")
	for i := 1; i <= 3000; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		title := fmt.Sprintf("'Film «%d»'", i)
		if i%23 == 0 {
			title = "NULL"
		}
		fmt.Fprintf(&b, "(%d,%s,%d)", i, title, i*7919%130+1)
	}
	e2e.MySQLExec(t, db, b.String())
}

// newDBWorkspace is a workspace with the sandbox, MariaDB and PostgreSQL,
// one step at a time (so that event order is comparable run to run).
func newDBWorkspace(t *testing.T, sb Sandbox, budget string, files map[string]string) *e2e.Workspace {
	t.Helper()
	loadMovies(t, sb)
	return e2e.NewConfiguredWorkspace(t, e2e.Config{
		Budget: budget, MaxParallel: 1, MySQLDB: dbName(sb), PGDB: dbName(sb), Extra: "\n" + sb.TOML + "\n",
	}, files)
}

// Parity: the offline example, the seed pipeline, a two-input DuckDB join
// and a budget-0 pipeline give, run locally and in the sandbox, the same
// step events in the same order, the same rows and table digests per step,
// the same target tables; the artifacts come back verified.
func Parity(t *testing.T, sb Sandbox) {
	t.Run("offline example", func(t *testing.T) {
		parent := e2e.NewWorkspace(t, nil)
		if r := parent.Osiris("init", "demo"); r.ExitCode != 0 {
			t.Fatalf("osiris init: exit %d\n%s", r.ExitCode, r.Stderr)
		}
		w := e2e.NewWorkspaceAt(t, filepath.Join(parent.Root, "demo"))
		toml := strings.Replace(readFile(t, filepath.Join(w.Root, "osiris.toml")), "max_parallel_steps = 2", "max_parallel_steps = 1", 1)
		w.Write("osiris.toml", toml+"\n"+sb.TOML+"\n")
		targets := func() []string {
			rows := duckRows(t, filepath.Join(w.Root, "warehouse.duckdb"), "SELECT COLUMNS(*)::VARCHAR FROM director_stats")
			for _, r := range duckRows(t, "", "SELECT COLUMNS(*)::VARCHAR FROM read_parquet('"+filepath.Join(w.Root, "output", "director_stats.parquet")+"')") {
				rows = append(rows, "parquet:"+r)
			}
			return rows
		}
		local := w.MustRun("pipelines/movies_offline.yaml")
		want := targets()
		w.Write("output/director_stats.parquet", "") // the remote run must write it back
		remoteDir := w.MustRun("pipelines/movies_offline.yaml", "--remote", sb.Name)
		compareRuns(t, local, remoteDir)
		sameRows(t, "warehouse.duckdb director_stats and output/director_stats.parquet", want, targets())
	})

	t.Run("seed pipeline", func(t *testing.T) {
		table := "rt_director_stats_" + sb.id()
		w := newDBWorkspace(t, sb, "", map[string]string{"pipelines/seed.yaml": seedPipeline(table)})
		q := "SELECT director_id::text, coalesce(director_name, 'NULL'), movie_count::text FROM " + table
		local := w.MustRun("pipelines/seed.yaml")
		want := pgRows(t, dbName(sb), q)
		pgExec(t, dbName(sb), "DROP TABLE "+table)
		remoteDir := w.MustRun("pipelines/seed.yaml", "--remote", sb.Name)
		compareRuns(t, local, remoteDir)
		sameRows(t, "Postgres "+table, want, pgRows(t, dbName(sb), q))
	})

	t.Run("two inputs joined in DuckDB", func(t *testing.T) {
		var orders, customers strings.Builder
		orders.WriteString("order_id,customer_id,amount\n")
		for i := 1; i <= 2500; i++ {
			fmt.Fprintf(&orders, "%d,%d,%d.%02d\n", i, i%97+1, i*31%1000, i%100)
		}
		customers.WriteString("customer_id,name\n")
		for i := 1; i <= 100; i++ {
			fmt.Fprintf(&customers, "%d,\"Kunde %d, Zürich\"\n", i, i)
		}
		w := e2e.NewConfiguredWorkspace(t, e2e.Config{MaxParallel: 1, Extra: "\n" + sb.TOML + "\n"}, map[string]string{
			"data/orders.csv":    orders.String(),
			"data/customers.csv": customers.String(),
			"pipelines/join.yaml": `oml_version: "0.1.0"
name: remote-join
steps:
  - id: extract-orders
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/orders.csv}
  - id: extract-customers
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/customers.csv}
  - id: join
    component: duckdb.processor
    mode: transform
    inputs:
      orders: "${extract-orders.df}"
      customers: "${extract-customers.df}"
    config:
      query: |
        SELECT c.customer_id, c.name, COUNT(*) AS orders, SUM(o.amount) AS total
        FROM orders o JOIN customers c USING (customer_id)
        GROUP BY ALL ORDER BY c.customer_id
  - id: write-csv
    component: filesystem.csv_writer
    mode: write
    needs: [join]
    config: {path: output/joined.csv}
`})
		local := w.MustRun("pipelines/join.yaml")
		want := readFile(t, filepath.Join(w.Root, "output", "joined.csv"))
		w.Write("output/joined.csv", "stale")
		remoteDir := w.MustRun("pipelines/join.yaml", "--remote", sb.Name)
		compareRuns(t, local, remoteDir)
		if got := readFile(t, filepath.Join(w.Root, "output", "joined.csv")); got != want || len(want) < 1000 {
			t.Errorf("output/joined.csv after the remote run differs from the local run's (%d vs %d bytes)", len(got), len(want))
		}
	})

	t.Run("budget 0", func(t *testing.T) {
		table := "rt_budget0_" + sb.id()
		w := newDBWorkspace(t, sb, "0", map[string]string{"pipelines/seed.yaml": seedPipeline(table)})
		q := "SELECT director_id::text, coalesce(director_name, 'NULL'), movie_count::text FROM " + table
		local := w.MustRun("pipelines/seed.yaml")
		want := pgRows(t, dbName(sb), q)
		pgExec(t, dbName(sb), "DROP TABLE "+table)
		remoteDir := w.MustRun("pipelines/seed.yaml", "--remote", sb.Name)
		compareRuns(t, local, remoteDir)
		sameRows(t, "Postgres "+table, want, pgRows(t, dbName(sb), q))
	})
}

// SeedBug: the bug that lost Osiris-Python's data — an extractor's output
// feeding DuckDB inside the sandbox — cannot return: with budget 0 (through
// parquet) and unlimited (in memory) both runs succeed and inputs_resolved
// says where the input came from.
func SeedBug(t *testing.T, sb Sandbox) {
	for _, tc := range []struct{ budget, source string }{{"0", "parquet"}, {"unlimited", "memory"}} {
		t.Run("budget "+tc.budget, func(t *testing.T) {
			table := "rt_seedbug_" + sb.id() + "_" + map[string]string{"0": "zero", "unlimited": "unl"}[tc.budget]
			w := newDBWorkspace(t, sb, tc.budget, map[string]string{"pipelines/seed.yaml": seedPipeline(table)})
			runDir := w.MustRun("pipelines/seed.yaml", "--remote", sb.Name)
			st := e2e.ReadStatus(t, runDir)
			if st.Status != "success" || st.Step(t, "compute-director-stats").RowsIn != st.Step(t, "extract-movies").RowsOut || st.Step(t, "extract-movies").RowsOut == 0 {
				t.Fatalf("run %s: %+v", st.Status, st.Steps)
			}
			evs := e2e.EventsNamed(e2e.ReadEvents(t, runDir), "inputs_resolved", "compute-director-stats")
			if len(evs) != 1 {
				t.Fatalf("%d inputs_resolved events for compute-director-stats", len(evs))
			}
			inputs, _ := evs[0].Fields["inputs"].([]any)
			in, _ := inputs[0].(map[string]any)
			if len(inputs) != 1 || in["step"] != "extract-movies" || in["source"] != tc.source {
				t.Errorf("inputs_resolved: %v; want extract-movies from %s", evs[0].Fields["inputs"], tc.source)
			}
		})
	}
}

func pgExec(t *testing.T, db string, stmts ...string) {
	t.Helper()
	conn := testenv.PGConn(t, db)
	defer conn.Close(t.Context())
	e2e.PGExec(t, conn, stmts...)
}
