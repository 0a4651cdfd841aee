package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

const dbAllTables = "osiris_compat_alltables"

// allTablesPipeline is Osiris-Python's "export every table" shape: five
// extractor → writer pairs, no `needs` anywhere, its CSV writer keys.
const allTablesPipeline = `oml_version: "0.1.0"
name: mysql-all-tables
steps:
# --- ACTORS ---
- id: extract-actors
  component: mysql.extractor
  mode: read
  config:
    connection: "@mysql.db_movies"
    query: "SELECT * FROM actors"

- id: write-actors-csv
  component: filesystem.csv_writer
  mode: write
  config:
    path: "./output/actors.csv"
    delimiter: ","
    header: true
    encoding: "utf-8"
    newline: "lf"
    quotechar: '"'

# --- DIRECTORS ---
- id: extract-directors
  component: mysql.extractor
  mode: read
  config:
    connection: "@mysql.db_movies"
    query: "SELECT * FROM directors"

- id: write-directors
  component: supabase.writer
  mode: write
  config:
    connection: "@supabase.main"
    table: directors
    write_mode: replace
    primary_key: [director_id]
    create_if_missing: true

# --- MOVIE_ACTORS ---
- id: extract-movie-actors
  component: mysql.extractor
  mode: read
  config:
    connection: "@mysql.db_movies"
    query: "SELECT * FROM movie_actors"

- id: write-movie-actors-csv
  component: filesystem.csv_writer
  mode: write
  config:
    path: "./output/movie_actors.csv"
    delimiter: ","
    header: false
    encoding: "utf-8"
    newline: "crlf"

# --- MOVIES ---
- id: extract-movies
  component: mysql.extractor
  mode: read
  config:
    connection: "@mysql.db_movies"
    query: "SELECT * FROM movies"

- id: write-movies
  component: supabase.writer
  mode: write
  config:
    connection: "@supabase.main"
    table: movies
    write_mode: replace
    primary_key: [movie_id]
    create_if_missing: true

# --- REVIEWS ---
- id: extract-reviews
  component: mysql.extractor
  mode: read
  config:
    connection: "@mysql.db_movies"
    query: "SELECT * FROM reviews"

- id: write-reviews-csv
  component: filesystem.csv_writer
  mode: write
  config:
    path: "./output/reviews.csv"
    delimiter: ";"
    quotechar: "'"
    header: true
    encoding: "latin-1"
    newline: "lf"
`

func loadAllTables(t *testing.T) {
	db := testenv.MySQLDB(t, dbAllTables)
	e2e.MySQLExec(t, db,
		"DROP TABLE IF EXISTS actors, directors, movie_actors, movies, reviews",
		"CREATE TABLE actors (actor_id INT PRIMARY KEY, name VARCHAR(100) NULL, born DATE NULL)",
		"CREATE TABLE directors (director_id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, nationality VARCHAR(50) NULL)",
		"CREATE TABLE movie_actors (movie_id INT NOT NULL, actor_id INT NOT NULL, PRIMARY KEY (movie_id, actor_id))",
		"CREATE TABLE movies (movie_id INT PRIMARY KEY, title VARCHAR(200) NOT NULL, director_id INT NULL, budget DECIMAL(12,2) NULL)",
		"CREATE TABLE reviews (review_id INT PRIMARY KEY, movie_id INT NOT NULL, rating TINYINT NOT NULL, comment VARCHAR(200) NULL)")
	insert := func(table string, n int, row func(i int) string) {
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO %s VALUES ", table)
		for i := 1; i <= n; i++ {
			if i > 1 {
				b.WriteString(",")
			}
			b.WriteString("(" + row(i) + ")")
		}
		e2e.MySQLExec(t, db, b.String())
	}
	insert("actors", 300, func(i int) string {
		switch {
		case i%50 == 0:
			return fmt.Sprintf("%d, NULL, NULL", i)
		case i%7 == 0:
			return fmt.Sprintf("%d, 'Smith, Actor %d', '1970-01-%02d'", i, i, i%28+1)
		case i%5 == 0:
			return fmt.Sprintf("%d, 'Amélie %d', '1980-02-%02d'", i, i, i%28+1)
		}
		return fmt.Sprintf("%d, 'Actor %d', '1990-03-%02d'", i, i, i%28+1)
	})
	insert("directors", 100, func(i int) string {
		nat := "NULL"
		if i%3 != 0 {
			nat = fmt.Sprintf("'Côte %d'", i%4)
		}
		return fmt.Sprintf("%d, 'Director %d', %s", i, i, nat)
	})
	insert("movie_actors", 600, func(i int) string { return fmt.Sprintf("%d, %d", (i-1)/3+1, (i*37)%300+1) })
	insert("movies", 200, func(i int) string {
		budget := "NULL"
		if i%9 != 0 {
			budget = fmt.Sprintf("%d.%02d", i*100000, i%100)
		}
		dir := "NULL"
		if i%11 != 0 {
			dir = fmt.Sprint(i%100 + 1)
		}
		return fmt.Sprintf("%d, 'Movie %d', %s, %s", i, i, dir, budget)
	})
	insert("reviews", 400, func(i int) string {
		comment := "NULL"
		switch i % 4 {
		case 1:
			comment = fmt.Sprintf("'très bien %d'", i)
		case 2:
			comment = fmt.Sprintf("'it''s ok; %d'", i)
		case 3:
			comment = fmt.Sprintf("'plain %d'", i)
		}
		return fmt.Sprintf("%d, %d, %d, %s", i, i%200+1, i%5+1, comment)
	})
}

// csvLines is what a CSV writer with delim and quote writes for rows
// (tab-joined text, NULL for null), sorted; header first when given.
func csvLines(rows []string, delim, quote string) []string {
	var out []string
	for _, r := range rows {
		fields := strings.Split(r, "\t")
		for i, f := range fields {
			switch {
			case f == "NULL":
				fields[i] = ""
			case strings.Contains(f, delim) || strings.Contains(f, quote):
				fields[i] = quote + strings.ReplaceAll(f, quote, quote+quote) + quote
			}
		}
		out = append(out, strings.Join(fields, delim))
	}
	sort.Strings(out)
	return out
}

// fileLines splits a CSV file into header (when hasHeader) and sorted lines.
func fileLines(t *testing.T, text, newline string, hasHeader bool) (string, []string) {
	t.Helper()
	if !strings.HasSuffix(text, newline) {
		t.Fatalf("file does not end with %q: %q", newline, text[max(0, len(text)-40):])
	}
	lines := strings.Split(strings.TrimSuffix(text, newline), newline)
	header := ""
	if hasHeader {
		header, lines = lines[0], lines[1:]
	}
	sort.Strings(lines)
	return header, lines
}

func TestAllTablesPipelineWithoutNeeds(t *testing.T) {
	loadAllTables(t)
	my := testenv.MySQLDB(t, dbAllTables)
	pg := testenv.PGConn(t, dbAllTables)
	e2e.PGExec(t, pg, "DROP TABLE IF EXISTS directors", "DROP TABLE IF EXISTS movies")
	w := pythonWorkspace(t, dbAllTables, dbAllTables, map[string]string{"pipelines/mysql_all_tables.yaml": allTablesPipeline})

	validateOK(t, w, "pipelines/mysql_all_tables.yaml")
	dry := w.Osiris("run", "--dry-run", "pipelines/mysql_all_tables.yaml")
	if dry.ExitCode != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", dry.ExitCode, dry.Stdout, dry.Stderr)
	}
	for _, want := range []string{"needs: extract-reviews (implicit: the nearest earlier step that produces a table)"} {
		if !strings.Contains(dry.Stdout, want) {
			t.Errorf("dry run does not say %q:\n%s", want, dry.Stdout)
		}
	}
	if n := strings.Count(dry.Stdout, "needs: (root)"); n != 5 {
		t.Errorf("dry run shows %d root steps, want the 5 extractors:\n%s", n, dry.Stdout)
	}

	runDir, st := runOK(t, w, "pipelines/mysql_all_tables.yaml")

	// The extractors ran in parallel: with max_parallel_steps 4, at least
	// two extract steps were running at once.
	events := e2e.ReadEvents(t, runDir)
	if rs := e2e.EventsNamed(events, osexec.EventRunStart, ""); len(rs) != 1 || fmt.Sprint(rs[0].Fields["max_parallel_steps"]) != "4" {
		t.Fatalf("run_start: %+v", rs)
	}
	start, done := map[string]int64{}, map[string]int64{}
	for _, e := range events {
		if !strings.HasPrefix(e.Step, "extract-") {
			continue
		}
		switch e.Event {
		case osexec.EventStepStart:
			start[e.Step] = e.Seq
		case osexec.EventStepComplete:
			done[e.Step] = e.Seq
		}
	}
	overlapping := 0
	for a := range start {
		for b := range start {
			if a < b && start[a] < done[b] && start[b] < done[a] {
				overlapping++
			}
		}
	}
	if len(start) != 5 || len(done) != 5 || overlapping == 0 {
		t.Errorf("extractors did not overlap: starts %v, completes %v", start, done)
	}

	// Five correct tables.
	actors := sqlRows(t, my, "SELECT actor_id, name, born FROM actors")
	checkCSV(t, filepath.Join(w.Root, "output/actors.csv"), "\n", true, "actor_id,name,born", csvLines(actors, ",", `"`), false)
	pairs := sqlRows(t, my, "SELECT movie_id, actor_id FROM movie_actors")
	checkCSV(t, filepath.Join(w.Root, "output/movie_actors.csv"), "\r\n", false, "", csvLines(pairs, ",", `"`), false)
	reviews := sqlRows(t, my, "SELECT review_id, movie_id, rating, comment FROM reviews")
	checkCSV(t, filepath.Join(w.Root, "output/reviews.csv"), "\n", true, "review_id;movie_id;rating;comment", csvLines(reviews, ";", "'"), true)

	wantDirectors := sqlRows(t, my, "SELECT director_id, name, nationality FROM directors")
	if got := pgRows(t, pg, "SELECT director_id::text, name::text, nationality::text FROM directors"); !equalRows(got, wantDirectors) {
		t.Errorf("directors in PostgreSQL: %s", diffRows(got, wantDirectors))
	}
	wantMovies := sqlRows(t, my, "SELECT movie_id, title, director_id, budget FROM movies")
	if got := pgRows(t, pg, "SELECT movie_id::text, title::text, director_id::text, budget::text FROM movies"); !equalRows(got, wantMovies) {
		t.Errorf("movies in PostgreSQL: %s", diffRows(got, wantMovies))
	}
	for id, n := range map[string]int{"write-actors-csv": 300, "write-directors": 100, "write-movie-actors-csv": 600, "write-movies": 200, "write-reviews-csv": 400} {
		if got := st.Step(t, id).RowsOut; got != int64(n) {
			t.Errorf("%s wrote %d rows, want %d", id, got, n)
		}
	}
}

// checkCSV compares a written CSV file with the expected sorted lines;
// latin1 files are decoded first (and must hold latin-1 bytes, not UTF-8).
func checkCSV(t *testing.T, path, newline string, hasHeader bool, wantHeader string, want []string, latin1 bool) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if latin1 {
		if !strings.Contains(text, "tr\xe8s") {
			t.Errorf("%s: no latin-1 è byte", filepath.Base(path))
		}
		dec, err := charmap.ISO8859_1.NewDecoder().String(text)
		if err != nil {
			t.Fatal(err)
		}
		text = dec
	}
	header, lines := fileLines(t, text, newline, hasHeader)
	if header != wantHeader {
		t.Errorf("%s: header %q, want %q", filepath.Base(path), header, wantHeader)
	}
	if !equalRows(lines, want) {
		t.Errorf("%s: %s", filepath.Base(path), diffRows(lines, want))
	}
}
