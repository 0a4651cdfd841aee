package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
	"github.com/osiris-go/osiris/workspace"
)

const testDB = "osiris_t_pg"

// pgEnv is one test's private schema in the shared test database.
type pgEnv struct {
	t      testing.TB
	dsn    string
	schema string
	admin  *pgx.Conn
}

func newPGEnv(t testing.TB) *pgEnv {
	t.Helper()
	dsn := testenv.PGConnString(t, testDB)
	var b [4]byte
	_, _ = rand.Read(b[:])
	e := &pgEnv{t: t, dsn: dsn, schema: "t_" + hex.EncodeToString(b[:])}
	e.admin = testenv.PGConn(t, testDB)
	e.exec(`CREATE SCHEMA ` + quoteIdent(e.schema))
	t.Cleanup(func() {
		_, _ = e.admin.Exec(context.Background(), `DROP SCHEMA `+quoteIdent(e.schema)+` CASCADE`)
	})
	return e
}

func (e *pgEnv) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.admin.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func (e *pgEnv) q(table string) string { return qualified(e.schema, table) }

// conn returns the step connection; extra are URL parameters (runtime
// settings such as timezone, application_name).
func (e *pgEnv) conn(extra ...string) *workspace.Connection {
	dsn := e.dsn
	for i := 0; i+1 < len(extra); i += 2 {
		dsn += "&" + extra[i] + "=" + url.QueryEscape(extra[i+1])
	}
	return &workspace.Connection{Family: "postgres", Alias: "test", Values: map[string]any{"dsn": dsn}}
}

func (e *pgEnv) request(cfg component.Config, extra ...string) *component.Request {
	if cfg["schema"] == nil {
		cfg["schema"] = e.schema
	}
	return componenttest.Request(e.t, cfg, e.conn(extra...), "")
}

// contents returns the table's rows as text, ordered, for exact before/after
// comparisons.
func (e *pgEnv) contents(table string) string {
	e.t.Helper()
	var s string
	err := e.admin.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM `+e.q(table)+` x`).Scan(&s)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *pgEnv) write(ctx context.Context, cfg component.Config, in component.Table, extra ...string) (component.WriteResult, error) {
	return Writer{}.Write(ctx, e.request(cfg, extra...), in)
}

// extract runs the extractor and returns all batches (released at cleanup).
func (e *pgEnv) extract(cfg component.Config, batchRows int, extra ...string) ([]arrow.RecordBatch, int64, *component.Request) {
	e.t.Helper()
	req := e.request(cfg, extra...)
	if batchRows > 0 {
		req.BatchRows = batchRows
	}
	r, err := Extractor{}.Extract(context.Background(), req)
	if err != nil {
		e.t.Fatal(err)
	}
	recs, n := componenttest.Drain(e.t, r)
	e.t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return recs, n, req
}

func mustBig(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return v
}

// allTypesTable builds one row per edge case and a NULL row for every
// column; the expected extractor types are returned alongside.
func allTypesTable(t testing.TB) (*componenttest.MemTable, []arrow.DataType) {
	mem := memory.DefaultAllocator
	tsType := &arrow.TimestampType{Unit: arrow.Microsecond}
	tstzType := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	d38 := &arrow.Decimal128Type{Precision: 38, Scale: 10}
	d65 := &arrow.Decimal256Type{Precision: 65, Scale: 30}
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "d38", Type: d38, Nullable: true},
		{Name: "d65", Type: d65, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "bo", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "dt", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: tsType, Nullable: true},
		{Name: "tstz", Type: tstzType, Nullable: true},
		{Name: "tm", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
		{Name: "du", Type: arrow.FixedWidthTypes.Duration_us, Nullable: true},
	}
	want := []arrow.DataType{
		arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32,
		arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64,
		&arrow.Decimal128Type{Precision: 20, Scale: 0}, arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64,
		d38, d65, arrow.BinaryTypes.String, arrow.BinaryTypes.String, arrow.BinaryTypes.Binary,
		arrow.FixedWidthTypes.Boolean, arrow.FixedWidthTypes.Date32, tsType, tstzType,
		arrow.FixedWidthTypes.Time64us, arrow.BinaryTypes.String, // interval comes back as exact text
	}
	schema := arrow.NewSchema(fields, nil)
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()

	day := func(s string) arrow.Date32 {
		tm, _ := time.Parse("2006-01-02", s)
		return arrow.Date32FromTime(tm)
	}
	wall := func(s string) arrow.Timestamp {
		tm, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			panic(err)
		}
		return arrow.Timestamp(tm.UnixMicro())
	}
	max38 := mustBig("99999999999999999999999999999999999999")
	max65 := mustBig(strings.Repeat("9", 65))
	oneMB := strings.Repeat("x", 1<<20)

	type row struct {
		i8       int8
		i16      int16
		i32      int32
		i64      int64
		u8       uint8
		u16      uint16
		u32      uint32
		u64      uint64
		f32      float32
		f64      float64
		d38, d65 *big.Int
		s, ls    string
		b        []byte
		bo       bool
		dt       string
		ts, tstz string
		tm       int64
		du       int64
	}
	rows := []row{
		{math.MinInt8, math.MinInt16, math.MinInt32, math.MinInt64, 0, 0, 0, 0, -math.MaxFloat32, -math.MaxFloat64,
			new(big.Int).Neg(max38), new(big.Int).Neg(max65), "", "", []byte{}, false,
			"1000-01-01", "1000-01-01 00:00:00", "1000-01-01 00:00:00", 0, -86_400_000_000},
		{math.MaxInt8, math.MaxInt16, math.MaxInt32, math.MaxInt64, math.MaxUint8, math.MaxUint16, math.MaxUint32, math.MaxUint64,
			math.MaxFloat32, math.MaxFloat64, max38, max65, "emoji 😀👩‍👩‍👧 and RTL שלום عربى", oneMB, []byte{0, 1, 2, 255}, true,
			"9999-12-31", "9999-12-31 23:59:59.999999", "9999-12-31 23:59:59.999999", 86_399_999_999, 1},
		// 02:30 on 2021-03-28 does not exist in Europe/Berlin: a wall clock
		// that a time zone conversion would move.
		{1, -1, 7, 42, 1, 2, 3, 4, 1.5, math.SmallestNonzeroFloat64, big.NewInt(1), big.NewInt(-1), "NULL", `tab	and "quotes" \N`, []byte("\\x00"), true,
			"2000-01-01", "2021-03-28 02:30:00.123456", "2021-03-28 02:30:00.123456", 12_345_678, 3_600_000_000},
	}
	for i, r := range rows {
		rb.Field(0).(*array.Int64Builder).Append(int64(i + 1))
		rb.Field(1).(*array.Int8Builder).Append(r.i8)
		rb.Field(2).(*array.Int16Builder).Append(r.i16)
		rb.Field(3).(*array.Int32Builder).Append(r.i32)
		rb.Field(4).(*array.Int64Builder).Append(r.i64)
		rb.Field(5).(*array.Uint8Builder).Append(r.u8)
		rb.Field(6).(*array.Uint16Builder).Append(r.u16)
		rb.Field(7).(*array.Uint32Builder).Append(r.u32)
		rb.Field(8).(*array.Uint64Builder).Append(r.u64)
		rb.Field(9).(*array.Float32Builder).Append(r.f32)
		rb.Field(10).(*array.Float64Builder).Append(r.f64)
		rb.Field(11).(*array.Decimal128Builder).Append(decimal128.FromBigInt(r.d38))
		rb.Field(12).(*array.Decimal256Builder).Append(decimal256.FromBigInt(r.d65))
		rb.Field(13).(*array.StringBuilder).Append(r.s)
		rb.Field(14).(*array.LargeStringBuilder).Append(r.ls)
		rb.Field(15).(*array.BinaryBuilder).Append(r.b)
		rb.Field(16).(*array.BooleanBuilder).Append(r.bo)
		rb.Field(17).(*array.Date32Builder).Append(day(r.dt))
		rb.Field(18).(*array.TimestampBuilder).Append(wall(r.ts))
		rb.Field(19).(*array.TimestampBuilder).Append(wall(r.tstz))
		rb.Field(20).(*array.Time64Builder).Append(arrow.Time64(r.tm))
		rb.Field(21).(*array.DurationBuilder).Append(arrow.Duration(r.du))
	}
	// The all-NULL row.
	rb.Field(0).(*array.Int64Builder).Append(int64(len(rows) + 1))
	for i := 1; i < len(fields); i++ {
		rb.Field(i).AppendNull()
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	// Split in two batches so a boundary falls inside the data.
	a, b := rec.NewSlice(0, 2), rec.NewSlice(2, rec.NumRows())
	defer a.Release()
	defer b.Release()
	return componenttest.NewMemTable("all", schema, a, b), want
}

// cells renders every value of column c as text, in row order.
func cells(recs []arrow.RecordBatch, c int) []string {
	var out []string
	for _, r := range recs {
		col := r.Column(c)
		for i := 0; i < col.Len(); i++ {
			out = append(out, col.ValueStr(i))
		}
	}
	return out
}

func TestRoundTripAllTypes(t *testing.T) {
	e := newPGEnv(t)
	in, wantTypes := allTypesTable(t)
	ctx := context.Background()
	// A writer session in a far-off time zone must not move the wall clock.
	res, err := e.write(ctx, component.Config{"table": "all_types", "write_mode": "replace",
		"create_if_missing": true, "primary_key": "id"}, in, "timezone", "Pacific/Chatham")
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 4 {
		t.Fatalf("rows written %d, want 4", res.RowsWritten)
	}

	// Checked in SQL from a session in yet another zone.
	if _, err := e.admin.Exec(ctx, "SET TIME ZONE 'Europe/Berlin'"); err != nil {
		t.Fatal(err)
	}
	var ts, dt, d38, d65, u64, du string
	var slen int
	err = e.admin.QueryRow(ctx, `SELECT ts::text, dt::text, d38::text, d65::text, u64::text, du::text, length(ls)
		FROM `+e.q("all_types")+` WHERE id = 3`).Scan(&ts, &dt, &d38, &d65, &u64, &du, &slen)
	if err != nil {
		t.Fatal(err)
	}
	if ts != "2021-03-28 02:30:00.123456" || dt != "2000-01-01" || d38 != "0.0000000001" ||
		d65 != "-0.000000000000000000000000000001" || u64 != "4" || du != "01:00:00" || slen != len(`tab	and "quotes" \N`) {
		t.Fatalf("stored values: ts=%s dt=%s d38=%s d65=%s u64=%s du=%s len=%d", ts, dt, d38, d65, u64, du, slen)
	}
	var u64max, d38max, dtmin string
	err = e.admin.QueryRow(ctx, `SELECT u64::text, d38::text, (SELECT dt::text FROM `+e.q("all_types")+` WHERE id=1) FROM `+e.q("all_types")+` WHERE id = 2`).Scan(&u64max, &d38max, &dtmin)
	if err != nil {
		t.Fatal(err)
	}
	if u64max != "18446744073709551615" || d38max != "9999999999999999999999999999.9999999999" || dtmin != "1000-01-01" {
		t.Fatalf("limits: u64=%s d38=%s dt=%s", u64max, d38max, dtmin)
	}

	// Back through the extractor, in a third zone, with a batch boundary inside.
	recs, n, _ := e.extract(component.Config{"query": "SELECT * FROM " + e.q("all_types") + " ORDER BY id"}, 3, "timezone", "Asia/Kathmandu")
	if n != 4 {
		t.Fatalf("extracted %d rows, want 4", n)
	}
	sch := recs[0].Schema()
	for i, want := range wantTypes {
		if got := sch.Field(i).Type; !arrow.TypeEqual(got, want) {
			t.Errorf("column %s: type %s, want %s", sch.Field(i).Name, got, want)
		}
	}
	inRecs := in.Records
	for c := range wantTypes {
		got, want := cells(recs, c), cells(inRecs, c)
		if sch.Field(c).Name == "du" {
			want = []string{"-24:00:00", "00:00:00.000001", "01:00:00", "(null)"}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			if len(fmt.Sprint(want)) > 400 {
				t.Errorf("column %s differs (long values)", sch.Field(c).Name)
				continue
			}
			t.Errorf("column %s:\n got  %q\n want %q", sch.Field(c).Name, got, want)
		}
	}
	// Empty string and NULL stay different.
	s := recs[0].Column(13).(*array.String)
	if s.IsNull(0) || s.Value(0) != "" {
		t.Errorf("empty string came back as NULL or non-empty")
	}
	if !recs[len(recs)-1].Column(13).IsNull(int(recs[len(recs)-1].NumRows()) - 1) {
		t.Errorf("NULL string came back non-NULL")
	}
}

// intTable builds n rows (id, val, txt) in batches of batchRows.
func intTable(n, batchRows int, val func(i int) (int64, bool)) *componenttest.MemTable {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "val", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "txt", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	var recs []arrow.RecordBatch
	for i := 0; i < n; i++ {
		rb.Field(0).(*array.Int64Builder).Append(int64(i + 1))
		if v, ok := val(i); ok {
			rb.Field(1).(*array.Int64Builder).Append(v)
		} else {
			rb.Field(1).AppendNull()
		}
		rb.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("row %d", i+1))
		if (i+1)%batchRows == 0 || i == n-1 {
			recs = append(recs, rb.NewRecordBatch())
		}
	}
	t := componenttest.NewMemTable("ints", schema, recs...)
	for _, r := range recs {
		r.Release()
	}
	return t
}

func plain(i int) (int64, bool) { return int64(i), true }

func TestBatchBoundaries(t *testing.T) {
	e := newPGEnv(t)
	const batch = 7
	for _, n := range []int{0, batch - 1, batch, batch + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			table := fmt.Sprintf("bb_%d", n)
			res, err := e.write(context.Background(), component.Config{"table": table, "write_mode": "replace",
				"create_if_missing": true, "primary_key": []any{"id"}}, intTable(n, batch, plain))
			if err != nil {
				t.Fatal(err)
			}
			if res.RowsWritten != int64(n) {
				t.Fatalf("written %d, want %d", res.RowsWritten, n)
			}
			recs, got, _ := e.extract(component.Config{"table": table, "columns": []any{"id", "val"}}, batch)
			if got != int64(n) {
				t.Fatalf("extracted %d, want %d", got, n)
			}
			var sum int64
			for i, r := range recs {
				if r.NumRows() > batch || (i < len(recs)-1 && r.NumRows() != batch) || r.NumRows() == 0 {
					t.Fatalf("batch %d has %d rows", i, r.NumRows())
				}
				for _, v := range r.Column(1).(*array.Int64).Int64Values() {
					sum += v
				}
			}
			if want := int64(n * (n - 1) / 2); sum != want {
				t.Fatalf("sum %d, want %d", sum, want)
			}
		})
	}
}

func TestAppendAndUpsert(t *testing.T) {
	e := newPGEnv(t)
	ctx := context.Background()
	e.exec(`CREATE TABLE ` + e.q("up") + ` (id bigint PRIMARY KEY, val bigint, txt text, note text DEFAULT 'keep')`)
	if _, err := e.write(ctx, component.Config{"table": "up", "write_mode": "append"}, intTable(5, 2, plain)); err != nil {
		t.Fatal(err)
	}
	// Upsert ids 4..8 with val*10: 4,5 updated, 6..8 inserted, note untouched.
	shifted := intTable(8, 3, func(i int) (int64, bool) { return int64(i * 10), true })
	tail := &componenttest.MemTable{ID: "tail", Sch: shifted.Sch}
	for _, r := range shifted.Records {
		tail.Records = append(tail.Records, r)
	}
	res, err := e.write(ctx, component.Config{"table": "up", "write_mode": "upsert", "primary_key": "id"}, sliceTable(t, shifted, 3, 8))
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 5 {
		t.Fatalf("upsert wrote %d, want 5", res.RowsWritten)
	}
	got := e.contents("up")
	want := strings.Join([]string{
		`(1,0,"row 1",keep)`, `(2,1,"row 2",keep)`, `(3,2,"row 3",keep)`, `(4,30,"row 4",keep)`,
		`(5,40,"row 5",keep)`, `(6,50,"row 6",keep)`, `(7,60,"row 7",keep)`, `(8,70,"row 8",keep)`}, "\n")
	if got != want {
		t.Fatalf("after upsert:\n%s\nwant\n%s", got, want)
	}
}

// sliceTable returns rows [from, to) of t as a new table.
func sliceTable(t testing.TB, in *componenttest.MemTable, from, to int64) *componenttest.MemTable {
	r, err := in.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := componenttest.Drain(t, r)
	var out []arrow.RecordBatch
	var off int64
	for _, rec := range recs {
		lo, hi := max(from-off, 0), min(to-off, rec.NumRows())
		if lo < hi {
			out = append(out, rec.NewSlice(lo, hi))
		}
		off += rec.NumRows()
		rec.Release()
	}
	res := componenttest.NewMemTable(in.ID, in.Sch, out...)
	for _, r := range out {
		r.Release()
	}
	return res
}

func TestCastPathIntoExistingTypes(t *testing.T) {
	e := newPGEnv(t)
	ctx := context.Background()
	// val is text and txt is varchar(10) in the target: val needs a cast.
	e.exec(`CREATE TABLE ` + e.q("cast") + ` (id integer PRIMARY KEY, val text, txt varchar(10))`)
	for _, mode := range []string{"append", "replace", "upsert"} {
		res, err := e.write(ctx, component.Config{"table": "cast", "write_mode": mode, "primary_key": "id"}, intTable(3, 2, plain))
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if res.RowsWritten != 3 {
			t.Fatalf("%s: wrote %d", mode, res.RowsWritten)
		}
	}
	if got, want := e.contents("cast"), "(1,0,\"row 1\")\n(2,1,\"row 2\")\n(3,2,\"row 3\")"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// Too long for varchar(3): PostgreSQL refuses, nothing changes.
	e.exec(`CREATE TABLE ` + e.q("short") + ` (id bigint, val bigint, txt varchar(3))`)
	if _, err := e.write(ctx, component.Config{"table": "short", "write_mode": "append"}, intTable(3, 2, plain)); err == nil {
		t.Fatal("want error for value too long")
	}
	if got := e.contents("short"); got != "" {
		t.Fatalf("short has rows after failed append: %s", got)
	}
}

// TestFailureLeavesTargetUnchanged: a row in the middle of the data violates
// a constraint; every mode must leave the table exactly as it was.
func TestFailureLeavesTargetUnchanged(t *testing.T) {
	e := newPGEnv(t)
	ctx := context.Background()
	const n = 20000
	badVal := func(i int) (int64, bool) {
		if i == n/2 {
			return -1, true // violates CHECK (val >= 0)
		}
		return int64(i), true
	}
	nullVal := func(i int) (int64, bool) { return int64(i), i != n/2 }
	dupKey := intTable(n, 1000, plain)
	tests := []struct {
		name string
		mode string
		in   *componenttest.MemTable
	}{
		{"check/append", "append", intTable(n, 1000, badVal)},
		{"check/replace", "replace", intTable(n, 1000, badVal)},
		{"check/upsert", "upsert", intTable(n, 1000, badVal)},
		{"notnull/replace", "replace", intTable(n, 1000, nullVal)},
		{"notnull/upsert", "upsert", intTable(n, 1000, nullVal)},
		{"dupkey/replace", "replace", concatTables(dupKey, sliceTable(t, dupKey, n/2, n/2+1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := strings.ReplaceAll(tt.name, "/", "_")
			e.exec(`CREATE TABLE ` + e.q(table) + ` (id bigint PRIMARY KEY, val bigint NOT NULL CHECK (val >= 0), txt text)`)
			// Old ids do not collide with the new ones: only the bad row fails.
			e.exec(`INSERT INTO ` + e.q(table) + ` SELECT g, g * 3, 'old ' || g FROM generate_series(1000001, 1000500) g`)
			before := e.contents(table)
			_, err := e.write(ctx, component.Config{"table": table, "write_mode": tt.mode, "primary_key": "id"}, tt.in)
			if err == nil {
				t.Fatal("want an error")
			}
			t.Logf("error (expected): %v", err)
			if after := e.contents(table); after != before {
				t.Fatalf("table changed by a failed %s", tt.mode)
			}
		})
	}
}

func concatTables(ts ...*componenttest.MemTable) *componenttest.MemTable {
	var recs []arrow.RecordBatch
	for _, t := range ts {
		recs = append(recs, t.Records...)
	}
	return componenttest.NewMemTable("concat", ts[0].Sch, recs...)
}

func TestRowsReconciliation(t *testing.T) {
	e := newPGEnv(t)
	ctx := context.Background()
	// A trigger silently drops even ids: COPY stores fewer rows than sent.
	e.exec(`CREATE TABLE ` + e.q("rec") + ` (id bigint PRIMARY KEY, val bigint, txt text)`)
	e.exec(`CREATE FUNCTION ` + quoteIdent(e.schema) + `.skip_even() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN IF NEW.id % 2 = 0 THEN RETURN NULL; END IF; RETURN NEW; END $$`)
	e.exec(`CREATE TRIGGER skip_even BEFORE INSERT ON ` + e.q("rec") + ` FOR EACH ROW EXECUTE FUNCTION ` + quoteIdent(e.schema) + `.skip_even()`)
	e.exec(`INSERT INTO ` + e.q("rec") + ` VALUES (1001, 1, 'old')`)
	before := e.contents("rec")
	for _, mode := range []string{"append", "replace", "upsert"} {
		_, err := e.write(ctx, component.Config{"table": "rec", "write_mode": mode, "primary_key": "id"}, intTable(10, 4, plain))
		if err == nil || !strings.Contains(err.Error(), "differ") {
			t.Fatalf("%s: want a row-count mismatch, got %v", mode, err)
		}
		if after := e.contents("rec"); after != before {
			t.Fatalf("%s: table changed", mode)
		}
	}
	// The input table claims more rows than its stream delivers.
	e.exec(`CREATE TABLE ` + e.q("rec2") + ` (id bigint, val bigint, txt text)`)
	_, err := e.write(ctx, component.Config{"table": "rec2"}, lyingTable{intTable(10, 4, plain)})
	if err == nil || !strings.Contains(err.Error(), "received") {
		t.Fatalf("want received/written mismatch, got %v", err)
	}
	if got := e.contents("rec2"); got != "" {
		t.Fatalf("rec2 not empty: %s", got)
	}
}

type lyingTable struct{ *componenttest.MemTable }

func (l lyingTable) Rows() int64 { return l.MemTable.Rows() + 1 }

// slowReader yields batches of the movies-like table slowly and signals
// after a few, so the test can kill the connection or cancel mid-COPY.
type slowReader struct {
	array.RecordReader
	count   int
	signal  int
	reached chan struct{}
	delay   time.Duration
}

func (s *slowReader) Next() bool {
	s.count++
	if s.count == s.signal {
		close(s.reached)
	}
	if s.count > s.signal {
		time.Sleep(s.delay)
	}
	return s.RecordReader.Next()
}

type slowTable struct {
	*componenttest.MemTable
	reached chan struct{}
}

func (s *slowTable) Open(ctx context.Context) (array.RecordReader, error) {
	r, err := s.MemTable.Open(ctx)
	if err != nil {
		return nil, err
	}
	return &slowReader{RecordReader: r, signal: 200, reached: s.reached, delay: 5 * time.Millisecond}, nil
}

func TestInterruptedCopyRollsBack(t *testing.T) {
	e := newPGEnv(t)
	for _, how := range []string{"terminate", "cancel"} {
		for _, mode := range []string{"append", "replace", "upsert"} {
			t.Run(how+"/"+mode, func(t *testing.T) {
				table := "int_" + how + "_" + mode
				e.exec(`CREATE TABLE ` + e.q(table) + ` (id bigint PRIMARY KEY, val bigint, txt text)`)
				e.exec(`INSERT INTO ` + e.q(table) + ` SELECT g, g, 'old' FROM generate_series(1000001, 1000100) g`)
				before := e.contents(table)
				// 2000 batches of 100 rows, 5 ms apart after the 200th: ~9 s if never interrupted.
				src := &slowTable{MemTable: intTable(200000, 100, plain), reached: make(chan struct{})}
				appName := "osiris_test_" + e.schema + "_" + how + mode
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				stop, finished := make(chan struct{}), make(chan struct{})
				waitKiller := sync.OnceFunc(func() { close(stop); <-finished })
				defer waitKiller()
				go func() {
					defer close(finished)
					select {
					case <-src.reached:
					case <-stop:
						return
					}
					// Act only once the server has stored rows of this COPY.
					deadline := time.Now().Add(5 * time.Second)
					for {
						var done int64
						_ = e.admin.QueryRow(context.Background(), `SELECT coalesce(max(p.tuples_processed), 0)
							FROM pg_stat_progress_copy p JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1`, appName).Scan(&done)
						if done > 0 {
							t.Logf("acting after the server stored %d rows", done)
							break
						}
						if time.Now().After(deadline) {
							t.Errorf("COPY made no progress")
							break
						}
						time.Sleep(10 * time.Millisecond)
					}
					if how == "cancel" {
						cancel()
						return
					}
					var killed bool
					err := e.admin.QueryRow(context.Background(),
						`SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&killed)
					if err != nil || !killed {
						t.Errorf("terminate: %v (killed=%v)", err, killed)
					}
				}()
				start := time.Now()
				_, err := e.write(ctx, component.Config{"table": table, "write_mode": mode, "primary_key": "id"}, src, "application_name", appName)
				if err == nil {
					t.Fatal("want an error")
				}
				if how == "cancel" && ctx.Err() == nil {
					t.Fatal("context not cancelled?")
				}
				waitKiller() // it shares e.admin with contents below
				t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
				if time.Since(start) > 5*time.Second {
					t.Fatalf("write took %v: the interruption was not noticed promptly", time.Since(start))
				}
				if after := e.contents(table); after != before {
					t.Fatal("table changed by an interrupted write")
				}
			})
		}
	}
}

func TestExtractorTypesAndWarnings(t *testing.T) {
	e := newPGEnv(t)
	e.exec(`CREATE TYPE ` + quoteIdent(e.schema) + `.mood AS ENUM ('sad', 'happy')`)
	var warned []string
	req := e.request(component.Config{"query": `SELECT 1.5::numeric AS un, 'happy'::` + quoteIdent(e.schema) + `.mood AS m,
		'{"a": 1}'::jsonb AS j, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, interval '1 month 2 days 3 hours' AS iv,
		'infinity'::timestamp AS inf, 12.34::numeric(80,2) AS big, 'x'::char(3) AS c, ARRAY[1,2] AS arr, 'NaN'::numeric(5,2) AS nan`})
	req.Warn = func(code, msg string) { warned = append(warned, code) }
	r, err := Extractor{}.Extract(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	recs, n := componenttest.Drain(t, r)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if n != 1 {
		t.Fatalf("%d rows", n)
	}
	rec := recs[0]
	want := map[string]string{"un": "1.5", "m": "happy", "j": `{"a": 1}`, "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"inf": "(null)", "c": "x  ", "arr": "{1,2}", "nan": "(null)"}
	for i, f := range rec.Schema().Fields() {
		if w, ok := want[f.Name]; ok && rec.Column(i).ValueStr(0) != w {
			t.Errorf("%s = %q, want %q", f.Name, rec.Column(i).ValueStr(0), w)
		}
	}
	if iv := rec.Column(4).(*array.String).Value(0); iv != "1 month 2 days 03:00:00" {
		t.Errorf("interval = %q", iv)
	}
	if typ := rec.Column(6).DataType(); typ.ID() != arrow.STRING {
		t.Errorf("numeric(80,2) type %s, want utf8", typ)
	}
	got := strings.Join(warned, ",")
	for _, w := range []string{"numeric-as-text", "infinity-as-null", "numeric-nan-as-null"} {
		if !strings.Contains(got, w) {
			t.Errorf("warning %s missing (got %s)", w, got)
		}
	}
}

func TestExtractorTableOptionsAndErrors(t *testing.T) {
	e := newPGEnv(t)
	e.exec(`CREATE TABLE ` + e.q("opts") + ` AS SELECT g AS id, g * 2 AS "Val" FROM generate_series(1, 100) g`)
	recs, n, _ := e.extract(component.Config{"table": "opts", "columns": []any{"Val"}, "where": "id > 10", "limit": 5}, 0)
	if n != 5 || recs[0].NumCols() != 1 || recs[0].Schema().Field(0).Name != "Val" {
		t.Fatalf("n=%d schema=%s", n, recs[0].Schema())
	}
	_, err := Extractor{}.Extract(context.Background(), e.request(component.Config{"query": "SELECT * FROM nope_missing"}))
	if err == nil || !strings.Contains(err.Error(), "nope_missing") {
		t.Fatalf("want error naming the table, got %v", err)
	}
}

func TestExtractorCancelAndEarlyRelease(t *testing.T) {
	e := newPGEnv(t)
	// Early release of a huge result must not read it to the end.
	// A cross join streams (a single generate_series would be materialized first).
	req := e.request(component.Config{"query": "SELECT a.g * 10000 + b.g, repeat('x', 100) FROM generate_series(1, 5000) a(g), generate_series(1, 10000) b(g)"})
	req.BatchRows = 1000
	r, err := Extractor{}.Extract(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Next() {
		t.Fatal(r.Err())
	}
	start := time.Now()
	r.Release()
	t.Logf("released in %v", time.Since(start))
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("release took %v", d)
	}
	// Cancel mid-stream: Next stops with the context error.
	ctx, cancel := context.WithCancel(context.Background())
	r, err = Extractor{}.Extract(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !r.Next() {
		t.Fatal(r.Err())
	}
	cancel()
	start = time.Now()
	for r.Next() {
	}
	if r.Err() == nil {
		t.Fatal("want an error after cancel")
	}
	t.Logf("stopped %v after cancel: %v", time.Since(start), r.Err())
}

func TestWriterErrorsAreClear(t *testing.T) {
	e := newPGEnv(t)
	ctx := context.Background()
	in := intTable(1, 1, plain)
	_, err := e.write(ctx, component.Config{"table": "absent"}, in)
	if err == nil || !strings.Contains(err.Error(), "create_if_missing") {
		t.Fatalf("missing table: %v", err)
	}
	_, err = e.write(ctx, component.Config{"table": "x", "write_mode": "upsert"}, in)
	if err == nil || !strings.Contains(err.Error(), "primary_key") {
		t.Fatalf("upsert without key: %v", err)
	}
	e.exec(`CREATE TABLE ` + e.q("narrow") + ` (id bigint)`)
	_, err = e.write(ctx, component.Config{"table": "narrow", "schema_evolution": "fail"}, in)
	if err == nil || !strings.Contains(err.Error(), `"val"`) {
		t.Fatalf("extra column: %v", err)
	}
	// A wrong password never shows up in the error.
	conn := &workspace.Connection{Family: "postgres", Alias: "bad", Values: map[string]any{
		"host": testenv.PGHost(), "port": testenv.PGPort(), "database": "no_such_db_osiris", "user": "nobody_osiris",
		"password": "canary-S3cret-pw", "sslmode": "disable"}}
	req := componenttest.Request(t, component.Config{"table": "x"}, conn, "")
	_, err = Writer{}.Write(ctx, req, in)
	if err == nil || strings.Contains(err.Error(), "canary-S3cret-pw") {
		t.Fatalf("bad connection: %v", err)
	}
}

// TestReplaceRebuildsIndexes: replace drops the target's keys and indexes
// for the load and rebuilds them, with the same names and definitions, in
// the same transaction; duplicates found by the rebuild roll everything back.
func TestReplaceRebuildsIndexes(t *testing.T) {
	e := newPGEnv(t)
	ctx := context.Background()
	e.exec(`CREATE TABLE ` + e.q("ix") + ` (id bigint CONSTRAINT ix_pk PRIMARY KEY, val bigint, txt text)`)
	e.exec(`CREATE INDEX ix_val ON ` + e.q("ix") + ` (val) WHERE val > 2`)
	e.exec(`CREATE UNIQUE INDEX ix_txt ON ` + e.q("ix") + ` (txt)`)
	defs := func() string {
		var out []string
		rows, err := e.admin.Query(ctx, `SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'ix' ORDER BY 1`, e.schema)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return strings.Join(out, "\n")
	}
	before := defs()
	if _, err := e.write(ctx, component.Config{"table": "ix", "write_mode": "replace"}, intTable(50, 7, plain)); err != nil {
		t.Fatal(err)
	}
	if after := defs(); after != before {
		t.Fatalf("indexes changed by replace:\n%s\nwant\n%s", after, before)
	}
	contents := e.contents("ix")
	// A duplicate id: the primary key rebuild fails and nothing changes.
	dup := concatTables(intTable(10, 4, plain), intTable(3, 4, plain))
	if _, err := e.write(ctx, component.Config{"table": "ix", "write_mode": "replace"}, dup); err == nil {
		t.Fatal("replace with duplicate keys succeeded")
	} else if !strings.Contains(err.Error(), "duplicate") && !strings.Contains(err.Error(), "duplicated") {
		t.Fatalf("error does not say duplicate: %v", err)
	}
	if got := e.contents("ix"); got != contents {
		t.Fatalf("failed replace changed the table")
	}
	if after := defs(); after != before {
		t.Fatalf("indexes changed by a failed replace:\n%s\nwant\n%s", after, before)
	}
}
