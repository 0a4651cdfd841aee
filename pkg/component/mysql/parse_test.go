package mysql

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

func TestCivilDaysMatchTimePackage(t *testing.T) {
	for _, d := range []string{"0000-01-01", "0001-03-01", "1000-01-01", "1600-02-29", "1899-12-31", "1969-12-31", "1970-01-01", "2000-02-29", "2024-03-31", "9999-12-31"} {
		tm, err := time.Parse("2006-01-02", d)
		if err != nil {
			t.Fatal(err)
		}
		want := tm.Unix() / 86400
		if tm.Unix() < 0 && tm.Unix()%86400 != 0 {
			want--
		}
		got, valid, err := parseDate([]byte(d))
		if err != nil || !valid || got != want {
			t.Errorf("parseDate(%s) = %d,%v,%v want %d", d, got, valid, err, want)
		}
		y, m, dd := civilFromDays(got)
		if y != int64(tm.Year()) || m != int64(tm.Month()) || dd != int64(tm.Day()) {
			t.Errorf("civilFromDays(%d) = %d-%d-%d want %s", got, y, m, dd, d)
		}
	}
}

func TestParseDateZeroAndInvalid(t *testing.T) {
	for _, tc := range []struct {
		in      string
		valid   bool
		wantErr bool
	}{
		{"0000-00-00", false, false},
		{"2024-00-15", false, false},
		{"2024-05-00", false, false},
		{"2023-02-29", false, false}, // ALLOW_INVALID_DATES
		{"2024-02-29", true, false},
		{"2024-1-01", false, true},
		{"abcd-01-01", false, true},
	} {
		_, valid, err := parseDate([]byte(tc.in))
		if (err != nil) != tc.wantErr || valid != tc.valid {
			t.Errorf("parseDate(%q) valid=%v err=%v; want valid=%v err=%v", tc.in, valid, err, tc.valid, tc.wantErr)
		}
	}
}

func TestParseDateTimeAndTime(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2024-03-31 02:30:00", "2024-03-31T02:30:00Z"},
		{"1000-01-01 00:00:00", "1000-01-01T00:00:00Z"},
		{"9999-12-31 23:59:59.999999", "9999-12-31T23:59:59.999999Z"},
		{"2024-01-02 03:04:05.5", "2024-01-02T03:04:05.5Z"},
	} {
		us, valid, err := parseDateTime([]byte(tc.in))
		if err != nil || !valid {
			t.Fatalf("parseDateTime(%q): %v %v", tc.in, valid, err)
		}
		want, _ := time.Parse(time.RFC3339Nano, tc.want)
		if got := time.UnixMicro(us).UTC(); !got.Equal(want) {
			t.Errorf("parseDateTime(%q) = %s want %s", tc.in, got, want)
		}
	}
	if _, valid, err := parseDateTime([]byte("0000-00-00 00:00:00")); err != nil || valid {
		t.Errorf("zero datetime: valid=%v err=%v", valid, err)
	}
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"00:00:00", 0},
		{"-838:59:59", -(838*3600 + 59*60 + 59) * 1e6},
		{"838:59:59.000000", (838*3600 + 59*60 + 59) * 1e6},
		{"25:00:00.5", 25*3600*1e6 + 500000},
		{"-00:00:01.000001", -1000001},
	} {
		got, err := parseTimeOfDay([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("parseTimeOfDay(%q) = %d, %v want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestDecimalParserExact(t *testing.T) {
	for _, tc := range []struct {
		in   string
		p, s int32
		want string // unscaled digits
	}{
		{"0.00", 14, 2, "0"},
		{"-0.05", 14, 2, "-5"},
		{"123.40", 14, 2, "12340"},
		{"123.4", 14, 2, "12340"},
		{"9999999999999999999999999999.9999999999", 38, 10, "99999999999999999999999999999999999999"},
		{"-9999999999999999999999999999.9999999999", 38, 10, "-99999999999999999999999999999999999999"},
		{"12345678901234567890123456789012345.123456789012345678901234567890", 65, 30, "12345678901234567890123456789012345123456789012345678901234567890"},
		{"42", 10, 0, "42"},
	} {
		p := &decimalParser{precision: tc.p, scale: tc.s}
		if tc.p <= 38 {
			n, err := p.parse128([]byte(tc.in))
			if err != nil || n.BigInt().String() != tc.want {
				t.Errorf("parse128(%q) = %s, %v want %s", tc.in, n.BigInt(), err, tc.want)
			}
			if got := n.ToString(tc.s); strings.TrimLeft(got, "-") != strings.TrimLeft(tc.in, "-") && tc.in != "123.4" {
				t.Errorf("round trip %q -> %q", tc.in, got)
			}
		}
		n, err := p.parse256([]byte(tc.in))
		if err != nil || n.BigInt().String() != tc.want {
			t.Errorf("parse256(%q) = %s, %v want %s", tc.in, n.BigInt(), err, tc.want)
		}
	}
	p := &decimalParser{precision: 5, scale: 2}
	for _, bad := range []string{"1234.00", "1.234", "1e5", "", "-", "1.2.3"} {
		if _, err := p.parse128([]byte(bad)); err == nil {
			t.Errorf("parse128(%q) succeeded, want error", bad)
		}
	}
}

func TestEncodeValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	build := func(dt arrow.DataType, f func(b array.Builder)) arrow.Array {
		b := array.NewBuilder(mem, dt)
		defer b.Release()
		f(b)
		return b.NewArray()
	}
	cases := []struct {
		arr  arrow.Array
		want []string // "" for NULL marker "\\N"
	}{
		{build(&arrow.Decimal128Type{Precision: 38, Scale: 10}, func(b array.Builder) {
			n, _ := decimal128.FromString("-9999999999999999999999999999.9999999999", 38, 10)
			b.(*array.Decimal128Builder).Append(n)
			b.(*array.Decimal128Builder).Append(decimal128.FromI64(-5))
			b.AppendNull()
		}), []string{"-9999999999999999999999999999.9999999999", "-0.0000000005", `\N`}},
		{build(&arrow.Decimal256Type{Precision: 65, Scale: 30}, func(b array.Builder) {
			n, _ := decimal256.FromString("12345678901234567890123456789012345.123456789012345678901234567890", 65, 30)
			b.(*array.Decimal256Builder).Append(n)
		}), []string{"12345678901234567890123456789012345.123456789012345678901234567890"}},
		{build(&arrow.TimestampType{Unit: arrow.Nanosecond}, func(b array.Builder) {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(time.Date(1969, 12, 31, 23, 59, 59, 123456789, time.UTC).UnixNano()))
		}), []string{"1969-12-31 23:59:59.123456"}},
		{build(&arrow.TimestampType{Unit: arrow.Second}, func(b array.Builder) {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()))
		}), []string{"9999-12-31 23:59:59"}},
		{build(arrow.FixedWidthTypes.Duration_us, func(b array.Builder) {
			b.(*array.DurationBuilder).Append(arrow.Duration(-(838*3600 + 59*60 + 59) * 1e6))
			b.(*array.DurationBuilder).Append(arrow.Duration(1500000))
		}), []string{"-838:59:59.000000", "00:00:01.500000"}},
		{build(arrow.FixedWidthTypes.Date32, func(b array.Builder) {
			b.(*array.Date32Builder).Append(arrow.Date32(-354285)) // 1000-01-01
		}), []string{"1000-01-01"}},
		{build(arrow.BinaryTypes.String, func(b array.Builder) {
			b.(*array.StringBuilder).Append("a\tb\nc\\d\x00")
			b.(*array.StringBuilder).Append("")
		}), []string{`a\tb\nc\\d\0`, ""}},
	}
	for _, tc := range cases {
		enc, kind, err := encoderFor(tc.arr)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range tc.want {
			out, null, err := enc(nil, i)
			if err != nil {
				t.Fatalf("%s row %d: %v", tc.arr.DataType(), i, err)
			}
			got := string(out)
			if null {
				got = `\N`
			} else if kind != kindNumber {
				got = string(appendTSVEscaped(nil, out))
			}
			if got != want {
				t.Errorf("%s row %d: got %q want %q", tc.arr.DataType(), i, got, want)
			}
		}
		tc.arr.Release()
	}
}

func TestSQLLiteral(t *testing.T) {
	if got := string(appendSQLLiteral(nil, []byte("it's a \\ test\n"), kindText)); got != `'it\'s a \\ test\n'` {
		t.Errorf("text literal: %s", got)
	}
	if got := string(appendSQLLiteral(nil, []byte{0xff, 0x00}, kindBinary)); got != `X'ff00'` {
		t.Errorf("binary literal: %s", got)
	}
}

func TestConfigFor(t *testing.T) {
	conn := func(v map[string]any) *workspace.Connection {
		return &workspace.Connection{Family: "mysql", Alias: "x", Values: v}
	}
	for _, tc := range []struct {
		name string
		v    map[string]any
		addr string
		db   string
	}{
		{"fields", map[string]any{"host": "db", "port": int64(3307), "database": "movies", "user": "u", "password": "p@ss"}, "db:3307", "movies"},
		{"defaults", map[string]any{"user": "root"}, "127.0.0.1:3306", ""},
		{"dsn", map[string]any{"dsn": "a:b@tcp(h:1)/d?parseTime=true"}, "h:1", "d"},
		{"url", map[string]any{"url": "mysql://a:s%40cret@h:3310/d?tls=false"}, "h:3310", "d"},
	} {
		cfg, err := configFor(conn(tc.v))
		if err != nil || cfg.Addr != tc.addr || cfg.DBName != tc.db {
			t.Errorf("%s: configFor = %+v, %v; want addr %s db %q", tc.name, cfg, err, tc.addr, tc.db)
		}
	}
	_, err := configFor(conn(map[string]any{"url": "mysql://u:topsecret@h:badport/d"}))
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("bad URL error must exist and not contain the password: %v", err)
	}
	cfg, err := configFor(conn(map[string]any{"dsn": "a:b@tcp(h:1)/d?parseTime=true&interpolateParams=true"}))
	if err != nil || cfg.ParseTime || cfg.InterpolateParams {
		t.Errorf("configFor must force parseTime/interpolateParams off: %+v %v", cfg, err)
	}
	cfg, err = configFor(conn(map[string]any{"host": "h", "user": "u", "password": "p/a@s)s?x=1", "database": "d"}))
	if err != nil || cfg.Passwd != "p/a@s)s?x=1" || cfg.DBName != "d" || cfg.Addr != "h:3306" {
		t.Errorf("password with DSN punctuation: %+v %v", cfg, err)
	}
}

func TestBuildQuery(t *testing.T) {
	for _, tc := range []struct {
		cfg  component.Config
		want string
	}{
		{component.Config{"query": "SELECT 1;\n"}, "SELECT 1"},
		{component.Config{"table": "film"}, "SELECT * FROM `film`"},
		{component.Config{"table": "sakila.film", "columns": []any{"film_id", "ti`tle"}, "where": "film_id > 3", "limit": 10}, "SELECT `film_id`, `ti``tle` FROM `sakila`.`film` WHERE film_id > 3 LIMIT 10"},
		{component.Config{"table": "film", "schema": "s"}, "SELECT * FROM `s`.`film`"},
		// Osiris-Python's offset is honoured, never dropped.
		{component.Config{"table": "film", "limit": 10, "offset": 20}, "SELECT * FROM `film` LIMIT 10 OFFSET 20"},
		{component.Config{"table": "film", "offset": 5}, "SELECT * FROM `film` LIMIT 18446744073709551615 OFFSET 5"},
	} {
		got, err := buildQuery(tc.cfg)
		if err != nil || got != tc.want {
			t.Errorf("buildQuery(%v) = %q, %v want %q", tc.cfg, got, err, tc.want)
		}
	}
	if _, err := buildQuery(component.Config{}); err == nil {
		t.Error("empty config must fail")
	}
}

func TestCreateTableSQL(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "d", Type: &arrow.Decimal256Type{Precision: 65, Scale: 30}, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "t", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	got, err := createTableSQL("`x`", s, []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`id` VARCHAR(255) NOT NULL", "`n` BIGINT UNSIGNED NULL", "`d` DECIMAL(65,30) NULL", "`ts` DATETIME(6) NULL", "`t` LONGTEXT NULL", "PRIMARY KEY (`id`)"} {
		if !strings.Contains(got, want) {
			t.Errorf("DDL lacks %q:\n%s", want, got)
		}
	}
	if _, err := mysqlColumnType(&arrow.Decimal256Type{Precision: 70, Scale: 2}, false); err == nil {
		t.Error("DECIMAL(70,2) must be refused")
	}
}

func TestStagingName(t *testing.T) {
	long := strings.Repeat("t", 64)
	if got := stagingName(long, "__osiris_new"); len(got) > 64 || !strings.HasSuffix(got, "__osiris_new") {
		t.Errorf("stagingName too long or wrong: %q", got)
	}
	if got := stagingName("movies", "__osiris_new"); got != "movies__osiris_new" {
		t.Errorf("stagingName = %q", got)
	}
}
