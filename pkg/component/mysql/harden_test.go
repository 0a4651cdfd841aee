package mysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
	"github.com/osiris-go/osiris/workspace"
)

// hardenDB is this file's database: its tables are nobody else's.
const hardenDB = "osiris_hd_mysql"

// TestExtractUnsignedDecimalPrecision: DECIMAL(p,s) UNSIGNED is read with
// its declared precision (the driver's length arithmetic assumes a sign
// digit), so its largest value fits.
func TestExtractUnsignedDecimalPrecision(t *testing.T) {
	db := testenv.MySQLDB(t, hardenDB)
	mustExec(t, db, "DROP TABLE IF EXISTS dec_unsigned",
		`CREATE TABLE dec_unsigned (id INT PRIMARY KEY, du DECIMAL(10,2) UNSIGNED, d DECIMAL(10,2), dz DECIMAL(5,0) UNSIGNED, dmax DECIMAL(65,30) UNSIGNED)`,
		`INSERT INTO dec_unsigned VALUES (1, 99999999.99, -99999999.99, 99999, 99999999999999999999999999999999999.999999999999999999999999999999), (2, 0, 0, 0, 0), (3, NULL, NULL, NULL, NULL)`)
	for _, text := range []bool{false, true} {
		req, _ := extractRequest(t, testConn(t, hardenDB), component.Config{"query": "SELECT * FROM dec_unsigned ORDER BY id"})
		schema, recs, _ := extractAll(t, &Extractor{textProtocol: text}, req)
		want := map[string]string{"du": "decimal(10, 2)", "d": "decimal(10, 2)", "dz": "decimal(5, 0)", "dmax": "decimal256(65, 30)"}
		for name, typ := range want {
			f, _ := schema.FieldsByName(name)
			if len(f) != 1 || f[0].Type.String() != typ {
				t.Errorf("text=%v: column %s has type %v, want %s", text, name, f, typ)
			}
		}
		rows := tableCells(schema, recs)
		if len(rows) != 3 || rows[0]["du"] != "99999999.99" || rows[0]["d"] != "-99999999.99" || rows[0]["dz"] != "99999" ||
			rows[0]["dmax"] != "99999999999999999999999999999999999.999999999999999999999999999999" || rows[2]["du"] != "NULL" {
			t.Errorf("text=%v: rows %v", text, rows)
		}
	}
}

// TestConnectionForcesUTF8MB4: a DSN asking for latin1 still reads (and
// writes) utf8mb4, so text arrives as valid UTF-8 whatever the DSN says.
func TestConnectionForcesUTF8MB4(t *testing.T) {
	db := testenv.MySQLDB(t, hardenDB)
	mustExec(t, db, "DROP TABLE IF EXISTS utf_text",
		"CREATE TABLE utf_text (id INT PRIMARY KEY, s VARCHAR(50) CHARACTER SET utf8mb4) CHARACTER SET utf8mb4",
		"INSERT INTO utf_text VALUES (1, 'café ✓ 😀')")
	base := testConn(t, hardenDB)
	dsn, err := base.MySQLDSN()
	if err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	conn := &workspace.Connection{Family: "mysql", Alias: "latin1", Values: map[string]any{"dsn": dsn + sep + "charset=latin1"}}
	req, _ := extractRequest(t, conn, component.Config{"query": "SELECT s, @@character_set_results AS cs FROM utf_text"})
	schema, recs, _ := extractAll(t, &Extractor{}, req)
	rows := tableCells(schema, recs)
	if len(rows) != 1 || rows[0]["s"] != "café ✓ 😀" || rows[0]["cs"] != "utf8mb4" {
		t.Fatalf("rows %q", rows)
	}
}

// TestInvalidUTF8Refused: text that is not UTF-8 (a server that sends a
// column's raw bytes) fails the step naming the column, instead of landing
// in an Arrow string that parquet readers reject.
func TestInvalidUTF8Refused(t *testing.T) {
	col, err := newColumnAppender(memory.DefaultAllocator, columnMeta{Name: "title", DBType: "VARCHAR", Nullable: true}, arrow.BinaryTypes.String)
	if err != nil {
		t.Fatal(err)
	}
	defer col.builder.Release()
	if err := col.appendV([]byte("café")); err != nil {
		t.Fatal(err)
	}
	err = col.appendV([]byte("caf\xe9"))
	if err == nil || !strings.Contains(err.Error(), `column "title"`) || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Fatalf("invalid UTF-8: %v", err)
	}
}

// TestCaseDuplicateColumns: `SELECT 1 AS x, 2 AS X` is refused by the
// extractor, and an input with such columns by the writer before it
// touches the server.
func TestCaseDuplicateColumns(t *testing.T) {
	db := testenv.MySQLDB(t, hardenDB)
	req, _ := extractRequest(t, testConn(t, hardenDB), component.Config{"query": "SELECT 1 AS x, 2 AS X"})
	rr, err := (&Extractor{}).Extract(context.Background(), req)
	if err == nil {
		rr.Release()
	}
	if err == nil || !strings.Contains(err.Error(), `columns "x" and "X" (columns 1 and 2) differ only in case`) {
		t.Errorf("extractor: %v", err)
	}

	mustExec(t, db, "DROP TABLE IF EXISTS case_dup")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "X", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).Append(1)
	b.Field(1).(*array.Int64Builder).Append(2)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	wreq := writeRequest(t, testConn(t, hardenDB), component.Config{"table": "case_dup", "write_mode": "replace", "create_if_missing": true})
	_, err = (&Writer{}).Write(context.Background(), wreq, componenttest.NewMemTable("caps", schema, rec))
	if err == nil || !strings.Contains(err.Error(), `columns "x" and "X" (columns 1 and 2) differ only in case`) {
		t.Errorf("writer: %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'case\\_dup%'", hardenDB).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the refused write left %d tables", n)
	}
}

var _ driver.Value = nil

// TestConcurrentCreateIfMissing: runs that create the same missing table
// at once all succeed (the creation is serialised with GET_LOCK) and every
// row lands, in every write mode.
func TestConcurrentCreateIfMissing(t *testing.T) {
	db := testenv.MySQLDB(t, hardenDB)
	for _, mode := range []string{"append", "replace"} {
		t.Run(mode, func(t *testing.T) {
			table := "race_" + mode
			mustExec(t, db, "DROP TABLE IF EXISTS "+table)
			const writers = 5
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for i := 0; i < writers; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					req := writeRequest(t, testConn(t, hardenDB), component.Config{"table": table, "write_mode": mode, "create_if_missing": true})
					_, errs[i] = (&Writer{}).Write(context.Background(), req, people(t, 1, 10, 10, "x", -1, -1))
				}(i)
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
			}
			want := int64(10)
			if mode == "append" {
				want = writers * 10
			}
			if n := countRows(t, db, table); n != want {
				t.Fatalf("%d rows, want %d", n, want)
			}
		})
	}
}

// TestCancelKillsServerQuery: cancelling an extraction stops the query on
// the server too (KILL QUERY), not only the client's socket.
func TestCancelKillsServerQuery(t *testing.T) {
	db := testenv.MySQLDB(t, hardenDB)
	marker := fmt.Sprintf("osiris_hd_kill_%d", time.Now().UnixNano())
	running := func() int {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()", "%"+marker+"%").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Should KILL QUERY ever regress, the query must not burn a CPU on the
	// shared server for the rest of the suite.
	t.Cleanup(func() {
		rows, err := db.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()", "%"+marker+"%")
		if err != nil {
			return
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if rows.Scan(&id) == nil {
				ids = append(ids, id)
			}
		}
		rows.Close()
		for _, id := range ids {
			_, _ = db.Exec(fmt.Sprintf("KILL QUERY %d", id))
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := extractRequest(t, testConn(t, hardenDB), component.Config{"query": "SELECT BENCHMARK(50000000000, MD5('osiris')) AS " + marker})
	done := make(chan error, 1)
	go func() {
		rr, err := (&Extractor{}).Extract(ctx, req)
		if err == nil {
			for rr.Next() {
			}
			err = rr.Err()
			rr.Release()
		}
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for running() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the query never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled extraction succeeded")
	}
	deadline = time.Now().Add(5 * time.Second)
	for running() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cancelled query still runs on the server")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStaleStagingTablesDropped: staging tables of osiris's own naming that
// a killed run left are dropped by the next load of the table; one whose
// load is still alive (its lock held) is left alone, and so are tables
// that only look similar.
func TestStaleStagingTablesDropped(t *testing.T) {
	db := testenv.MySQLDB(t, hardenDB)
	const table = "staged"
	live := stagingName(table, "__osiris_new_live01")
	mustExec(t, db, "DROP TABLE IF EXISTS "+table, "CREATE TABLE "+table+" (id BIGINT PRIMARY KEY, name TEXT, amount DECIMAL(10,2), ts DATETIME(6))")
	stale := []string{stagingName(table, "__osiris_new_abc123"), stagingName(table, "__osiris_old_abc123")}
	others := []string{table + "__osiris_new_notatag", "other__osiris_new_abc123", live}
	for _, n := range append(append([]string{}, stale...), others...) {
		mustExec(t, db, "DROP TABLE IF EXISTS `"+n+"`", "CREATE TABLE `"+n+"` (id BIGINT)")
	}
	t.Cleanup(func() {
		for _, n := range others {
			_, _ = db.Exec("DROP TABLE IF EXISTS `" + n + "`")
		}
	})
	// The live load's session holds its lock.
	holder, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	var got int
	if err := holder.QueryRowContext(context.Background(), "SELECT GET_LOCK(?, 5)", loadLockName(hardenDB, table, "live01")).Scan(&got); err != nil || got != 1 {
		t.Fatalf("GET_LOCK: %d %v", got, err)
	}

	req := writeRequest(t, testConn(t, hardenDB), component.Config{"table": table, "write_mode": "replace"})
	if _, err := (&Writer{}).Write(context.Background(), req, people(t, 1, 10, 10, "x", -1, -1)); err != nil {
		t.Fatal(err)
	}
	exists := func(name string) bool {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", hardenDB, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	for _, n := range stale {
		if exists(n) {
			t.Errorf("stale staging table %s was not dropped", n)
		}
	}
	for _, n := range others {
		if !exists(n) {
			t.Errorf("%s was dropped", n)
		}
	}
}

// TestCancelKillsServerStatementOfWriter: cancelling a load stops its
// statement on the server too (here a trigger that would compute for
// hours), not only the client's socket.
func TestCancelKillsServerStatementOfWriter(t *testing.T) {
	db := testenv.MySQLDB(t, hardenDB)
	table := fmt.Sprintf("osiris_hd_slow_%d", time.Now().UnixNano()%1_000_000)
	mustExec(t, db, "DROP TABLE IF EXISTS "+table,
		"CREATE TABLE "+table+" (id BIGINT PRIMARY KEY, name TEXT, amount DECIMAL(10,2), ts DATETIME(6))",
		// About a minute a row: long enough to see, bounded should KILL
		// QUERY regress. The processlist shows the trigger's statement.
		"CREATE TRIGGER "+table+"_slow BEFORE INSERT ON "+table+" FOR EACH ROW SET @"+table+" = BENCHMARK(300000000, MD5('osiris'))")
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE IF EXISTS " + table) })
	running := func() []int64 {
		rows, err := db.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()", "%"+table+"%")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	t.Cleanup(func() {
		for _, id := range running() {
			_, _ = db.Exec(fmt.Sprintf("KILL QUERY %d", id))
		}
	})
	for _, p := range writePaths {
		t.Run(p.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				req := writeRequest(t, testConn(t, hardenDB), component.Config{"table": table, "write_mode": "append"})
				_, err := p.w.Write(ctx, req, people(t, 1, 3, 3, "x", -1, -1))
				done <- err
			}()
			deadline := time.Now().Add(10 * time.Second)
			for len(running()) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the load never started")
				}
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
			if err := <-done; err == nil {
				t.Fatal("cancelled load succeeded")
			}
			deadline = time.Now().Add(5 * time.Second)
			for len(running()) > 0 {
				if time.Now().After(deadline) {
					t.Fatal("the cancelled statement still runs on the server")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
