package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

const dbMovies = "osiris_compat_movies"

// loadPythonMovies (re)creates Osiris-Python's demo schema: movies and
// directors, deterministic, with NULLs where the demo's query filters.
func loadPythonMovies(t *testing.T) {
	db := testenv.MySQLDB(t, dbMovies)
	e2e.MySQLExec(t, db,
		"DROP TABLE IF EXISTS movies, directors",
		`CREATE TABLE directors (director_id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, nationality VARCHAR(50) NULL)`,
		`CREATE TABLE movies (movie_id INT PRIMARY KEY, title VARCHAR(200) NOT NULL, release_year INT NULL,
			director_id INT NULL, genre VARCHAR(50) NULL, runtime_minutes INT NULL,
			budget_usd DECIMAL(15,2) NULL, box_office_usd DECIMAL(15,2) NULL)`)
	var b strings.Builder
	b.WriteString("INSERT INTO directors VALUES ")
	for i := 1; i <= 40; i++ {
		if i > 1 {
			b.WriteString(",")
		}
		nat := "NULL"
		if i%4 != 0 {
			nat = fmt.Sprintf("'%s'", []string{"French", "Québécois", "American"}[i%3])
		}
		fmt.Fprintf(&b, "(%d, 'Réalisateur %d', %s)", i, i, nat)
	}
	e2e.MySQLExec(t, db, b.String())
	b.Reset()
	b.WriteString("INSERT INTO movies VALUES ")
	for i := 1; i <= 500; i++ {
		if i > 1 {
			b.WriteString(",")
		}
		dir, budget, box := fmt.Sprint(i%45+1), fmt.Sprintf("%d.00", 1000000+i*7919), fmt.Sprintf("%d.00", 2500000+i*104729)
		if i%45 >= 40 {
			dir = fmt.Sprint(i%45 + 1) // no such director: dropped by the join
		}
		if i%13 == 0 {
			dir = "NULL"
		}
		if i%17 == 0 {
			budget = "NULL"
		}
		if i%19 == 0 {
			box = "NULL"
		}
		fmt.Fprintf(&b, "(%d, 'Film %d', %d, %s, '%s', %d, %s, %s)", i, i, 1970+i%50, dir,
			[]string{"Drama", "Comédie", "Action", "Horror", "Sci-Fi"}[i%5], 80+i%70, budget, box)
	}
	e2e.MySQLExec(t, db, b.String())
}

// wantDirectorStats is the demo's aggregate computed by MariaDB (the
// columns whose text is the same in both engines).
const wantStatsSQL = `
	SELECT m.director_id, d.name, COUNT(*), COUNT(DISTINCT m.genre), MIN(m.release_year), MAX(m.release_year),
	       CAST(ROUND(SUM(m.box_office_usd), 0) AS SIGNED)
	FROM movies m JOIN directors d ON m.director_id = d.director_id
	WHERE m.director_id IS NOT NULL AND m.budget_usd IS NOT NULL AND m.box_office_usd IS NOT NULL
	GROUP BY m.director_id, d.name`

func statsSQL(table string) string {
	return `SELECT director_id::text, director_name::text, movie_count::text, unique_genres::text,
		first_movie_year::text, latest_movie_year::text, total_box_office_usd::bigint::text FROM ` + table
}

func readPipeline(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPythonExampleShapes runs the demo, append and debug examples (and the
// debug example with no needs at all) against MariaDB and PostgreSQL.
func TestPythonExampleShapes(t *testing.T) {
	loadPythonMovies(t)
	my := testenv.MySQLDB(t, dbMovies)
	pg := testenv.PGConn(t, dbMovies)
	tables := []string{"director_stats_replace", "director_stats_append", "director_stats_debug", "director_stats_debug_implicit"}
	for _, tb := range tables {
		e2e.PGExec(t, pg, "DROP TABLE IF EXISTS "+tb)
	}
	files := map[string]string{}
	for _, n := range []string{"demo", "append", "debug", "debug_no_needs"} {
		files["pipelines/"+n+".yaml"] = readPipeline(t, "mysql_duckdb_supabase_"+n+".yaml")
	}
	w := pythonWorkspace(t, dbMovies, dbMovies, files)
	want := sqlRows(t, my, wantStatsSQL)
	var joined int
	if err := my.QueryRow(`SELECT COUNT(*) FROM movies m JOIN directors d ON m.director_id = d.director_id`).Scan(&joined); err != nil {
		t.Fatal(err)
	}
	if len(want) < 30 || joined < 300 {
		t.Fatalf("seed too small: %d directors, %d joined movies", len(want), joined)
	}

	for _, c := range []struct{ pipeline, table string }{
		{"demo", "director_stats_replace"},
		{"append", "director_stats_append"},
		{"debug", "director_stats_debug"},
		{"debug_no_needs", "director_stats_debug_implicit"},
	} {
		t.Run(c.pipeline, func(t *testing.T) {
			p := "pipelines/" + c.pipeline + ".yaml"
			validateOK(t, w, p)
			_, st := runOK(t, w, p)
			if got := pgRows(t, pg, statsSQL(c.table)); !equalRows(got, want) {
				t.Errorf("%s differs from MariaDB's aggregate: %s", c.table, diffRows(got, want))
			}
			if got := st.Step(t, "extract-movies").RowsOut; got != int64(joined) {
				t.Errorf("extract-movies: %d rows, want %d", got, joined)
			}
		})
	}

	// The debug taps: the extract as read, and the DuckDB output twice.
	for _, dir := range []string{"debug_out", "debug_out_implicit"} {
		extract := readLines(t, filepath.Join(w.Root, dir, "mysql_extract.csv"))
		if extract[0] != "movie_id,title,release_year,director_id,genre,runtime_minutes,budget_usd,box_office_usd,director_name,director_nationality" ||
			len(extract)-1 != joined {
			t.Errorf("%s/mysql_extract.csv: header %q, %d rows, want %d", dir, extract[0], len(extract)-1, joined)
		}
		if !strings.Contains(strings.Join(extract, "\n"), "Réalisateur") {
			t.Errorf("%s/mysql_extract.csv lost the accents", dir)
		}
		duck := readLines(t, filepath.Join(w.Root, dir, "duckdb_output.csv"))
		final := readLines(t, filepath.Join(w.Root, dir, "final_output_to_supabase.csv"))
		if strings.Join(duck, "\n") != strings.Join(final, "\n") || len(duck)-1 != len(want) {
			t.Errorf("%s: duckdb_output.csv (%d rows) and final_output_to_supabase.csv (%d rows) differ or miss rows (want %d)",
				dir, len(duck)-1, len(final)-1, len(want))
		}
	}

	// Without needs the debug shape means what the explicit one says.
	for _, n := range []string{"debug", "debug_no_needs"} {
		r := w.Osiris("run", "--dry-run", "pipelines/"+n+".yaml")
		if r.ExitCode != 0 {
			t.Fatalf("dry run %s: %s%s", n, r.Stdout, r.Stderr)
		}
		if n == "debug_no_needs" {
			for _, s := range []string{"debug-mysql-extract", "compute-director-stats"} {
				if !strings.Contains(r.Stdout, s) {
					t.Errorf("plan misses %s", s)
				}
			}
			if got := strings.Count(r.Stdout, "(implicit: the nearest earlier step that produces a table)"); got != 5 {
				t.Errorf("%d implicit dependencies in the plan, want 5:\n%s", got, r.Stdout)
			}
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	rest := append([]string(nil), lines[1:]...)
	sort.Strings(rest)
	return append(lines[:1:1], rest...)
}
