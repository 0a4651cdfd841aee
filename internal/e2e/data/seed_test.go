package data

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

// seedPipeline is spec 02's example, byte for byte.
const seedPipeline = `oml_version: "0.1.0"
name: mysql-duckdb-supabase-demo
params:                                   # optional
  min_movies: {default: 1, type: integer}
steps:
  - id: extract-movies
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.db_movies"
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
        FROM input_df GROUP BY ALL HAVING COUNT(*) >= ${params.min_movies}
  - id: write-director-stats
    component: supabase.writer
    mode: write
    needs: [compute-director-stats]
    config:
      connection: "@supabase.main"
      table: director_stats
      write_mode: replace
      primary_key: [director_id]
      create_if_missing: true
`

const seedTOML = `[project]
name = "movies"

[connections.mysql.db_movies]
host = "${MYSQL_HOST}"
port = "${MYSQL_PORT}"
database = "${MYSQL_DATABASE}"
user = "${MYSQL_USER}"
password = "${MYSQL_PASSWORD}"

[connections.supabase.main]
dsn = "${SUPABASE_DB_URL}"
`

// Seed data sizes: every director but a few has movies; some movies point
// to no director (dropped by the join), some have no title or no director.
const (
	seedDirectors = 300
	seedMovies    = 4000
)

// loadMovies (re)creates movies and directors in dbMovies, deterministic,
// with NULLs in every nullable column.
func loadMovies(t *testing.T, db *sql.DB) {
	t.Helper()
	e2e.MySQLExec(t, db,
		"DROP TABLE IF EXISTS movies",
		"DROP TABLE IF EXISTS directors",
		`CREATE TABLE directors (director_id INT PRIMARY KEY, name VARCHAR(100) NULL, nationality VARCHAR(50) NULL) ENGINE=InnoDB`,
		`CREATE TABLE movies (movie_id INT PRIMARY KEY, title VARCHAR(200) NULL, director_id INT NULL,
			release_year SMALLINT NULL, box_office DECIMAL(14,2) NULL) ENGINE=InnoDB`)
	var b strings.Builder
	b.WriteString("INSERT INTO directors VALUES ")
	for i := 1; i <= seedDirectors; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		name := fmt.Sprintf("'Director %03d ✓'", i)
		if i%29 == 0 {
			name = "NULL" // directors without a name still group on their id
		}
		if i%41 == 0 {
			name = "''" // empty, not NULL
		}
		fmt.Fprintf(&b, "(%d,%s,%s)", i, name, []string{"'FR'", "'US'", "NULL", "'JP'"}[i%4])
	}
	e2e.MySQLExec(t, db, b.String())
	b.Reset()
	b.WriteString("INSERT INTO movies VALUES ")
	for i := 1; i <= seedMovies; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		title := fmt.Sprintf("'Movie «%d»'", i)
		if i%31 == 0 {
			title = "NULL"
		}
		// Skewed so that movie counts vary (1 … dozens) and ids beyond
		// seedDirectors match nobody.
		dir := fmt.Sprint(i/2*7919%(seedDirectors+20) + 1)
		if i%2 == 0 {
			dir = fmt.Sprint(i%37 + 1)
		}
		if i%50 == 0 {
			dir = "NULL"
		}
		box := fmt.Sprintf("%d.%02d", i*1013%99991, i%100)
		if i%13 == 0 {
			box = "NULL"
		}
		fmt.Fprintf(&b, "(%d,%s,%s,%d,%s)", i, title, dir, 1950+i%75, box)
	}
	e2e.MySQLExec(t, db, b.String())
}

// The seed pipeline of spec 02 (MySQL join → DuckDB GROUP BY ALL HAVING →
// Supabase replace, create_if_missing) with its connections in osiris.toml
// through ${VAR}s: the Postgres table equals the same aggregate computed by
// MariaDB, and a second run replaces rather than appends.
func TestSeedPipelineMySQLDuckDBSupabase(t *testing.T) {
	t.Parallel()
	my := mysqlDB(t, dbMovies)
	loadMovies(t, my)
	pg := testenv.PGConn(t, dbE2E)
	e2e.PGExec(t, pg, "DROP TABLE IF EXISTS director_stats")

	w := newWorkspace(t, wsConfig{}, map[string]string{
		"pipelines/mysql_duckdb_supabase.yaml": seedPipeline,
	})
	w.Write("osiris.toml", seedTOML)
	w.Env = append(w.Env,
		"MYSQL_HOST="+testenv.MySQLHost(), "MYSQL_PORT="+testenv.MySQLPort(), "MYSQL_DATABASE="+dbMovies,
		"MYSQL_USER="+testenv.MySQLUser(), "MYSQL_PASSWORD="+testenv.MySQLPassword(),
		"SUPABASE_DB_URL="+testenv.PGConnString(t, dbE2E))

	want := sqlRows(t, my, `
		SELECT m.director_id, d.name, COUNT(*)
		FROM movies m JOIN directors d ON m.director_id = d.director_id
		GROUP BY m.director_id, d.name HAVING COUNT(*) >= 1`)
	var joined int64
	if err := my.QueryRow(`SELECT COUNT(*) FROM movies m JOIN directors d ON m.director_id = d.director_id`).Scan(&joined); err != nil {
		t.Fatal(err)
	}
	if len(want) < 200 || joined < 3000 {
		t.Fatalf("seed data too small to mean anything: %d groups, %d joined rows", len(want), joined)
	}

	const query = `SELECT director_id::text, director_name, movie_count::text FROM director_stats`
	for run := 1; run <= 2; run++ {
		runDir, st := runOK(t, w, "pipelines/mysql_duckdb_supabase.yaml")
		if got := st.Step(t, "extract-movies").RowsOut; got != joined {
			t.Errorf("run %d: extract-movies %d rows, want %d", run, got, joined)
		}
		checkArtifact(t, runDir, st, "extract-movies")
		checkArtifact(t, runDir, st, "compute-director-stats")
		if got := st.Step(t, "write-director-stats").RowsOut; got != int64(len(want)) {
			t.Errorf("run %d: write-director-stats wrote %d rows, want %d", run, got, len(want))
		}
		got := pgRows(t, pg, query)
		if !equalRows(got, want) {
			t.Errorf("run %d: Postgres director_stats differs from MariaDB's aggregate: %s", run, diffRows(got, want))
		}
	}

	// The table create_if_missing made has the primary key.
	pk := pgRows(t, pg, `SELECT a.attname::text FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = 'public.director_stats'::regclass AND i.indisprimary`)
	if strings.Join(pk, ",") != "director_id" {
		t.Errorf("primary key of director_stats: %v, want [director_id]", pk)
	}
}
