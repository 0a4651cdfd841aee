package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/component"
)

const typesDB = "osiris_t_mysql_types"

// allTypesDDL has one column of every MySQL type the extractor maps.
const allTypesDDL = `CREATE TABLE all_types (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d38 DECIMAL(38,10), d65 DECIMAL(65,30), d14 DECIMAL(14,2),
  f FLOAT, db DOUBLE,
  c CHAR(10), vc VARCHAR(100), tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT,
  en ENUM('a','b','c'), st SET('x','y','z'),
  yr YEAR, dt DATE, dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP NULL DEFAULT NULL, tm TIME, tm6 TIME(6),
  b1 BIT(1), b64 BIT(64),
  bn BINARY(4), vb VARBINARY(10), bl BLOB, lb LONGBLOB,
  js JSON, geo GEOMETRY
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// allTypesRows: NULLs, minimums, maximums, zero dates, a DST gap. Inserted
// with an empty sql_mode (zero dates allowed) and time_zone '+05:00', so the
// TIMESTAMP column proves the extractor reads UTC whatever the zone of the
// writer.
var allTypesRows = []string{
	`INSERT INTO all_types (id) VALUES (1)`,
	`INSERT INTO all_types VALUES (2, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
	  -9999999999999999999999999999.9999999999, -99999999999999999999999999999999999.999999999999999999999999999999, -999999999999.99,
	  -1.5, -2.2250738585072014e-308,
	  '', '', '', '', '', '',
	  'a', '', 1901, '1000-01-01', '1000-01-01 00:00:00', '1000-01-01 00:00:00.000000', '1970-01-01 05:00:01', '-838:59:59', '-838:59:59.000000',
	  b'0', 0, X'00000000', X'', X'', X'', '{}', ST_GeomFromText('POINT(1 2)'))`,
	`INSERT INTO all_types VALUES (3, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
	  9999999999999999999999999999.9999999999, 99999999999999999999999999999999999.999999999999999999999999999999, 999999999999.99,
	  1.5, 1.7976931348623157e308,
	  'abc', 'Ünïcødé 😀 שלום עולם', 'x', 'مرحبا بالعالم', 'm', REPEAT('é', 524288),
	  'c', 'x,z', 2155, '9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999', '2038-01-19 08:14:07', '838:59:59', '838:59:59.000000',
	  b'1', 18446744073709551615, X'DEADBEEF', X'00FF', X'0102', X'FFFE000A09', '{"a":[1,2,"é"]}', ST_GeomFromText('LINESTRING(0 0,1 1)'))`,
	`INSERT INTO all_types (id, dt, dtm, dtm6, ts) VALUES (4, '0000-00-00', '0000-00-00 00:00:00', '2024-00-10 10:00:00', '0000-00-00 00:00:00')`,
	`INSERT INTO all_types (id, dtm, ts, tm6, d14, vc) VALUES (5, '2024-03-31 02:30:00', '2024-03-31 06:30:00', '25:00:00.5', 0.05, 'tab\there\nnewline\\back')`,
	`INSERT INTO all_types (id, dt) VALUES (6, '2024-05-00')`,
}

func setupAllTypes(t testing.TB) *sql.DB {
	db := testenv.MySQLDB(t, typesDB)
	stmts := []string{"SET SESSION sql_mode = ''", "SET time_zone = '+05:00'", "DROP TABLE IF EXISTS all_types", allTypesDDL}
	stmts = append(stmts, allTypesRows...)
	// One Exec so that every statement runs in the same session.
	mustExec(t, db, strings.Join(stmts, ";\n"))
	return db
}

var wantAllTypes = map[string]string{
	"id": "int32", "ti": "int8", "tiu": "uint8", "si": "int16", "siu": "uint16", "mi": "int32", "miu": "uint32",
	"i": "int32", "iu": "uint32", "bi": "int64", "biu": "uint64",
	"d38": "decimal(38, 10)", "d65": "decimal256(65, 30)", "d14": "decimal(14, 2)", "f": "float32", "db": "float64",
	"c": "utf8", "vc": "utf8", "tt": "utf8", "tx": "utf8", "mt": "utf8", "lt": "utf8", "en": "utf8", "st": "utf8",
	"yr": "int16", "dt": "date32", "dtm": "timestamp[us]", "dtm6": "timestamp[us]", "ts": "timestamp[us, tz=UTC]",
	"tm": "utf8", "tm6": "utf8", "b1": "uint64", "b64": "uint64",
	"bn": "binary", "vb": "binary", "bl": "binary", "lb": "binary", "js": "utf8", "geo": "binary",
}

var wantAllTypesRows = []map[string]string{
	2: {"ti": "-128", "tiu": "0", "si": "-32768", "siu": "0", "mi": "-8388608", "miu": "0", "i": "-2147483648", "iu": "0",
		"bi": "-9223372036854775808", "biu": "0",
		"d38": "-9999999999999999999999999999.9999999999", "d65": "-99999999999999999999999999999999999.999999999999999999999999999999",
		"d14": "-999999999999.99", "f": "-1.5", "db": "-2.2250738585072014e-308",
		"c": "", "vc": "", "tt": "", "tx": "", "mt": "", "lt": "", "en": "a", "st": "",
		"yr": "1901", "dt": "1000-01-01", "dtm": "1000-01-01 00:00:00", "dtm6": "1000-01-01 00:00:00", "ts": "1970-01-01 00:00:01",
		"tm": "-838:59:59", "tm6": "-838:59:59.000000", "b1": "0", "b64": "0",
		"bn": "x00000000", "vb": "x", "bl": "x", "lb": "x", "js": "{}",
		"geo": "x0101000000000000000000f03f0000000000000040"},
	3: {"ti": "127", "tiu": "255", "si": "32767", "siu": "65535", "mi": "8388607", "miu": "16777215", "i": "2147483647", "iu": "4294967295",
		"bi": "9223372036854775807", "biu": "18446744073709551615",
		"d38": "9999999999999999999999999999.9999999999", "d65": "99999999999999999999999999999999999.999999999999999999999999999999",
		"d14": "999999999999.99", "f": "1.5", "db": "1.7976931348623157e+308",
		"c": "abc", "vc": "Ünïcødé 😀 שלום עולם", "tt": "x", "tx": "مرحبا بالعالم", "mt": "m", "lt": strings.Repeat("é", 524288),
		"en": "c", "st": "x,z", "yr": "2155", "dt": "9999-12-31", "dtm": "9999-12-31 23:59:59", "dtm6": "9999-12-31 23:59:59.999999",
		"ts": "2038-01-19 03:14:07", "tm": "838:59:59", "tm6": "838:59:59.000000", "b1": "1", "b64": "18446744073709551615",
		"bn": "xdeadbeef", "vb": "x00ff", "bl": "x0102", "lb": "xfffe000a09", "js": `{"a":[1,2,"é"]}`,
		"geo": "x" + "0102000000" + "02000000" + strings.Repeat("0", 32) + "000000000000f03f000000000000f03f"},
	4: {"dt": "NULL", "dtm": "NULL", "dtm6": "NULL", "ts": "NULL"},
	5: {"dtm": "2024-03-31 02:30:00", "ts": "2024-03-31 01:30:00", "tm6": "25:00:00.500000", "d14": "0.05", "vc": "tab\there\nnewline\\back"},
	6: {"dt": "NULL"},
}

func TestExtractAllTypes(t *testing.T) {
	setupAllTypes(t)
	for _, proto := range []struct {
		name string
		e    *Extractor
	}{{"binary", &Extractor{}}, {"text", &Extractor{textProtocol: true}}} {
		t.Run(proto.name, func(t *testing.T) {
			conn := testConn(t, typesDB)
			// A connection-level zone must not leak into the values.
			conn.Values = map[string]any{"dsn": fmt.Sprintf("%s:%s@tcp(%s:%s)/%s?time_zone=%%27%%2B09%%3A00%%27",
				testenv.MySQLUser(), testenv.MySQLPassword(), testenv.MySQLHost(), testenv.MySQLPort(), typesDB)}
			req, warns := extractRequest(t, conn, component.Config{"query": "SELECT * FROM all_types ORDER BY id"})
			schema, recs, n := extractAll(t, proto.e, req)
			if n != 6 {
				t.Fatalf("rows = %d, want 6", n)
			}
			if len(schema.Fields()) != len(wantAllTypes) {
				t.Errorf("schema has %d fields, want %d", len(schema.Fields()), len(wantAllTypes))
			}
			for _, f := range schema.Fields() {
				if got := f.Type.String(); got != wantAllTypes[f.Name] {
					t.Errorf("column %s: Arrow type %s, want %s", f.Name, got, wantAllTypes[f.Name])
				}
			}
			rows := tableCells(schema, recs)
			for name := range wantAllTypes { // row 1: NULL in every type
				if name != "id" && rows[0][name] != "NULL" {
					t.Errorf("row 1 column %s = %q, want NULL", name, rows[0][name])
				}
			}
			for id, want := range wantAllTypesRows {
				for col, v := range want {
					if got := rows[id-1][col]; got != v {
						if len(got) > 80 {
							got = got[:80] + "…"
						}
						t.Errorf("row %d column %s = %q, want %q", id, col, got, v)
					}
				}
			}
			if got := len(rows[2]["lt"]); got != 1<<20 {
				t.Errorf("1 MB text came back with %d bytes", got)
			}
			ws := warns.all()
			if len(ws) != 1 || !strings.HasPrefix(ws[0], "zero-dates: 5 ") || !strings.Contains(ws[0], `2 in column "dt"`) {
				t.Errorf("warnings = %q, want one zero-dates warning counting 5 values (2 in dt)", ws)
			}
		})
	}
}

func TestExtractSakila(t *testing.T) {
	testenv.LoadSakila(t)
	conn := testConn(t, "sakila_dojo")
	db := testenv.MySQLDB(t, "sakila_dojo")
	rows, err := db.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sakila_dojo' AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("sakila_dojo has %d tables", len(tables))
	}
	// This sakila_dojo has no address.location; GEOMETRY is covered by TestExtractAllTypes.
	wantTypes := map[string]string{
		"staff.picture": "binary", "film.rating": "utf8", "film.special_features": "utf8",
		"payment.amount": "decimal(5, 2)", "film.rental_rate": "decimal(4, 2)", "film.release_year": "int16",
		"rental.rental_date": "timestamp[us]", "film.last_update": "timestamp[us, tz=UTC]", "film.description": "utf8",
		"actor.actor_id": "uint16", "film.length": "uint16",
	}
	checked := 0
	for _, table := range tables {
		t.Run(table, func(t *testing.T) {
			req, _ := extractRequest(t, conn, component.Config{"table": table, "schema": "sakila_dojo"})
			req.BatchRows = 4096
			schema, _, n := extractAll(t, &Extractor{}, req)
			if want := countRows(t, db, "`"+table+"`"); n != want {
				t.Errorf("%s: extracted %d rows, COUNT(*) = %d", table, n, want)
			}
			for _, f := range schema.Fields() {
				if want, ok := wantTypes[table+"."+f.Name]; ok {
					checked++
					if f.Type.String() != want {
						t.Errorf("%s.%s: %s, want %s", table, f.Name, f.Type, want)
					}
				}
			}
		})
	}
	if checked != len(wantTypes) {
		t.Logf("sakila tables: %v", tables)
		t.Errorf("checked %d of %d expected column types", checked, len(wantTypes))
	}
}

func TestExtractBatchBoundaries(t *testing.T) {
	conn := testConn(t, typesDB)
	const batch = 100
	for _, tc := range []struct {
		rows, batches int
	}{{0, 0}, {batch - 1, 1}, {batch, 1}, {batch + 1, 2}, {3*batch + 7, 4}} {
		t.Run(fmt.Sprint(tc.rows), func(t *testing.T) {
			req, _ := extractRequest(t, conn, component.Config{"table": "seq_1_to_100000", "limit": tc.rows})
			req.BatchRows = batch
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			req.Alloc = mem
			t.Cleanup(func() { mem.AssertSize(t, 0) }) // runs after the batches are released
			schema, recs, n := extractAll(t, &Extractor{}, req)
			if int(n) != tc.rows || len(recs) != tc.batches {
				t.Fatalf("%d rows in %d batches, want %d in %d", n, len(recs), tc.rows, tc.batches)
			}
			if schema.NumFields() != 1 || schema.Field(0).Type.ID() != arrow.UINT64 {
				t.Errorf("schema = %s", schema)
			}
			for i, r := range recs {
				if i < len(recs)-1 && r.NumRows() != batch {
					t.Errorf("batch %d has %d rows", i, r.NumRows())
				}
			}
		})
	}
}

// bigQuery streams far more rows than a test ever reads.
const bigQuery = "SELECT seq, REPEAT('x', 200) AS pad FROM seq_1_to_50000000"

func TestExtractKilledConnection(t *testing.T) {
	conn := testConn(t, typesDB)
	db := testenv.MySQLDB(t, typesDB)
	// A unique alias tells this query from leftovers of earlier runs.
	query := strings.Replace(bigQuery, "AS pad", fmt.Sprintf("AS pad_%d", time.Now().UnixNano()), 1)
	req, _ := extractRequest(t, conn, component.Config{"query": query})
	req.BatchRows = 1000
	rr, err := (&Extractor{}).Extract(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatalf("first batch: %v", rr.Err())
	}
	var id int64
	if err := db.QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = ? AND ID <> CONNECTION_ID()", query).Scan(&id); err != nil {
		t.Fatalf("finding the extractor's connection: %v", err)
	}
	mustExec(t, db, fmt.Sprintf("KILL %d", id))
	done := make(chan error, 1)
	go func() {
		for rr.Next() {
		}
		done <- rr.Err()
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("stream ended without error after KILL")
		}
		if !strings.Contains(err.Error(), `step "test"`) || !strings.Contains(err.Error(), "reading rows") {
			t.Errorf("error lacks context: %v", err)
		}
		t.Logf("error after KILL: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("stream still running 60 s after KILL")
	}
}

func TestExtractCancelAndAbandon(t *testing.T) {
	conn := testConn(t, typesDB)
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := extractRequest(t, conn, component.Config{"query": bigQuery})
		req.BatchRows = 1000
		rr, err := (&Extractor{}).Extract(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		if !rr.Next() {
			t.Fatal(rr.Err())
		}
		cancel()
		start := time.Now()
		for rr.Next() {
		}
		if err := rr.Err(); err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("err = %v, want context canceled", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("cancel took %s", d)
		}
	})
	t.Run("release early", func(t *testing.T) {
		req, _ := extractRequest(t, conn, component.Config{"query": bigQuery})
		req.BatchRows = 1000
		mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
		req.Alloc = mem
		rr, err := (&Extractor{}).Extract(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !rr.Next() {
			t.Fatal(rr.Err())
		}
		start := time.Now()
		rr.Release() // must not read the 50M remaining rows
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Release took %s", d)
		}
		mem.AssertSize(t, 0)
	})
}

func TestExtractErrors(t *testing.T) {
	conn := testConn(t, typesDB)
	for _, tc := range []struct {
		cfg  component.Config
		want string
	}{
		{component.Config{"query": "SELECT * FROM no_such_table_here"}, "no_such_table_here"},
		{component.Config{"query": "SELECT 1 AS a, 2 AS a"}, "two columns named"},
		{component.Config{"table": "x", "query": "SELECT 1"}, "not both"},
	} {
		req, _ := extractRequest(t, conn, tc.cfg)
		rr, err := (&Extractor{}).Extract(context.Background(), req)
		if err == nil {
			rr.Release()
			t.Errorf("%v: no error", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `step "test"`) {
			t.Errorf("%v: error %q lacks %q or the step", tc.cfg, err, tc.want)
		}
	}
	bad := testConn(t, typesDB)
	bad.Values["password"] = "canary-Secret-123"
	bad.Values["user"] = "osiris_no_such_user"
	req, _ := extractRequest(t, bad, component.Config{"query": "SELECT 1"})
	if _, err := (&Extractor{}).Extract(context.Background(), req); err == nil || strings.Contains(err.Error(), "canary-Secret-123") {
		t.Errorf("bad login: error must exist and not echo the password: %v", err)
	}
}

// Osiris-Python's `offset` skips rows of a table, with and without limit.
func TestExtractTableOffset(t *testing.T) {
	conn := testConn(t, typesDB)
	for _, tc := range []struct {
		cfg         component.Config
		first, rows uint64
	}{
		{component.Config{"table": "seq_1_to_100", "offset": 10, "limit": 5}, 11, 5},
		{component.Config{"table": "seq_1_to_100", "offset": 95}, 96, 5},
	} {
		req, _ := extractRequest(t, conn, tc.cfg)
		_, recs, n := extractAll(t, &Extractor{}, req)
		if uint64(n) != tc.rows || len(recs) == 0 || recs[0].Column(0).(*array.Uint64).Value(0) != tc.first {
			t.Errorf("%v: %d rows, want %d starting at %d", tc.cfg, n, tc.rows, tc.first)
		}
	}
}
