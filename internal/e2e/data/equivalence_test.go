package data

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// Pipelines of the equivalence test. Every DuckDB query orders its result
// so that CSV bytes can be compared.
var equivalencePipelines = map[string]string{
	// (a) one input: MySQL → DuckDB → CSV.
	"pipelines/a_single.yaml": `oml_version: "0.1.0"
name: eq-single
steps:
  - id: ext-items
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.src"
      table: eq_items
  - id: per-category
    component: duckdb.processor
    mode: transform
    needs: [ext-items]
    config:
      query: |
        SELECT cat_id, COUNT(*) AS n, SUM(price) AS total, SUM(qty) AS qty,
               MIN(made) AS first_made, COUNT(name) AS named
        FROM input_df GROUP BY cat_id ORDER BY cat_id NULLS LAST
  - id: write-csv
    component: filesystem.csv_writer
    mode: write
    needs: [per-category]
    config:
      path: out/a.csv
`,
	// (b) two inputs joined in DuckDB, one by its inputs: name, the other
	// by df_<id>.
	"pipelines/b_join.yaml": `oml_version: "0.1.0"
name: eq-join
steps:
  - id: ext-items
    component: mysql.extractor
    mode: read
    needs: []
    config:
      connection: "@mysql.src"
      table: eq_items
  - id: ext-cats
    component: mysql.extractor
    mode: read
    needs: []
    config:
      connection: "@mysql.src"
      query: SELECT cat_id, label FROM eq_cats
  - id: join
    component: duckdb.processor
    mode: transform
    inputs:
      items: "${ext-items.df}"
      cats: "${ext-cats.df}"
    config:
      query: |
        SELECT i.item_id, i.name, i.price, c.label
        FROM items i LEFT JOIN df_ext_cats c ON i.cat_id = c.cat_id
        ORDER BY i.item_id
  - id: write-csv
    component: filesystem.csv_writer
    mode: write
    needs: [join]
    config:
      path: out/b.csv
`,
	// (c) CSV → DuckDB → CSV.
	"pipelines/c_csv.yaml": `oml_version: "0.1.0"
name: eq-csv
steps:
  - id: ext-sales
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/eq_sales.csv
  - id: passthrough
    component: duckdb.processor
    mode: transform
    config:
      query: SELECT * FROM input_df ORDER BY sale_id
  - id: write-csv
    component: filesystem.csv_writer
    mode: write
    config:
      path: out/c.csv
`,
	// (d) MySQL → Postgres.
	"pipelines/d_pg.yaml": `oml_version: "0.1.0"
name: eq-pg
steps:
  - id: ext-items
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.src"
      table: eq_items
  - id: write-pg
    component: postgres.writer
    mode: write
    config:
      connection: "@postgres.dst"
      table: eq_target
      write_mode: replace
      primary_key: [item_id]
      create_if_missing: true
`,
	// (e) the shape of Osiris-Python's demo (compat): MySQL → DuckDB
	// aggregate → PostgreSQL replace.
	"pipelines/e_demo.yaml": `oml_version: "0.1.0"
name: eq-demo
steps:
  - id: ext-items
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.src"
      query: SELECT i.item_id, i.cat_id, i.price, i.qty, c.label FROM eq_items i LEFT JOIN eq_cats c ON i.cat_id = c.cat_id
  - id: per-label
    component: duckdb.processor
    mode: transform
    config:
      query: |
        SELECT cat_id, label, COUNT(*) AS n, SUM(price) AS total, MAX(qty) AS most
        FROM input_df GROUP BY cat_id, label ORDER BY cat_id NULLS LAST
  - id: write-pg
    component: postgres.writer
    mode: write
    config:
      connection: "@postgres.dst"
      table: eq_target_demo
      write_mode: replace
      create_if_missing: true
`,
	// (f) MySQL → PostgreSQL upsert into a table holding other rows.
	"pipelines/f_upsert.yaml": `oml_version: "0.1.0"
name: eq-upsert
steps:
  - id: ext-items
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.src"
      table: eq_items
  - id: write-pg
    component: postgres.writer
    mode: write
    config:
      connection: "@postgres.dst"
      table: eq_target_up
      write_mode: upsert
      primary_key: [item_id]
`,
}

// eqPGTables are the PostgreSQL targets of the equivalence pipelines.
var eqPGTables = []string{"eq_target", "eq_target_demo", "eq_target_up"}

// eqSalesCSV is the CSV input of pipeline (c): dates, decimals, empty
// fields, quoted delimiters.
func eqSalesCSV() string {
	var b strings.Builder
	b.WriteString("sale_id,region,amount,sold_on,note\n")
	regions := []string{"north", "south", "east", "west", ""}
	for i := 1; i <= 3000; i++ {
		note := fmt.Sprintf("note %d", i)
		switch {
		case i%7 == 0:
			note = ""
		case i%11 == 0:
			note = fmt.Sprintf("\"comma, quote \"\"%d\"\"\"", i)
		}
		fmt.Fprintf(&b, "%d,%s,%d.%02d,2024-%02d-%02d,%s\n", i, regions[i%5], i*37%10000, i%100, i%12+1, i%28+1, note)
	}
	return b.String()
}

// loadEquivalenceTables (re)creates eq_items and eq_cats in MariaDB.
func loadEquivalenceTables(t *testing.T) {
	t.Helper()
	my := mysqlDB(t, dbE2E)
	e2e.MySQLExec(t, my,
		"DROP TABLE IF EXISTS eq_items", "DROP TABLE IF EXISTS eq_cats",
		`CREATE TABLE eq_cats (cat_id INT PRIMARY KEY, label VARCHAR(40) NULL)`,
		`CREATE TABLE eq_items (item_id INT PRIMARY KEY, cat_id INT NULL, name VARCHAR(80) NULL,
			price DECIMAL(10,2) NULL, qty BIGINT UNSIGNED NULL, made DATETIME(3) NULL, ok TINYINT(1) NULL)`)
	var b strings.Builder
	b.WriteString("INSERT INTO eq_cats VALUES ")
	for i := 1; i <= 40; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		label := fmt.Sprintf("'category %d'", i)
		if i%9 == 0 {
			label = "NULL"
		}
		fmt.Fprintf(&b, "(%d,%s)", i, label)
	}
	e2e.MySQLExec(t, my, b.String())
	b.Reset()
	b.WriteString("INSERT INTO eq_items VALUES ")
	for i := 1; i <= 5000; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		cat := fmt.Sprint(i%45 + 1) // 41…45 have no category
		if i%97 == 0 {
			cat = "NULL"
		}
		name := fmt.Sprintf("'item %d — ü'", i)
		if i%13 == 0 {
			name = "NULL"
		}
		fmt.Fprintf(&b, "(%d,%s,%s,%d.%02d,%d,'2023-%02d-%02d %02d:%02d:%02d.%03d',%d)",
			i, cat, name, i*31%5000, i%100, uint64(i)*1_000_003, i%12+1, i%28+1, i%24, i%60, (i*7)%60, i%1000, i%2)
	}
	e2e.MySQLExec(t, my, b.String())
}

// Spec 03's equivalence contract through the binary: the same pipelines
// with memory_budget "0" (every input read back from parquet), "64MiB" and
// "unlimited" (every input from memory), each with [run] streaming off and
// on (consumers reading their upstream's stream while it runs), give
// identical outputs, target tables, rows and table digests, and
// inputs_resolved says which path was taken.
func TestBudgetEquivalence(t *testing.T) {
	t.Parallel()
	loadEquivalenceTables(t)
	pg := testenv.PGConn(t, dbE2E)

	type outcome struct {
		status  map[string]e2e.Status
		csv     map[string][]byte
		pgTable []string
		pg      map[string][]string
	}
	runAll := func(budget, streaming string) outcome {
		files := map[string]string{"data/eq_sales.csv": eqSalesCSV()}
		for k, v := range equivalencePipelines {
			files[k] = v
		}
		w := newWorkspace(t, wsConfig{Budget: budget, BatchRows: 512, Streaming: streaming, MySQLDB: dbE2E, PGDB: dbE2E}, files)
		e2e.PGExec(t, pg, "DROP TABLE IF EXISTS eq_target", "DROP TABLE IF EXISTS eq_target_demo", "DROP TABLE IF EXISTS eq_target_up",
			`CREATE TABLE eq_target_up (item_id int PRIMARY KEY, cat_id int, name text, price numeric(10,2), qty numeric(20,0), made timestamp(3), ok smallint)`,
			`INSERT INTO eq_target_up (item_id, name) SELECT g, 'kept ' || g FROM generate_series(4990, 6000) g`)
		o := outcome{status: map[string]e2e.Status{}, csv: map[string][]byte{}, pg: map[string][]string{}}
		for p := range equivalencePipelines {
			runDir, st := runOK(t, w, p)
			o.status[p] = st
			events := e2e.ReadEvents(t, runDir)
			wantSource := osexec.SourceMemory
			if budget == "0" {
				wantSource = osexec.SourceParquet
			}
			for _, s := range st.Steps {
				if s.Artifact != nil {
					checkArtifact(t, runDir, st, s.ID)
					if budget == "0" && s.PeakMemoryBytes != 0 {
						t.Errorf("budget 0, %s step %s: peak_memory_bytes %d, want 0", p, s.ID, s.PeakMemoryBytes)
					}
					if budget == "unlimited" && s.PeakMemoryBytes <= 0 && s.RowsOut > 0 {
						t.Errorf("budget unlimited, %s step %s: peak_memory_bytes %d, want > 0", p, s.ID, s.PeakMemoryBytes)
					}
				}
				if len(s.Inputs) == 0 {
					continue
				}
				srcs := inputSources(t, events, s.ID)
				if len(srcs) != len(s.Inputs) {
					t.Errorf("budget %s, %s step %s: inputs_resolved lists %d inputs, status.json %d", budget, p, s.ID, len(srcs), len(s.Inputs))
				}
				for i, src := range srcs {
					if streaming == "true" && src == osexec.SourceStream {
						continue
					}
					if src != wantSource {
						t.Errorf("budget %s, %s step %s: input %d read from %q, want %q", budget, p, s.ID, i, src, wantSource)
					}
				}
			}
		}
		for _, name := range []string{"a", "b", "c"} {
			b, err := os.ReadFile(filepath.Join(w.Root, "out", name+".csv"))
			if err != nil {
				t.Fatal(err)
			}
			o.csv[name] = b
		}
		o.pgTable = pgRows(t, pg, `SELECT t::text FROM eq_target t`)
		for _, tb := range eqPGTables {
			o.pg[tb] = pgRows(t, pg, `SELECT t::text FROM `+tb+` t`)
		}
		return o
	}

	disk := runAll("0", "false")
	mem := runAll("unlimited", "false")
	for _, c := range []struct{ budget, streaming string }{{"64MiB", "false"}, {"0", "true"}, {"64MiB", "true"}, {"unlimited", "true"}} {
		o := runAll(c.budget, c.streaming)
		name := fmt.Sprintf("budget %s streaming %s", c.budget, c.streaming)
		for p, ds := range disk.status {
			os := o.status[p]
			if len(ds.Steps) != len(os.Steps) {
				t.Fatalf("%s, %s: %d steps vs %d", name, p, len(os.Steps), len(ds.Steps))
			}
			for i, d := range ds.Steps {
				m := os.Steps[i]
				if d.ID != m.ID || d.Status != m.Status || d.RowsIn != m.RowsIn || d.RowsOut != m.RowsOut {
					t.Errorf("%s, %s step %s: %s rows in/out %d/%d, want %s %d/%d", name, p, d.ID, m.Status, m.RowsIn, m.RowsOut, d.Status, d.RowsIn, d.RowsOut)
				}
				if (d.Artifact == nil) != (m.Artifact == nil) || d.Artifact != nil && d.Artifact.TableDigest != m.Artifact.TableDigest {
					t.Errorf("%s, %s step %s: artifact %+v, want %+v", name, p, d.ID, m.Artifact, d.Artifact)
				}
			}
		}
		for f, b := range disk.csv {
			if !bytes.Equal(b, o.csv[f]) {
				t.Errorf("%s: out/%s.csv differs from budget 0 without streaming", name, f)
			}
		}
		for _, tb := range eqPGTables {
			if len(disk.pg[tb]) == 0 || !equalRows(disk.pg[tb], o.pg[tb]) {
				t.Errorf("%s: %s differs from budget 0 without streaming (%d vs %d rows): %s", name, tb, len(o.pg[tb]), len(disk.pg[tb]), diffRows(o.pg[tb], disk.pg[tb]))
			}
		}
	}

	for p, ds := range disk.status {
		ms := mem.status[p]
		if len(ds.Steps) != len(ms.Steps) {
			t.Fatalf("%s: %d steps vs %d", p, len(ds.Steps), len(ms.Steps))
		}
		for i, d := range ds.Steps {
			m := ms.Steps[i]
			if d.ID != m.ID || d.RowsIn != m.RowsIn || d.RowsOut != m.RowsOut {
				t.Errorf("%s step %s: budget 0 rows in/out %d/%d, unlimited %s %d/%d", p, d.ID, d.RowsIn, d.RowsOut, m.ID, m.RowsIn, m.RowsOut)
			}
			if (d.Artifact == nil) != (m.Artifact == nil) {
				t.Errorf("%s step %s: artifact in one run only", p, d.ID)
				continue
			}
			if d.Artifact != nil && d.Artifact.TableDigest != m.Artifact.TableDigest {
				t.Errorf("%s step %s: table digest %s (budget 0) vs %s (unlimited)", p, d.ID, d.Artifact.TableDigest, m.Artifact.TableDigest)
			}
		}
	}
	// Data lines per CSV (no value holds a newline): 45 categories + NULL,
	// every item, every sale.
	wantRows := map[string]int{"a": 46, "b": 5000, "c": 3000}
	for name, b := range disk.csv {
		if !bytes.Equal(b, mem.csv[name]) {
			t.Errorf("out/%s.csv differs between budget 0 (%d bytes) and unlimited (%d bytes)", name, len(b), len(mem.csv[name]))
		}
		if lines := bytes.Count(b, []byte("\n")) - 1; lines != wantRows[name] {
			t.Errorf("out/%s.csv: %d data lines, want %d", name, lines, wantRows[name])
		}
	}
	if len(disk.pgTable) != 5000 || !equalRows(disk.pgTable, mem.pgTable) {
		t.Errorf("eq_target: budget 0 vs unlimited: %s", diffRows(disk.pgTable, mem.pgTable))
	}
}

// With budget 0 every consumer reads its input back from the artifact; an
// artifact deleted before the consumer starts fails that step with an error
// naming the upstream step and the path — never a nil input, never a
// downstream writer run. The engine tests cover the mechanism (a hook
// deletes the file); this is the same through the binary, timed by a
// sibling step that sleeps in MariaDB.
func TestMissingArtifactFailsTheConsumer(t *testing.T) {
	t.Parallel()
	w := newWorkspace(t, wsConfig{Budget: "0", MaxParallel: 2, MySQLDB: dbE2E}, map[string]string{
		"data/eq_sales.csv": eqSalesCSV(),
		"pipelines/missing.yaml": `oml_version: "0.1.0"
name: missing-artifact
steps:
  - id: src
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/eq_sales.csv
  - id: slow
    component: mysql.extractor
    mode: read
    needs: []
    config:
      connection: "@mysql.src"
      query: SELECT SLEEP(4) AS slept
  - id: consume
    component: duckdb.processor
    mode: transform
    inputs:
      sales: "${src.df}"
      pause: "${slow.df}"
    config:
      query: SELECT COUNT(*) AS n FROM sales
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [consume]
    config:
      path: out/never.csv
`,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := w.Command(ctx, "--json", "run", "pipelines/missing.yaml")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 20*time.Second)
	artifact, err := waitForFile(waitCtx, filepath.Join(w.Root, "run_logs", "dev", "missing", "*", "artifacts", "src", "output.parquet"))
	waitCancel()
	if err == nil {
		err = os.Remove(artifact)
	}
	waitErr := cmd.Wait()
	if err != nil {
		t.Fatalf("deleting the src artifact: %v\nstderr:\n%s", err, stderr.String())
	}
	if cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit %d (%v), want 1\nstdout:\n%s\nstderr:\n%s", cmd.ProcessState.ExitCode(), waitErr, stdout.String(), stderr.String())
	}
	runDir := w.RunDirOf(e2e.Result{Stdout: stdout.String(), Stderr: stderr.String()})
	st := e2e.ReadStatus(t, runDir)
	if st.Status != osexec.StatusFailed || st.FailedStep != "consume" {
		t.Fatalf("status %q, failed step %q; want failed at consume (error: %s)", st.Status, st.FailedStep, st.Error)
	}
	msg := st.Step(t, "consume").Error
	t.Logf("consume's error: %s", msg)
	for _, want := range []string{`"src"`, "artifacts/src/output.parquet"} {
		if !strings.Contains(msg, want) {
			t.Errorf("consume's error %q does not name %s", msg, want)
		}
	}
	if s := st.Step(t, "write"); s.Status != osexec.StatusSkipped {
		t.Errorf("write after the failed step: %s, want skipped", s.Status)
	}
	if _, err := os.Stat(filepath.Join(w.Root, "out", "never.csv")); err == nil {
		t.Error("the writer downstream of the failure wrote its file")
	}
}
