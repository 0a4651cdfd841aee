package data

import (
	"context"
	"crypto/md5"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// Edge values: the literal MySQL text of the extremes, and what they must
// look like after MySQL → Arrow → Postgres (PostgreSQL's ::text) and
// MySQL → Arrow → CSV.
const (
	maxD38    = "9999999999999999999999999999.9999999999"
	maxD65    = "99999999999999999999999999999999999.999999999999999999999999999999"
	tinyD65   = "0.000000000000000000000000000001"
	maxU64    = "18446744073709551615"
	unicodeVC = "emoji 😀👍🏽 · RTL שלום עולם مرحبا · e\u0301 · 日本語"
	dstWall   = "2024-03-31 02:30:00" // does not exist in Europe/Berlin: a shifted value shows
	jsonDoc   = `{"k": [1, 2, {"z": null}], "s": "ü"}`
)

// edgeColumns are the typed columns of edge_values (all nullable).
var edgeColumns = []string{"i8", "i16", "i32", "i64", "u64", "d38", "d65", "f32", "f64",
	"c", "vc", "txt", "bin", "blb", "dt", "dtm", "dtm6", "ts", "tm", "yr", "en", "st", "js", "bt", "geo"}

// oneMB is the 1 MB text value (multi-byte runes, so bytes ≠ characters).
var oneMB = sync.OnceValue(func() string {
	const unit = "ab€ שׁ😀"
	s := strings.Repeat(unit, 1<<20/len(unit)+1)
	return s[:strings.LastIndex(s[:1<<20], "a")] // cut on a rune boundary
})

// loadEdgeValues (re)creates edge_values in MariaDB. It returns the number
// of zero dates stored (which must come out as NULL and be counted).
func loadEdgeValues(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	conn, err := mysqlDB(t, dbE2E).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%.200s: %v", q, err)
		}
	}
	// sql_mode '' admits zero dates; the session in UTC makes TIMESTAMP
	// literals UTC instants.
	exec("SET SESSION sql_mode = '', time_zone = '+00:00'")
	exec("DROP TABLE IF EXISTS edge_values")
	exec(`CREATE TABLE edge_values (
		id INT PRIMARY KEY, label VARCHAR(20) NOT NULL,
		i8 TINYINT, i16 SMALLINT, i32 INT, i64 BIGINT, u64 BIGINT UNSIGNED,
		d38 DECIMAL(38,10), d65 DECIMAL(65,30), f32 FLOAT, f64 DOUBLE,
		c CHAR(10), vc VARCHAR(200), txt MEDIUMTEXT, bin VARBINARY(50), blb BLOB,
		dt DATE, dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME, yr YEAR,
		en ENUM('a','b','c'), st SET('x','y','z'), js JSON, bt BIT(8), geo GEOMETRY NULL
	) ENGINE=InnoDB CHARACTER SET utf8mb4`)
	exec(`INSERT INTO edge_values (id, label) VALUES (1, 'all-null')`)
	exec(`INSERT INTO edge_values (id, label, c, vc, txt, bin, blb, st, js)
		VALUES (2, 'empty', '', '', '', '', '', '', '""')`)
	exec(`INSERT INTO edge_values (id, label, c, vc, txt) VALUES (3, 'unicode', '日本語', ?, ?)`, unicodeVC, unicodeVC+"\n\ttab ‏RLM")
	exec(`INSERT INTO edge_values (id, label, txt) VALUES (4, '1mb', ?)`, oneMB())
	exec(`INSERT INTO edge_values VALUES (5, 'max', 127, 32767, 2147483647, 9223372036854775807, `+maxU64+`,
		`+maxD38+`, `+maxD65+`, 3.4e38, 1.7976931348623157e308,
		'zzzzzzzzzz', 'max', 'max', X'FF00FF', X'00', '9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999',
		'2038-01-19 03:14:07.999999', '838:59:59', 2155, 'c', 'x,y,z', ?, b'11111111', ST_GeomFromText('POINT(1 2)'))`, jsonDoc)
	exec(`INSERT INTO edge_values VALUES (6, 'min', -128, -32768, -2147483648, -9223372036854775808, 0,
		-` + maxD38 + `, -` + maxD65 + `, -1.5, -2.2250738585072014e-308,
		'a', 'min', 'min', X'00', X'', '1000-01-01', '1000-01-01 00:00:00', '1000-01-01 00:00:00.000001',
		'1970-01-01 00:00:01', '-838:59:59', 1901, 'a', 'x', '[]', b'0', ST_GeomFromText('LINESTRING(0 0, 1 1)'))`)
	exec(`INSERT INTO edge_values (id, label, d38, d65, f64, dt, dtm, dtm6, ts)
		VALUES (7, 'dst', 0.0000000001, ` + tinyD65 + `, -0.0, '2024-03-31', '` + dstWall + `', '2024-03-31 02:30:00.5', '2024-03-31 01:30:00')`)
	// Zero dates, and a zero month/day (stored since NO_ZERO_IN_DATE is off).
	exec(`INSERT INTO edge_values (id, label, dt, dtm, dtm6) VALUES (8, 'zero-dates', '0000-00-00', '0000-00-00 00:00:00', '2024-00-10 00:00:00')`)
	return 3
}

// Values that break naive code go MySQL → Postgres and MySQL → CSV through
// the binary and arrive exactly; zero dates become NULL with a step_warning
// counting them. The binary runs with TZ=Europe/Berlin so that any local
// time conversion of a DATETIME would show.
func TestEdgeValuesThroughTheEngine(t *testing.T) {
	t.Parallel()
	zeroDates := loadEdgeValues(t)
	pg := testenv.PGConn(t, dbE2E)
	e2e.PGExec(t, pg, "DROP TABLE IF EXISTS edge_values_pg")

	w := newWorkspace(t, wsConfig{MySQLDB: dbE2E, PGDB: dbE2E, BatchRows: 3}, map[string]string{
		"pipelines/edge.yaml": `oml_version: "0.1.0"
name: edge
steps:
  - id: ext
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.src"
      table: edge_values
  - id: write-pg
    component: postgres.writer
    mode: write
    needs: [ext]
    config:
      connection: "@postgres.dst"
      table: edge_values_pg
      write_mode: replace
      primary_key: [id]
      create_if_missing: true
  - id: write-csv
    component: filesystem.csv_writer
    mode: write
    needs: [ext]
    config:
      path: out/edge.csv
`,
		"pipelines/back.yaml": `oml_version: "0.1.0"
name: edge-back
steps:
  - id: pg
    component: postgres.extractor
    mode: read
    config:
      connection: "@postgres.dst"
      query: SELECT * FROM edge_values_pg
`,
	})
	w.Env = append(w.Env, "TZ=Europe/Berlin")
	runDir, st := runOK(t, w, "pipelines/edge.yaml")
	if n := st.Step(t, "write-pg").RowsOut; n != 8 {
		t.Errorf("write-pg wrote %d rows, want 8", n)
	}

	// The zero dates are counted in one step_warning of the extractor.
	warns := e2e.EventsNamed(e2e.ReadEvents(t, runDir), osexec.EventStepWarning, "ext")
	var zw []string
	for _, e := range warns {
		if e.Fields["code"] == "zero-dates" {
			zw = append(zw, fmt.Sprint(e.Fields["message"]))
		}
	}
	count := regexp.MustCompile(fmt.Sprintf(`(^|\D)%d(\D|$)`, zeroDates))
	if len(zw) != 1 || !count.MatchString(zw[0]) {
		t.Errorf("zero-dates step_warning of ext: %q, want one counting %d values", zw, zeroDates)
	} else {
		t.Logf("zero-dates warning: %s", zw[0])
	}

	t.Run("postgres", func(t *testing.T) {
		// The types create_if_missing chose for the extremes.
		types := pgRows(t, pg, `SELECT column_name::text || ' ' || format_type(a.atttypid, a.atttypmod)
			FROM information_schema.columns c JOIN pg_attribute a
			  ON a.attrelid = 'public.edge_values_pg'::regclass AND a.attname = c.column_name
			WHERE c.table_name = 'edge_values_pg' AND c.column_name IN ('u64','d38','d65','dtm','ts','dt')`)
		wantTypes := []string{"d38 numeric(38,10)", "d65 numeric(65,30)", "dt date", "dtm timestamp without time zone",
			"ts timestamp with time zone", "u64 numeric(20,0)"}
		if !equalRows(types, wantTypes) {
			t.Errorf("column types: %v, want %v", types, wantTypes)
		}

		// NULL in every type.
		var nonNull int
		if err := pg.QueryRow(context.Background(), "SELECT num_nonnulls("+strings.Join(edgeColumns, ",")+") FROM edge_values_pg WHERE id = 1").Scan(&nonNull); err != nil {
			t.Fatal(err)
		}
		if nonNull != 0 {
			t.Errorf("all-null row has %d non-NULL values", nonNull)
		}

		cases := []struct {
			id         int
			expr, want string
		}{
			// empty is not NULL
			{2, "c", ""}, {2, "vc", ""}, {2, "txt", ""}, {2, "encode(bin,'hex')", ""}, {2, "st", ""}, {2, "js", `""`},
			{2, "(vc IS NULL)::text", "false"}, {2, "(dt IS NULL)::text", "true"},
			{3, "vc", unicodeVC}, {3, "c", "日本語"}, {3, "txt", unicodeVC + "\n\ttab ‏RLM"},
			{4, "octet_length(txt)::text", fmt.Sprint(len(oneMB()))}, {4, "md5(txt)", md5hex(oneMB())},
			{5, "i8::text", "127"}, {5, "i16::text", "32767"}, {5, "i32::text", "2147483647"},
			{5, "i64::text", "9223372036854775807"}, {5, "u64::text", maxU64},
			{5, "d38::text", maxD38}, {5, "d65::text", maxD65},
			{5, "f64::text", "1.7976931348623157e+308"}, {5, "encode(bin,'hex')", "ff00ff"},
			{5, "dt::text", "9999-12-31"}, {5, "dtm::text", "9999-12-31 23:59:59"}, {5, "dtm6::text", "9999-12-31 23:59:59.999999"},
			{5, "(ts AT TIME ZONE 'UTC')::text", "2038-01-19 03:14:07.999999"},
			{5, "tm::text", "838:59:59"}, {5, "yr::text", "2155"}, {5, "en", "c"}, {5, "st", "x,y,z"},
			{5, "js", jsonDoc}, {5, "bt::text", "255"}, {5, "encode(geo,'hex')", "0101000000000000000000f03f0000000000000040"},
			{6, "i64::text", "-9223372036854775808"}, {6, "u64::text", "0"},
			{6, "d38::text", "-" + maxD38}, {6, "d65::text", "-" + maxD65},
			{6, "f64::text", "-2.2250738585072014e-308"}, {6, "encode(blb,'hex')", ""},
			{6, "dt::text", "1000-01-01"}, {6, "dtm::text", "1000-01-01 00:00:00"}, {6, "dtm6::text", "1000-01-01 00:00:00.000001"},
			{6, "(ts AT TIME ZONE 'UTC')::text", "1970-01-01 00:00:01"}, {6, "tm::text", "-838:59:59"}, {6, "yr::text", "1901"},
			{7, "d38::text", "0.0000000001"}, {7, "d65::text", tinyD65},
			{7, "dt::text", "2024-03-31"}, {7, "dtm::text", dstWall}, {7, "dtm6::text", "2024-03-31 02:30:00.5"},
			{7, "(ts AT TIME ZONE 'UTC')::text", "2024-03-31 01:30:00"},
			{8, "coalesce(dt::text, dtm::text, dtm6::text, 'NULL')", "NULL"},
		}
		for _, c := range cases {
			var got *string
			q := "SELECT (" + c.expr + ")::text FROM edge_values_pg WHERE id = $1"
			if err := pg.QueryRow(context.Background(), q, c.id).Scan(&got); err != nil {
				t.Errorf("row %d %s: %v", c.id, c.expr, err)
				continue
			}
			if got == nil || *got != c.want {
				g := "NULL"
				if got != nil {
					g = fmt.Sprintf("%.120q", *got)
				}
				t.Errorf("row %d %s = %s, want %.120q", c.id, c.expr, g, c.want)
			}
		}

		// And back out of Postgres: the same rows, by table digest.
		backDir, back := runOK(t, w, "pipelines/back.yaml")
		checkArtifact(t, backDir, back, "pg")
		if a, b := st.Step(t, "ext").Artifact, back.Step(t, "pg").Artifact; a.TableDigest != b.TableDigest {
			t.Errorf("edge_values digest MySQL %s ≠ Postgres %s\n  MySQL    %v\n  Postgres %v", a.TableDigest, b.TableDigest, a.Schema, b.Schema)
		}
	})

	t.Run("csv", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(w.Root, "out", "edge.csv"))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
		if err != nil {
			t.Fatalf("out/edge.csv does not parse: %v", err)
		}
		if len(recs) != 9 {
			t.Fatalf("out/edge.csv: %d records, want header + 8", len(recs))
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		byID := map[string][]string{}
		for _, r := range recs[1:] {
			byID[r[col["id"]]] = r
		}
		cases := []struct{ id, col, want string }{
			{"3", "vc", unicodeVC}, {"4", "txt", oneMB()},
			{"5", "u64", maxU64}, {"5", "d38", maxD38}, {"5", "d65", maxD65}, {"5", "i64", "9223372036854775807"},
			{"5", "dt", "9999-12-31"}, {"5", "dtm6", "9999-12-31 23:59:59.999999"}, {"5", "tm", "838:59:59"},
			{"5", "ts", "2038-01-19 03:14:07.999999Z"}, {"5", "bin", "ff00ff"}, {"5", "js", jsonDoc},
			{"6", "d65", "-" + maxD65}, {"6", "dt", "1000-01-01"}, {"6", "dtm", "1000-01-01 00:00:00"},
			{"7", "dtm", dstWall}, {"7", "dtm6", "2024-03-31 02:30:00.5"}, {"7", "d65", tinyD65},
			{"8", "dt", ""}, {"8", "dtm", ""}, {"8", "dtm6", ""},
		}
		for _, c := range cases {
			r, ok := byID[c.id]
			if !ok {
				t.Fatalf("out/edge.csv has no id %s", c.id)
			}
			if got := r[col[c.col]]; got != c.want {
				t.Errorf("out/edge.csv id %s %s = %.120q, want %.120q", c.id, c.col, got, c.want)
			}
		}
		// NULL is an empty unquoted field, '' a quoted one: the all-null row
		// has no quotes, the empty row quotes its empty strings.
		for _, line := range strings.Split(string(raw), "\n") {
			switch {
			case strings.HasPrefix(line, "1,all-null,"):
				if strings.Trim(line[len("1,all-null,"):], ",") != "" {
					t.Errorf("all-null row: %q", line)
				}
			case strings.HasPrefix(line, "2,empty,"):
				if n := strings.Count(line, `""`); n < 5 {
					t.Errorf("empty row %q: %d quoted empty fields, want ≥ 5 (c, vc, txt, st, bin…)", line, n)
				}
			}
		}
	})
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}
