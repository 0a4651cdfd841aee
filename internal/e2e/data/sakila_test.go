package data

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

// Every base table of Sakila round-trips MySQL → parquet → Postgres →
// parquet with equal table digests: the MySQL extract artifact and the
// Postgres extract artifact of each table hold the same rows, type mapping
// included (YEAR, ENUM, SET, GEOMETRY, BLOB, TIMESTAMP, DECIMAL, UNSIGNED).
func TestSakilaRoundTripDigests(t *testing.T) {
	t.Parallel()
	testenv.LoadSakila(t)
	my := mysqlDB(t, "sakila_dojo")
	tables := sqlRows(t, my, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'sakila_dojo' AND table_type = 'BASE TABLE'`)
	if len(tables) != 16 {
		t.Fatalf("sakila_dojo has %d base tables, want 16: %v", len(tables), tables)
	}
	pg := testenv.PGConn(t, dbSakila)
	for _, tb := range tables {
		e2e.PGExec(t, pg, "DROP TABLE IF EXISTS "+pgx.Identifier{tb}.Sanitize())
	}

	// One pipeline of 16 independent extract → write pairs, then one of 16
	// Postgres extracts.
	var load, read strings.Builder
	load.WriteString("oml_version: \"0.1.0\"\nname: sakila-to-pg\nsteps:\n")
	read.WriteString("oml_version: \"0.1.0\"\nname: sakila-from-pg\nsteps:\n")
	for _, tb := range tables {
		fmt.Fprintf(&load, `  - id: my-%[1]s
    component: mysql.extractor
    mode: read
    needs: []
    config:
      connection: "@mysql.src"
      table: %[1]s
  - id: write-%[1]s
    component: postgres.writer
    mode: write
    needs: [my-%[1]s]
    config:
      connection: "@postgres.dst"
      table: %[1]s
      write_mode: replace
      create_if_missing: true
`, tb)
		fmt.Fprintf(&read, `  - id: pg-%[1]s
    component: postgres.extractor
    mode: read
    needs: []
    config:
      connection: "@postgres.dst"
      table: %[1]s
`, tb)
	}
	w := newWorkspace(t, wsConfig{MySQLDB: "sakila_dojo", PGDB: dbSakila, MaxParallel: 4}, map[string]string{
		"pipelines/sakila_to_pg.yaml":   load.String(),
		"pipelines/sakila_from_pg.yaml": read.String(),
	})
	loadDir, loadSt := runOK(t, w, "pipelines/sakila_to_pg.yaml")
	readDir, readSt := runOK(t, w, "pipelines/sakila_from_pg.yaml")

	var total int64
	for _, tb := range tables {
		var rows int64
		if err := my.QueryRow("SELECT COUNT(*) FROM `" + tb + "`").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		total += rows
		ma := checkArtifact(t, loadDir, loadSt, "my-"+tb)
		pa := checkArtifact(t, readDir, readSt, "pg-"+tb)
		if ma.Rows != rows || pa.Rows != rows || loadSt.Step(t, "write-"+tb).RowsOut != rows {
			t.Errorf("%s: MariaDB %d rows, MySQL extract %d, written %d, Postgres extract %d",
				tb, rows, ma.Rows, loadSt.Step(t, "write-"+tb).RowsOut, pa.Rows)
		}
		if testing.Verbose() && (tb == "film" || tb == "address" || tb == "staff") {
			t.Logf("%s: %s\n  my %v\n  pg %v", tb, ma.TableDigest, ma.Schema, pa.Schema)
		}
		if ma.TableDigest != pa.TableDigest {
			t.Errorf("%s: table digest MySQL %s ≠ Postgres %s\n  MySQL schema    %v\n  Postgres schema %v",
				tb, ma.TableDigest, pa.TableDigest, ma.Schema, pa.Schema)
		}
	}
	if total < 40000 {
		t.Errorf("Sakila holds %d rows in all; the dump has more than 40000", total)
	}
}
