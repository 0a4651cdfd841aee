package postgres

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
)

// constraintDefs lists a table's constraints as "name: definition".
func (e *pgEnv) constraintDefs(table string) string {
	e.t.Helper()
	var s string
	err := e.admin.QueryRow(context.Background(), `SELECT coalesce(string_agg(conname || ': ' || pg_get_constraintdef(oid), E'\n' ORDER BY conname), '')
		FROM pg_constraint WHERE conrelid = to_regclass($1)`, e.q(table)).Scan(&s)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// TestReplaceSelfReferencingForeignKey: replace into a table whose foreign
// key points at its own primary key (employees.manager_id → employees.id)
// rebuilds the key before the foreign key, keeps both, and still refuses
// rows that break the foreign key.
func TestReplaceSelfReferencingForeignKey(t *testing.T) {
	e := newPGEnv(t)
	ctx := context.Background()
	e.exec(`CREATE TABLE ` + e.q("emp") + ` (id bigint CONSTRAINT emp_pk PRIMARY KEY, val bigint CONSTRAINT emp_manager REFERENCES ` + e.q("emp") + ` (id), txt text)`)
	e.exec(`INSERT INTO ` + e.q("emp") + ` VALUES (1, NULL, 'boss'), (2, 1, 'worker')`)
	before := e.constraintDefs("emp")
	manager := func(i int) (int64, bool) { return int64(i), i > 0 } // row i+1 reports to row i
	res, err := e.write(ctx, component.Config{"table": "emp", "write_mode": "replace"}, intTable(50, 7, manager))
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 50 {
		t.Fatalf("wrote %d rows", res.RowsWritten)
	}
	if after := e.constraintDefs("emp"); after != before {
		t.Fatalf("constraints changed by replace:\n%s\nwant\n%s", after, before)
	}
	contents := e.contents("emp")
	// A manager that does not exist: the rebuilt foreign key refuses it and
	// nothing changes.
	dangling := func(i int) (int64, bool) { return int64(i + 1000), i > 0 }
	if _, err := e.write(ctx, component.Config{"table": "emp", "write_mode": "replace"}, intTable(5, 7, dangling)); err == nil || !strings.Contains(err.Error(), "foreign key") {
		t.Fatalf("dangling manager: %v", err)
	}
	if e.contents("emp") != contents || e.constraintDefs("emp") != before {
		t.Fatal("a failed replace changed the table")
	}
}

// TestIntervalRoundTrip: interval columns come out as text that keeps
// months, days and microseconds apart (no 30-day months), that parquet
// stores, and that PostgreSQL (and DuckDB) read back as the same interval.
func TestIntervalRoundTrip(t *testing.T) {
	e := newPGEnv(t)
	ctx := context.Background()
	values := []string{"1 month 2 days 3 hours", "-1 years -2 mons 3 days -04:05:06.5", "0", "1 microsecond", "-1 microsecond",
		"14 months", "100 hours", "1 day -1 second", "178000000 years", "-178000000 years", "2147483647 days", "-2147483648 days",
		"2562047788 hours", "-2562047788 hours", "12:34:56.789012", "1 year 1 month 1 day 00:00:00.000001"}
	e.exec(`CREATE TABLE ` + e.q("iv_src") + ` (id int PRIMARY KEY, iv interval)`)
	e.exec(`CREATE TABLE ` + e.q("iv_dst") + ` (id int PRIMARY KEY, iv interval)`)
	for i, v := range values {
		e.exec(`INSERT INTO `+e.q("iv_src")+` VALUES ($1, $2::interval)`, i+1, v)
	}
	e.exec(`INSERT INTO ` + e.q("iv_src") + ` VALUES (1000, NULL)`)

	recs, n, _ := e.extract(component.Config{"query": `SELECT id, iv FROM ` + e.q("iv_src") + ` ORDER BY id`}, 5)
	if n != int64(len(values)+1) {
		t.Fatalf("extracted %d rows", n)
	}
	schema := recs[0].Schema()
	if typ := schema.Field(1).Type; typ.ID() != arrow.STRING {
		t.Fatalf("interval read as %s, want utf8", typ)
	}
	if got := recs[0].Column(1).(*array.String).Value(0); got != "1 month 2 days 03:00:00" {
		t.Errorf("first interval %q", got)
	}
	// parquet holds it.
	var buf bytes.Buffer
	pw, err := pqarrow.NewFileWriter(schema, &buf, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := pw.Write(r); err != nil {
			t.Fatalf("parquet: %v", err)
		}
	}
	if err := pw.Close(); err != nil {
		t.Fatalf("parquet: %v", err)
	}
	// Written back into an interval column: the same months, days and
	// microseconds, value for value.
	in := componenttest.NewMemTable("iv", schema, recs...)
	if _, err := e.write(ctx, component.Config{"table": "iv_dst", "write_mode": "append"}, in); err != nil {
		t.Fatal(err)
	}
	var diff int
	if err := e.admin.QueryRow(ctx, `SELECT count(*) FROM `+e.q("iv_src")+` s FULL JOIN `+e.q("iv_dst")+` d USING (id)
		WHERE s.iv::text IS DISTINCT FROM d.iv::text`).Scan(&diff); err != nil {
		t.Fatal(err)
	}
	if diff != 0 {
		t.Fatalf("%d intervals changed on the round trip:\n%s\nvs\n%s", diff, e.contents("iv_src"), e.contents("iv_dst"))
	}
}

// TestConcurrentCreateIfMissing: runs that create the same missing table
// at once all succeed (the creation is serialised with an advisory lock)
// and every row lands.
func TestConcurrentCreateIfMissing(t *testing.T) {
	e := newPGEnv(t)
	const writers = 6
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = e.write(context.Background(), component.Config{"table": "race", "write_mode": "append", "create_if_missing": true}, intTable(10, 10, plain))
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	var n int
	if err := e.admin.QueryRow(context.Background(), `SELECT count(*) FROM `+e.q("race")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != writers*10 {
		t.Fatalf("%d rows, want %d", n, writers*10)
	}
}
