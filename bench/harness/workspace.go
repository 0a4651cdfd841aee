package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// w1Query is the join of W1 and W3: 10 columns over every movie.
const w1Query = "SELECT m.movie_id, m.title, m.release_year, m.genre, m.runtime_minutes, m.budget_usd, m.box_office_usd, m.created_at, d.name AS director_name, d.nationality FROM movies m JOIN directors d ON m.director_id = d.director_id"

// w3Aggregate is W3's DuckDB step.
const w3Aggregate = "SELECT director_name, COUNT(*) AS movies, SUM(box_office_usd) AS box_office FROM input_df GROUP BY ALL"

// w4Aggregate is W4's DuckDB step over the CSV.
const w4Aggregate = "SELECT genre, release_year, COUNT(*) AS movies, SUM(budget_usd) AS budget, SUM(box_office_usd) AS box_office, AVG(runtime_minutes) AS avg_runtime FROM input_df GROUP BY ALL ORDER BY ALL"

// Pipeline files in every bench workspace.
const (
	w1File   = "pipelines/w1_extract.yaml"
	w2File   = "pipelines/w2_copy.yaml"
	w3File   = "pipelines/w3_seed.yaml"
	w4File   = "pipelines/w4_csv.yaml"
	w5File   = "pipelines/w5_compile.yaml"
	w4CSV    = "data/movies.csv"
	w5Seed   = "data/w5_seed.csv"
	w5Steps  = 1000
	w2Table  = "movies_w2"
	w3Table  = "director_stats_w3"
	pipeTbl  = "movies_pipe"
	w4Output = "out/w4_by_genre_year.csv"
)

// Memory budgets of the three bench workspaces.
const (
	budgetDefault = "512MiB"
	budgetZero    = "0"     // W4's baseline: every step output through parquet
	budgetSmall   = "64MiB" // W8
)

// osirisTOML is the workspace config; only the memory budget differs between
// the bench workspaces.
func osirisTOML(budget string, s servers) string {
	return fmt.Sprintf(`[project]
name = "bench"

[run]
memory_budget = %q

[connections.mysql.bench]
default = true
host = %q
port = %d
database = %q
user = %q
password = ""

[connections.postgres.bench]
default = true
dsn = %q
`, budget, s.MySQLHost, s.MySQLPort, mysqlDatabase, s.MySQLUser, s.pgURL()) + sandboxesTOML()
}

func w1Pipeline() string {
	return fmt.Sprintf(`oml_version: "0.1.0"
name: w1-extract
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.bench"
      query: %q
`, w1Query)
}

func w2Pipeline() string {
	return fmt.Sprintf(`oml_version: "0.1.0"
name: w2-copy
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.bench"
      table: movies
  - id: load
    component: postgres.writer
    mode: write
    needs: [extract]
    config:
      connection: "@postgres.bench"
      table: %s
      write_mode: replace
      primary_key: [movie_id]
      create_if_missing: true
`, w2Table)
}

func w3Pipeline() string {
	return fmt.Sprintf(`oml_version: "0.1.0"
name: w3-seed
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.bench"
      query: %q
  - id: per-director
    component: duckdb.processor
    mode: transform
    needs: [extract]
    config:
      query: %q
  - id: load
    component: postgres.writer
    mode: write
    needs: [per-director]
    config:
      connection: "@postgres.bench"
      table: %s
      write_mode: replace
      primary_key: [director_name]
      create_if_missing: true
`, w1Query, w3Aggregate, w3Table)
}

func w4Pipeline() string {
	return fmt.Sprintf(`oml_version: "0.1.0"
name: w4-csv
steps:
  - id: read-csv
    component: filesystem.csv_extractor
    mode: read
    config:
      path: %s
  - id: by-genre-year
    component: duckdb.processor
    mode: transform
    needs: [read-csv]
    config:
      query: %q
  - id: write-csv
    component: filesystem.csv_writer
    mode: write
    needs: [by-genre-year]
    config:
      path: %s
`, w4CSV, w4Aggregate, w4Output)
}

// w5Pipeline generates a pipeline of n steps: a CSV source, then DuckDB
// processors where every even step continues a chain and every odd step fans
// out from the step at half its index — long chains and wide levels at once.
func w5Pipeline(n int) string {
	var b strings.Builder
	b.WriteString("oml_version: \"0.1.0\"\nname: w5-compile\nsteps:\n")
	fmt.Fprintf(&b, "  - id: s0000\n    component: filesystem.csv_extractor\n    mode: read\n    needs: []\n    config:\n      path: %s\n", w5Seed)
	for i := 1; i < n; i++ {
		parent := i - 1
		if i%2 == 1 {
			parent = (i - 1) / 2
		}
		fmt.Fprintf(&b, "  - id: s%04d\n    component: duckdb.processor\n    mode: transform\n    needs: [s%04d]\n    config:\n      query: \"SELECT x + %d AS x FROM input_df\"\n", i, parent, i)
	}
	return b.String()
}

// pipeTableDDL recreates the raw pipe's target with the columns and primary
// key W2 loads (DECIMAL → NUMERIC, DATETIME → TIMESTAMP).
const pipeTableDDL = "DROP TABLE IF EXISTS " + pipeTbl + "; CREATE TABLE " + pipeTbl + ` (
  movie_id BIGINT PRIMARY KEY,
  title VARCHAR(200),
  release_year INT,
  director_id INT,
  genre VARCHAR(30),
  runtime_minutes INT,
  budget_usd NUMERIC(14,2),
  box_office_usd NUMERIC(14,2),
  created_at TIMESTAMP
)`

// writeWorkspace writes a bench workspace into dir: osiris.toml with the
// given memory budget and every pipeline.
func writeWorkspace(dir, budget string, s servers) error {
	files := map[string]string{
		"osiris.toml": osirisTOML(budget, s),
		".gitignore":  "run_logs/\n.osiris/\n",
		w1File:        w1Pipeline(),
		w2File:        w2Pipeline(),
		w3File:        w3Pipeline(),
		w4File:        w4Pipeline(),
		w5File:        w5Pipeline(w5Steps),
		w5Seed:        "x\n1\n2\n3\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// shareFile makes src available at dst: a hard link when possible (the W4
// CSV can be hundreds of MB), a copy otherwise.
func shareFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	_ = os.Remove(dst)
	if os.Link(src, dst) == nil {
		return nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
