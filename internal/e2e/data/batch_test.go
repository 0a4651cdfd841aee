package data

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

// batchRows is [run] batch_rows of the batch boundary test; the tables hold
// batchRows−1, batchRows, batchRows+1 and 0 rows.
const batchRows = 100

var boundarySizes = []int{batchRows - 1, batchRows, batchRows + 1, 0}

// boundaryValues returns the VALUES list (without the keyword) of an n-row
// source table, in SQL that MariaDB, PostgreSQL and DuckDB all accept.
func boundaryValues(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		name := fmt.Sprintf("'name %d'", i)
		if i%10 == 0 {
			name = "NULL"
		}
		fmt.Fprintf(&b, "(%d,%s,%d.%02d,'2024-01-01 %02d:%02d:00')", i, name, i*3, i%100, i/60, i%60)
	}
	return b.String()
}

const boundaryColumns = "(id INTEGER PRIMARY KEY, name VARCHAR(40), amount DECIMAL(10,2), made_at TIMESTAMP)"

// boundaryPipeline wires, for each size n, every extractor to a different
// writer so that all five of each run on each size:
//
//	mysql → postgres, postgres → mysql, csv → parquet, parquet → duckdb, duckdb → csv
func boundaryPipeline() string {
	var b strings.Builder
	b.WriteString("oml_version: \"0.1.0\"\nname: batch-boundaries\nsteps:\n")
	for _, n := range boundarySizes {
		fmt.Fprintf(&b, `  - id: ext-mysql-%[1]d
    component: mysql.extractor
    mode: read
    needs: []
    config:
      connection: "@mysql.src"
      table: bb_src_%[1]d
  - id: write-pg-%[1]d
    component: postgres.writer
    mode: write
    needs: [ext-mysql-%[1]d]
    config:
      connection: "@postgres.dst"
      table: bb_out_%[1]d
      write_mode: replace
      create_if_missing: true
  - id: ext-pg-%[1]d
    component: postgres.extractor
    mode: read
    needs: []
    config:
      connection: "@postgres.dst"
      table: bb_src_%[1]d
  - id: write-mysql-%[1]d
    component: mysql.writer
    mode: write
    needs: [ext-pg-%[1]d]
    config:
      connection: "@mysql.src"
      table: bb_out_%[1]d
      write_mode: replace
      create_if_missing: true
  - id: ext-csv-%[1]d
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/bb_%[1]d.csv
  - id: write-parquet-%[1]d
    component: filesystem.parquet_writer
    mode: write
    needs: [ext-csv-%[1]d]
    config:
      path: out/bb_%[1]d.parquet
  - id: ext-parquet-%[1]d
    component: filesystem.parquet_extractor
    mode: read
    needs: []
    config:
      path: data/bb_%[1]d.parquet
  - id: write-duckdb-%[1]d
    component: duckdb.writer
    mode: write
    needs: [ext-parquet-%[1]d]
    config:
      connection: "@duckdb.local"
      table: bb_out_%[1]d
      write_mode: replace
      create_if_missing: true
  - id: ext-duckdb-%[1]d
    component: duckdb.extractor
    mode: read
    needs: []
    config:
      path: data/src.duckdb
      query: SELECT * FROM bb_src_%[1]d
  - id: write-csv-%[1]d
    component: filesystem.csv_writer
    mode: write
    needs: [ext-duckdb-%[1]d]
    config:
      path: out/bb_%[1]d.csv
`, n)
	}
	return b.String()
}

// Tables of batch_rows−1, batch_rows, batch_rows+1 and 0 rows through every
// extractor and every writer: status.json and the targets agree on the row
// count, and the same rows read by different drivers have the same digest.
func TestBatchBoundariesEveryDriver(t *testing.T) {
	t.Parallel()
	my := mysqlDB(t, dbE2E)
	pg := testenv.PGConn(t, dbE2E)
	w := newWorkspace(t, wsConfig{BatchRows: batchRows, MaxParallel: 4, MySQLDB: dbE2E, PGDB: dbE2E, DuckDB: true},
		map[string]string{"pipelines/bb.yaml": boundaryPipeline()})

	srcDuck := filepath.Join(w.Root, "data", "src.duckdb")
	if err := os.MkdirAll(filepath.Dir(srcDuck), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range boundarySizes {
		src, out := fmt.Sprintf("bb_src_%d", n), fmt.Sprintf("bb_out_%d", n)
		e2e.MySQLExec(t, my, "DROP TABLE IF EXISTS "+src, "DROP TABLE IF EXISTS "+out,
			"CREATE TABLE "+src+" "+strings.Replace(boundaryColumns, "TIMESTAMP", "DATETIME", 1))
		e2e.PGExec(t, pg, "DROP TABLE IF EXISTS "+src, "DROP TABLE IF EXISTS "+out,
			"CREATE TABLE "+src+" "+boundaryColumns)
		duckExec(t, srcDuck, "CREATE TABLE "+src+" "+boundaryColumns)
		if n > 0 {
			ins := "INSERT INTO " + src + " VALUES " + boundaryValues(n)
			e2e.MySQLExec(t, my, ins)
			e2e.PGExec(t, pg, ins)
			duckExec(t, srcDuck, ins)
		}
		duckExec(t, srcDuck, fmt.Sprintf("COPY %s TO '%s' (FORMAT parquet)", src, filepath.Join(w.Root, "data", fmt.Sprintf("bb_%d.parquet", n))))
		var csv strings.Builder
		csv.WriteString("id,name,amount,made_at\n")
		for i := 1; i <= n; i++ {
			name := fmt.Sprintf("name %d", i)
			if i%10 == 0 {
				name = ""
			}
			fmt.Fprintf(&csv, "%d,%s,%d.%02d,2024-01-01 %02d:%02d:00\n", i, name, i*3, i%100, i/60, i%60)
		}
		w.Write(fmt.Sprintf("data/bb_%d.csv", n), csv.String())
	}

	runDir, st := runOK(t, w, "pipelines/bb.yaml")

	for _, n := range boundarySizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			want := int64(n)
			digests := map[string]string{}
			for _, ext := range []string{"mysql", "pg", "csv", "parquet", "duckdb"} {
				id := fmt.Sprintf("ext-%s-%d", ext, n)
				a := checkArtifact(t, runDir, st, id)
				if a.Rows != want {
					t.Errorf("%s: %d rows, want %d", id, a.Rows, want)
				}
				digests[ext] = a.TableDigest
			}
			for _, wr := range []string{"pg", "mysql", "parquet", "duckdb", "csv"} {
				id := fmt.Sprintf("write-%s-%d", wr, n)
				s := st.Step(t, id)
				if s.RowsIn != want || s.RowsOut != want {
					t.Errorf("%s: rows in/out %d/%d, want %d", id, s.RowsIn, s.RowsOut, want)
				}
			}

			// The targets hold exactly n rows.
			out := fmt.Sprintf("bb_out_%d", n)
			if got := pgCount(t, pg, out); got != want {
				t.Errorf("postgres %s: %d rows, want %d", out, got, want)
			}
			var myCount int64
			if err := my.QueryRow("SELECT COUNT(*) FROM " + out).Scan(&myCount); err != nil {
				t.Errorf("mysql %s: %v", out, err)
			} else if myCount != want {
				t.Errorf("mysql %s: %d rows, want %d", out, myCount, want)
			}
			pq := filepath.Join(w.Root, "out", fmt.Sprintf("bb_%d.parquet", n))
			if d, rows := parquetDigest(t, pq); rows != want || d != digests["csv"] {
				t.Errorf("out/bb_%d.parquet: %d rows, digest %s; want %d rows, ext-csv's digest %s", n, rows, d, want, digests["csv"])
			}
			if got := duckRows(t, filepath.Join(w.Root, "warehouse.duckdb"), "SELECT COUNT(*) FROM "+out); len(got) != 1 || got[0] != fmt.Sprint(want) {
				t.Errorf("warehouse.duckdb %s: count %v, want %d", out, got, want)
			}
			csvOut, err := os.ReadFile(filepath.Join(w.Root, "out", fmt.Sprintf("bb_%d.csv", n)))
			if err != nil {
				t.Fatal(err)
			}
			if lines := bytes.Count(csvOut, []byte("\n")); lines != n+1 {
				t.Errorf("out/bb_%d.csv: %d lines, want header + %d", n, lines, n)
			}

			// The same rows read by four drivers: one digest. (The CSV
			// extractor infers its own types, so it is not among them.)
			for _, ext := range []string{"pg", "parquet", "duckdb"} {
				if digests[ext] != digests["mysql"] {
					t.Errorf("ext-%s-%d digest %s ≠ ext-mysql-%d %s", ext, n, digests[ext], n, digests["mysql"])
				}
			}
		})
	}
}
