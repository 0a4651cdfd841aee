package postgres

import (
	"strconv"
)

// appendInterval appends a PostgreSQL interval (its three fields, as the
// binary protocol sends them) as text in the form DuckDB prints and both
// PostgreSQL and DuckDB read back: "1 year 2 months 3 days 04:05:06.5",
// "-1 year -2 months 3 days -04:05:06.5", "00:00:00" for zero. Each field
// keeps its own sign and nothing is converted (a month is not 30 days), so
// the text is the exact interval.
func appendInterval(b []byte, months, days int32, micros int64) []byte {
	unit := func(b []byte, n int64, name string) []byte {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, n, 10)
		b = append(b, ' ')
		b = append(b, name...)
		if n != 1 && n != -1 {
			b = append(b, 's')
		}
		return b
	}
	start := len(b)
	if y := months / 12; y != 0 {
		b = unit(b, int64(y), "year")
	}
	if m := months % 12; m != 0 {
		b = unit(b, int64(m), "month")
	}
	if days != 0 {
		b = unit(b, int64(days), "day")
	}
	if micros == 0 && len(b) > start {
		return b
	}
	if len(b) > start {
		b = append(b, ' ')
	}
	u := uint64(micros)
	if micros < 0 {
		b = append(b, '-')
		u = -u // two's complement: exact for math.MinInt64 too
	}
	h, rest := u/3_600_000_000, u%3_600_000_000
	if h < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, h, 10)
	b = append(b, ':', byte('0'+rest/600_000_000), byte('0'+rest/60_000_000%10), ':')
	rest %= 60_000_000
	b = append(b, byte('0'+rest/10_000_000), byte('0'+rest/1_000_000%10))
	if frac := rest % 1_000_000; frac != 0 {
		digits := []byte{'.', 0, 0, 0, 0, 0, 0}
		for i := 6; i >= 1; i-- {
			digits[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := len(digits)
		for digits[n-1] == '0' {
			n--
		}
		b = append(b, digits[:n]...)
	}
	return b
}
