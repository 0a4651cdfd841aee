package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
)

const writeDB = "osiris_t_mysql_write"

// writePaths are the two bulk paths; every writer test runs both.
var writePaths = []struct {
	name string
	w    *Writer
}{
	{"loaddata", &Writer{}},
	{"insert", &Writer{forceInsert: true, insertBytes: 64 << 10}}, // small statements: many INSERTs
}

func write(t testing.TB, w *Writer, cfg component.Config, in component.Table) (int64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := w.Write(ctx, writeRequest(t, testConn(t, writeDB), cfg), in)
	return res.RowsWritten, err
}

// snapshot extracts table (ordered by its first column) as canonical cells.
func snapshot(t testing.TB, db, table string) (*arrow.Schema, []map[string]string) {
	t.Helper()
	req, _ := extractRequest(t, testConn(t, db), component.Config{"query": "SELECT * FROM `" + table + "` ORDER BY 1"})
	schema, recs, _ := extractAll(t, &Extractor{}, req)
	return schema, tableCells(schema, recs)
}

func TestWriteRoundTripAllTypes(t *testing.T) {
	setupAllTypes(t)
	db := testenv.MySQLDB(t, writeDB)
	srcSchema, srcRows := snapshot(t, typesDB, "all_types")
	req, _ := extractRequest(t, testConn(t, typesDB), component.Config{"query": "SELECT * FROM all_types ORDER BY id"})
	req.BatchRows = 4 // several batches
	schema, recs, _ := extractAll(t, &Extractor{}, req)
	in := componenttest.NewMemTable("extract", schema, recs...)

	for _, p := range writePaths {
		t.Run(p.name, func(t *testing.T) {
			// replace into an identical table: same types, same values.
			same := "rt_same_" + p.name
			mustExec(t, db, "DROP TABLE IF EXISTS "+same, "CREATE TABLE "+same+" LIKE "+typesDB+".all_types")
			n, err := write(t, p.w, component.Config{"table": same, "write_mode": "replace"}, in)
			if err != nil || n != 6 {
				t.Fatalf("replace: %d rows, %v", n, err)
			}
			gotSchema, gotRows := snapshot(t, writeDB, same)
			if !gotSchema.Equal(srcSchema) {
				t.Errorf("schema after round trip:\n%s\nwant\n%s", gotSchema, srcSchema)
			}
			compareRows(t, gotRows, srcRows)

			// create_if_missing: the documented type mapping keeps every value.
			created := "rt_created_" + p.name
			mustExec(t, db, "DROP TABLE IF EXISTS "+created)
			n, err = write(t, p.w, component.Config{"table": created, "create_if_missing": true}, in)
			if err != nil || n != 6 {
				t.Fatalf("create_if_missing: %d rows, %v", n, err)
			}
			_, gotRows = snapshot(t, writeDB, created)
			compareRows(t, gotRows, srcRows)
		})
	}
}

func compareRows(t *testing.T, got, want []map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		for col, w := range want[i] {
			if g := got[i][col]; g != w {
				if len(g) > 80 {
					g = g[:80] + "…"
				}
				if len(w) > 80 {
					w = w[:80] + "…"
				}
				t.Errorf("row %d column %s = %q, want %q", i+1, col, g, w)
			}
		}
	}
}

// people builds a table of n rows (id from first, name, amount, ts), in
// batches of batch rows; nullAt puts a NULL amount at that row (-1: none),
// dupAt repeats the first id at that row (-1: none).
func people(t testing.TB, first, n, batch int, suffix string, nullAt, dupAt int) *componenttest.MemTable {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var recs []arrow.RecordBatch
	flush := func() {
		rec := b.NewRecordBatch()
		recs = append(recs, rec)
	}
	base := time.Date(2024, 3, 31, 2, 30, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		id := int64(first + i)
		if i == dupAt {
			id = int64(first)
		}
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("person %d %s\t'q'\\", id, suffix))
		if i == nullAt {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(id*100 + 5))
		}
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(i) * time.Second).UnixMicro()))
		if (i+1)%batch == 0 {
			flush()
		}
	}
	if n%batch != 0 || n == 0 {
		flush()
	}
	tbl := componenttest.NewMemTable("people", schema, recs...)
	for _, r := range recs {
		r.Release()
	}
	return tbl
}

func TestWriteModes(t *testing.T) {
	db := testenv.MySQLDB(t, writeDB)
	for _, p := range writePaths {
		t.Run(p.name, func(t *testing.T) {
			tbl := "modes_" + p.name
			mustExec(t, db, "DROP TABLE IF EXISTS "+tbl)
			// upsert into a missing table creates it with the primary key.
			if n, err := write(t, p.w, component.Config{"table": tbl, "write_mode": "upsert", "primary_key": "id", "create_if_missing": true}, people(t, 1, 5, 2, "v1", -1, -1)); err != nil || n != 5 {
				t.Fatalf("first upsert: %d, %v", n, err)
			}
			if n, err := write(t, p.w, component.Config{"table": tbl, "write_mode": "upsert", "primary_key": []any{"id"}}, people(t, 4, 5, 2, "v2", -1, -1)); err != nil || n != 5 {
				t.Fatalf("second upsert: %d, %v", n, err)
			}
			_, rows := snapshot(t, writeDB, tbl)
			if len(rows) != 8 {
				t.Fatalf("after upserts: %d rows, want 8", len(rows))
			}
			for _, r := range rows {
				wantSuffix := "v1"
				if r["id"] >= "4" {
					wantSuffix = "v2"
				}
				if want := fmt.Sprintf("person %s %s\t'q'\\", r["id"], wantSuffix); r["name"] != want {
					t.Errorf("id %s: name %q want %q", r["id"], r["name"], want)
				}
			}
			if rows[0]["ts"] != "2024-03-31 02:30:00" || rows[0]["amount"] != "1.05" {
				t.Errorf("row 1 = %v", rows[0])
			}

			// append adds (into a table without key).
			app := "append_" + p.name
			mustExec(t, db, "DROP TABLE IF EXISTS "+app)
			for i := 0; i < 2; i++ {
				if n, err := write(t, p.w, component.Config{"table": app, "create_if_missing": true}, people(t, 1, 150, 100, "a", -1, -1)); err != nil || n != 150 {
					t.Fatalf("append %d: %d, %v", i, n, err)
				}
			}
			if got := countRows(t, db, app); got != 300 {
				t.Errorf("after two appends: %d rows", got)
			}

			// replace: batch boundaries, including an empty input.
			for _, rows := range []int{99, 100, 101, 0, 250} {
				n, err := write(t, p.w, component.Config{"table": app, "write_mode": "replace"}, people(t, 1, rows, 100, "r", -1, -1))
				if err != nil || n != int64(rows) {
					t.Fatalf("replace %d rows: %d, %v", rows, n, err)
				}
				if got := countRows(t, db, app); got != int64(rows) {
					t.Errorf("after replace with %d rows: %d rows", rows, got)
				}
			}
			var left int
			db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE ?", writeDB, app+"__osiris%").Scan(&left)
			if left != 0 {
				t.Errorf("%d staging tables left behind", left)
			}
		})
	}
}

// TestWriteAtomicity: a bad row in the middle of the data (NULL into NOT
// NULL, a CHECK violation, a duplicate key) fails the step and leaves the
// target exactly as it was, for every mode and both paths.
func TestWriteAtomicity(t *testing.T) {
	db := testenv.MySQLDB(t, writeDB)
	for _, p := range writePaths {
		tbl := "atom_" + p.name
		setup := func(t *testing.T) []map[string]string {
			mustExec(t, db, "DROP TABLE IF EXISTS "+tbl,
				"CREATE TABLE "+tbl+" (id BIGINT PRIMARY KEY, name TEXT, amount DECIMAL(10,2) NOT NULL CHECK (amount <> 500.05), ts DATETIME(6)) ENGINE=InnoDB")
			if n, err := write(t, p.w, component.Config{"table": tbl}, people(t, 1, 100, 64, "orig", -1, -1)); err != nil || n != 100 {
				t.Fatalf("initial load: %d, %v", n, err)
			}
			_, rows := snapshot(t, writeDB, tbl)
			return rows
		}
		for _, tc := range []struct {
			name string
			mode string
			in   func(t testing.TB) *componenttest.MemTable
			want string
		}{
			{"replace null", "replace", func(t testing.TB) *componenttest.MemTable { return people(t, 1001, 1000, 128, "new", 500, -1) }, ""},
			{"replace check", "replace", func(t testing.TB) *componenttest.MemTable { return people(t, 1, 1000, 128, "new", -1, -1) }, ""}, // id 500 breaks the CHECK
			{"replace duplicate", "replace", func(t testing.TB) *componenttest.MemTable { return people(t, 1, 5, 128, "new", -1, 3) }, ""},
			{"upsert null", "upsert", func(t testing.TB) *componenttest.MemTable { return people(t, 1001, 1000, 128, "new", 500, -1) }, ""},
			{"upsert duplicate in input", "upsert", func(t testing.TB) *componenttest.MemTable { return people(t, 1, 8, 3, "new", -1, 6) }, ""},
			{"upsert check", "upsert", func(t testing.TB) *componenttest.MemTable { return people(t, 50, 900, 64, "new", -1, -1) }, ""},
			{"append null", "append", func(t testing.TB) *componenttest.MemTable { return people(t, 1001, 1000, 128, "new", 500, -1) }, ""},
			{"append duplicate key", "append", func(t testing.TB) *componenttest.MemTable { return people(t, 50, 5, 128, "new", -1, -1) }, ""},
		} {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				before := setup(t)
				n, err := write(t, p.w, component.Config{"table": tbl, "write_mode": tc.mode, "primary_key": "id"}, tc.in(t))
				if err == nil {
					t.Fatalf("write succeeded (%d rows), want failure", n)
				}
				t.Logf("error: %v", err)
				if !strings.Contains(err.Error(), `mysql.writer step "test"`) {
					t.Errorf("error lacks the step: %v", err)
				}
				_, after := snapshot(t, writeDB, tbl)
				if !reflect.DeepEqual(before, after) {
					t.Errorf("target changed: %d rows before, %d after", len(before), len(after))
				}
				var left int
				db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE ?", writeDB, tbl+"__osiris%").Scan(&left)
				if left != 0 {
					t.Errorf("%d staging tables left behind", left)
				}
			})
		}
	}
}

// TestWriteForeignKeys: a failure while merging into the target (a foreign
// key the staging table does not have) rolls the whole merge back, and
// replace keeps the target's foreign keys.
func TestWriteForeignKeys(t *testing.T) {
	db := testenv.MySQLDB(t, writeDB)
	for _, p := range writePaths {
		t.Run(p.name, func(t *testing.T) {
			child, parent := "fk_child_"+p.name, "fk_parent_"+p.name
			mustExec(t, db, "DROP TABLE IF EXISTS "+child, "DROP TABLE IF EXISTS "+parent,
				"CREATE TABLE "+parent+" (id BIGINT PRIMARY KEY) ENGINE=InnoDB",
				"INSERT INTO "+parent+" SELECT seq FROM seq_1_to_600",
				"CREATE TABLE "+child+" (id BIGINT PRIMARY KEY, name TEXT, amount DECIMAL(10,2), ts DATETIME(6), FOREIGN KEY (id) REFERENCES "+parent+"(id)) ENGINE=InnoDB")
			if _, err := write(t, p.w, component.Config{"table": child}, people(t, 1, 100, 64, "orig", -1, -1)); err != nil {
				t.Fatal(err)
			}
			_, before := snapshot(t, writeDB, child)
			// ids 1..1000: 601.. have no parent; the first 600 would merge fine.
			for _, mode := range []string{"upsert", "replace"} {
				if _, err := write(t, p.w, component.Config{"table": child, "write_mode": mode, "primary_key": "id"}, people(t, 1, 1000, 128, "new", -1, -1)); err == nil {
					t.Fatalf("%s with orphans succeeded", mode)
				} else {
					t.Logf("%s: %v", mode, err)
				}
				_, after := snapshot(t, writeDB, child)
				if !reflect.DeepEqual(before, after) {
					t.Errorf("%s: target changed (%d rows before, %d after)", mode, len(before), len(after))
				}
			}
			if n, err := write(t, p.w, component.Config{"table": child, "write_mode": "replace"}, people(t, 1, 600, 128, "new", -1, -1)); err != nil || n != 600 {
				t.Fatalf("replace: %d, %v", n, err)
			}
			var fks int
			db.QueryRow("SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?", writeDB, child).Scan(&fks)
			if fks != 1 || countRows(t, db, child) != 600 {
				t.Errorf("after replace: %d foreign keys, %d rows", fks, countRows(t, db, child))
			}
		})
	}
}

func TestWriteConfigErrors(t *testing.T) {
	db := testenv.MySQLDB(t, writeDB)
	mustExec(t, db, "DROP TABLE IF EXISTS cfg_nokey", "CREATE TABLE cfg_nokey (id BIGINT, name TEXT)",
		"DROP TABLE IF EXISTS cfg_missing")
	w := &Writer{}
	for _, tc := range []struct {
		cfg  component.Config
		want string
	}{
		{component.Config{"table": "cfg_missing"}, "create_if_missing"},
		{component.Config{"table": "cfg_nokey", "schema_evolution": "fail"}, `input column "amount" (DECIMAL(10,2)) is not a column`},
		{component.Config{"table": "cfg_nokey", "write_mode": "upsert"}, "needs primary_key"},
		{component.Config{"table": "cfg_nokey", "write_mode": "upsert", "primary_key": "nope"}, `"nope" is not in the input`},
		{component.Config{"table": "cfg_nokey", "write_mode": "bogus"}, "not one of"},
		{component.Config{"table": "cfg_nokey", "write_mode": "merge"}, "needs primary_key"},
		{component.Config{"table": "cfg_nokey", "write_mode": "delete+insert"}, "needs delete_key"},
		{component.Config{"table": "cfg_nokey", "write_mode": "delete+insert", "delete_key": "nope"}, `"nope" is not in the input`},
	} {
		if _, err := write(t, w, tc.cfg, people(t, 1, 3, 10, "x", -1, -1)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	mustExec(t, db, "ALTER TABLE cfg_nokey ADD COLUMN amount DECIMAL(10,2), ADD COLUMN ts DATETIME(6)")
	if _, err := write(t, w, component.Config{"table": "cfg_nokey", "write_mode": "upsert", "primary_key": "id"}, people(t, 1, 3, 10, "x", -1, -1)); err == nil || !strings.Contains(err.Error(), "no PRIMARY KEY or UNIQUE index") {
		t.Errorf("upsert without key: %v", err)
	}
}

func TestLocalInfileForbidden(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&gomysql.MySQLError{Number: 1148, Message: "The used command is not allowed with this MariaDB version"}, true},
		{fmt.Errorf("wrapped: %w", &gomysql.MySQLError{Number: 3948}), true},
		{&gomysql.MySQLError{Number: 1062}, false},
		{sql.ErrConnDone, false},
	} {
		if got := localInfileForbidden(tc.err); got != tc.want {
			t.Errorf("localInfileForbidden(%v) = %v", tc.err, got)
		}
	}
}

// TestConcurrentReplace: two loads replacing the same table at once both
// succeed (each has its own staging tables) and the table ends as one of
// the two inputs, whole; no staging table is left behind.
func TestConcurrentReplace(t *testing.T) {
	db := testenv.MySQLDB(t, writeDB)
	tbl := "concurrent_replace"
	mustExec(t, db, "DROP TABLE IF EXISTS "+tbl)
	if _, err := write(t, &Writer{}, component.Config{"table": tbl, "write_mode": "replace", "create_if_missing": true, "primary_key": "id"}, people(t, 1, 10, 5, "v0", -1, -1)); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for _, suffix := range []string{"a", "b"} {
		go func() {
			_, err := write(t, &Writer{}, component.Config{"table": tbl, "write_mode": "replace"}, people(t, 1, 3000, 500, suffix, -1, -1))
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent replace: %v", err)
		}
	}
	_, rows := snapshot(t, writeDB, tbl)
	if len(rows) != 3000 {
		t.Fatalf("%d rows after two replaces of 3000, want 3000", len(rows))
	}
	last := rows[0]["name"][len(rows[0]["name"])-len("a\t'q'\\"):]
	for _, r := range rows {
		if !strings.HasSuffix(r["name"], last) {
			t.Fatalf("rows of both loads mixed: %q and %q", rows[0]["name"], r["name"])
		}
	}
	var left int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE ?", writeDB, tbl+"\\_\\_osiris%").Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d staging tables left behind (%v)", left, err)
	}
}
