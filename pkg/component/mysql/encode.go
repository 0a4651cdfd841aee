package mysql

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
)

// valueKind says how an encoded value must be quoted in SQL and whether it
// needs escaping in TSV.
type valueKind uint8

const (
	kindNumber valueKind = iota // digits, sign, '.', 'e': no quoting
	kindText                    // UTF-8 text: quoted and escaped
	kindBinary                  // bytes: X'hex' in SQL, escaped in TSV
)

// cellEncoder appends the MySQL text form of row i of one array to dst.
// null reports a NULL (nothing appended).
type cellEncoder func(dst []byte, i int) (out []byte, null bool, err error)

// encoderFor returns the encoder of one column of one batch and its kind.
// The text forms are those MySQL parses back exactly: DATETIME wall clock
// for timestamps (zone-aware ones converted to UTC, matching the session's
// time_zone '+00:00'), [-]HHH:MM:SS.ffffff for durations, decimals in
// plain notation.
func encoderFor(arr arrow.Array) (cellEncoder, valueKind, error) {
	wrap := func(f func(dst []byte, i int) ([]byte, error)) cellEncoder {
		return func(dst []byte, i int) ([]byte, bool, error) {
			if arr.IsNull(i) {
				return dst, true, nil
			}
			out, err := f(dst, i)
			return out, false, err
		}
	}
	switch a := arr.(type) {
	case *array.Null:
		return func(dst []byte, _ int) ([]byte, bool, error) { return dst, true, nil }, kindNumber, nil
	case *array.Boolean:
		return wrap(func(dst []byte, i int) ([]byte, error) {
			if a.Value(i) {
				return append(dst, '1'), nil
			}
			return append(dst, '0'), nil
		}), kindNumber, nil
	case *array.Int8:
		return wrap(func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil }), kindNumber, nil
	case *array.Int16:
		return wrap(func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil }), kindNumber, nil
	case *array.Int32:
		return wrap(func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, int64(a.Value(i)), 10), nil }), kindNumber, nil
	case *array.Int64:
		return wrap(func(dst []byte, i int) ([]byte, error) { return strconv.AppendInt(dst, a.Value(i), 10), nil }), kindNumber, nil
	case *array.Uint8:
		return wrap(func(dst []byte, i int) ([]byte, error) { return strconv.AppendUint(dst, uint64(a.Value(i)), 10), nil }), kindNumber, nil
	case *array.Uint16:
		return wrap(func(dst []byte, i int) ([]byte, error) { return strconv.AppendUint(dst, uint64(a.Value(i)), 10), nil }), kindNumber, nil
	case *array.Uint32:
		return wrap(func(dst []byte, i int) ([]byte, error) { return strconv.AppendUint(dst, uint64(a.Value(i)), 10), nil }), kindNumber, nil
	case *array.Uint64:
		return wrap(func(dst []byte, i int) ([]byte, error) { return strconv.AppendUint(dst, a.Value(i), 10), nil }), kindNumber, nil
	case *array.Float16:
		return wrap(func(dst []byte, i int) ([]byte, error) { return appendFloat(dst, float64(a.Value(i).Float32()), 32) }), kindNumber, nil
	case *array.Float32:
		return wrap(func(dst []byte, i int) ([]byte, error) { return appendFloat(dst, float64(a.Value(i)), 32) }), kindNumber, nil
	case *array.Float64:
		return wrap(func(dst []byte, i int) ([]byte, error) { return appendFloat(dst, a.Value(i), 64) }), kindNumber, nil
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return wrap(func(dst []byte, i int) ([]byte, error) { return appendDecimal128(dst, a.Value(i), scale), nil }), kindNumber, nil
	case *array.Decimal256:
		scale := a.DataType().(*arrow.Decimal256Type).Scale
		return wrap(func(dst []byte, i int) ([]byte, error) { return appendDecimal256(dst, a.Value(i), scale), nil }), kindNumber, nil
	case *array.String:
		return wrap(func(dst []byte, i int) ([]byte, error) { return append(dst, a.Value(i)...), nil }), kindText, nil
	case *array.LargeString:
		return wrap(func(dst []byte, i int) ([]byte, error) { return append(dst, a.Value(i)...), nil }), kindText, nil
	case *array.StringView:
		return wrap(func(dst []byte, i int) ([]byte, error) { return append(dst, a.Value(i)...), nil }), kindText, nil
	case *array.Binary:
		return wrap(func(dst []byte, i int) ([]byte, error) { return append(dst, a.Value(i)...), nil }), kindBinary, nil
	case *array.LargeBinary:
		return wrap(func(dst []byte, i int) ([]byte, error) { return append(dst, a.Value(i)...), nil }), kindBinary, nil
	case *array.BinaryView:
		return wrap(func(dst []byte, i int) ([]byte, error) { return append(dst, a.Value(i)...), nil }), kindBinary, nil
	case *array.FixedSizeBinary:
		return wrap(func(dst []byte, i int) ([]byte, error) { return append(dst, a.Value(i)...), nil }), kindBinary, nil
	case *array.Date32:
		return wrap(func(dst []byte, i int) ([]byte, error) { return appendDate(dst, int64(a.Value(i))) }), kindText, nil
	case *array.Date64:
		return wrap(func(dst []byte, i int) ([]byte, error) {
			return appendDate(dst, floorDiv(int64(a.Value(i)), 86_400_000))
		}), kindText, nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return wrap(func(dst []byte, i int) ([]byte, error) { return appendDateTime(dst, int64(a.Value(i)), unit) }), kindText, nil
	case *array.Time32:
		unit := a.DataType().(*arrow.Time32Type).Unit
		return wrap(func(dst []byte, i int) ([]byte, error) { return appendClock(dst, int64(a.Value(i)), unit), nil }), kindText, nil
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		return wrap(func(dst []byte, i int) ([]byte, error) { return appendClock(dst, int64(a.Value(i)), unit), nil }), kindText, nil
	case *array.Duration:
		unit := a.DataType().(*arrow.DurationType).Unit
		return wrap(func(dst []byte, i int) ([]byte, error) { return appendClock(dst, int64(a.Value(i)), unit), nil }), kindText, nil
	case *array.Dictionary:
		inner, kind, err := encoderFor(a.Dictionary())
		if err != nil {
			return nil, 0, err
		}
		return func(dst []byte, i int) ([]byte, bool, error) {
			if a.IsNull(i) {
				return dst, true, nil
			}
			return inner(dst, a.GetValueIndex(i))
		}, kind, nil
	}
	// Nested values (lists, structs, maps) are stored as JSON text.
	return wrap(func(dst []byte, i int) ([]byte, error) {
		b, err := json.Marshal(arr.GetOneForMarshal(i))
		if err != nil {
			return dst, fmt.Errorf("encoding %s as JSON: %w", arr.DataType(), err)
		}
		return append(dst, b...), nil
	}), kindText, nil
}

func appendFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("MySQL cannot store %v", f)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits), nil
}

// appendUnscaled writes an integer's decimal digits with a point inserted
// `scale` digits from the right.
func appendUnscaled(dst []byte, digits string, scale int32) []byte {
	if digits[0] == '-' {
		dst = append(dst, '-')
		digits = digits[1:]
	}
	if scale <= 0 {
		dst = append(dst, digits...)
		for ; scale < 0; scale++ {
			dst = append(dst, '0')
		}
		return dst
	}
	s := int(scale)
	if len(digits) <= s {
		dst = append(dst, '0', '.')
		for k := len(digits); k < s; k++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[:len(digits)-s]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-s:]...)
}

func appendDecimal128(dst []byte, n decimal128.Num, scale int32) []byte {
	// Fast path: values that fit an int64 (every DECIMAL(18,s) and most
	// others) avoid big.Int.
	if (n.HighBits() == 0 && n.LowBits() <= math.MaxInt64) || (n.HighBits() == -1 && n.LowBits() > math.MaxInt64) {
		var buf [24]byte
		return appendUnscaled(dst, string(strconv.AppendInt(buf[:0], int64(n.LowBits()), 10)), scale)
	}
	return appendUnscaled(dst, n.BigInt().String(), scale)
}

func appendDecimal256(dst []byte, n decimal256.Num, scale int32) []byte {
	return appendUnscaled(dst, n.BigInt().String(), scale)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func append2(dst []byte, v int64) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

func appendDate(dst []byte, days int64) ([]byte, error) {
	y, m, d := civilFromDays(days)
	if y < 0 || y > 9999 {
		return dst, fmt.Errorf("date with year %d is outside MySQL's range 0000-9999", y)
	}
	dst = append2(dst, y/100)
	dst = append2(dst, y%100)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d), nil
}

// unitDigits is the number of fractional-second digits of a unit.
func unitDigits(unit arrow.TimeUnit) (perSecond int64, digits int) {
	switch unit {
	case arrow.Second:
		return 1, 0
	case arrow.Millisecond:
		return 1_000, 3
	case arrow.Microsecond:
		return 1_000_000, 6
	default:
		return 1_000_000_000, 9
	}
}

// appendFractionOf writes frac (in 1/per seconds) with at most 6 digits:
// MySQL keeps microseconds, and nanoseconds are truncated here rather than
// left to the server, whose rounding differs between MySQL and MariaDB.
func appendFractionOf(dst []byte, frac, per int64, digits int) []byte {
	if digits > 6 {
		frac /= per / 1_000_000
		digits = 6
	}
	return appendFraction(dst, frac, digits)
}

func appendFraction(dst []byte, frac int64, digits int) []byte {
	if digits == 0 {
		return dst
	}
	dst = append(dst, '.')
	var buf [9]byte
	for k := digits - 1; k >= 0; k-- {
		buf[k] = byte('0' + frac%10)
		frac /= 10
	}
	return append(dst, buf[:digits]...)
}

// appendDateTime writes "YYYY-MM-DD HH:MM:SS[.fff…]" of v units since the
// epoch, read as UTC (the wall clock for zone-less timestamps).
func appendDateTime(dst []byte, v int64, unit arrow.TimeUnit) ([]byte, error) {
	per, nd := unitDigits(unit)
	secs := floorDiv(v, per)
	frac := v - secs*per
	days := floorDiv(secs, 86400)
	sod := secs - days*86400
	dst, err := appendDate(dst, days)
	if err != nil {
		return dst, err
	}
	dst = append(dst, ' ')
	dst = append2(dst, sod/3600)
	dst = append(dst, ':')
	dst = append2(dst, sod/60%60)
	dst = append(dst, ':')
	dst = append2(dst, sod%60)
	return appendFractionOf(dst, frac, per, nd), nil
}

// appendClock writes a signed duration or time of day as [-]H+:MM:SS[.fff…].
func appendClock(dst []byte, v int64, unit arrow.TimeUnit) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	per, nd := unitDigits(unit)
	secs, frac := v/per, v%per
	h := secs / 3600
	if h < 10 {
		dst = append(dst, '0')
	}
	dst = strconv.AppendInt(dst, h, 10)
	dst = append(dst, ':')
	dst = append2(dst, secs/60%60)
	dst = append(dst, ':')
	dst = append2(dst, secs%60)
	return appendFractionOf(dst, frac, per, nd)
}

// appendTSVEscaped appends b escaped for LOAD DATA … FIELDS ESCAPED BY '\\'
// (no enclosure): the field and line terminators, the escape itself, NUL and
// CR are backslash-escaped; everything else passes byte for byte.
func appendTSVEscaped(dst, b []byte) []byte {
	start := 0
	for i, c := range b {
		var esc byte
		switch c {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case 0:
			esc = '0'
		default:
			continue
		}
		dst = append(dst, b[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	return append(dst, b[start:]...)
}

// appendSQLLiteral appends b as an SQL literal of the given kind. Text is
// quoted with backslash escapes (the writer's session clears
// NO_BACKSLASH_ESCAPES), bytes as X'…'.
func appendSQLLiteral(dst, b []byte, kind valueKind) []byte {
	switch kind {
	case kindNumber:
		return append(dst, b...)
	case kindBinary:
		dst = append(dst, "X'"...)
		dst = hex.AppendEncode(dst, b)
		return append(dst, '\'')
	}
	dst = append(dst, '\'')
	start := 0
	for i, c := range b {
		var esc byte
		switch c {
		case '\\':
			esc = '\\'
		case '\'':
			esc = '\''
		case 0:
			esc = '0'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case 0x1a:
			esc = 'Z'
		default:
			continue
		}
		dst = append(dst, b[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	dst = append(dst, b[start:]...)
	return append(dst, '\'')
}
