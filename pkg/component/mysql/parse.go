package mysql

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
)

// Fast, exact parsers for the text the server (or go-sql-driver's binary
// row formatter) gives for DATE, DATETIME/TIMESTAMP, TIME and DECIMAL.
// They never go through time.Time (no zone can sneak in) nor float64.

const microsPerDay = 86_400_000_000

var errSyntax = errors.New("unexpected text")

// digits parses b as an unsigned decimal number of at most 18 digits.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseInt parses a signed integer (text protocol values).
func parseInt(b []byte) (int64, error) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, errSyntax
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errSyntax
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, errSyntax
		}
		return -int64(n), nil
	}
	if n > 1<<63-1 {
		return 0, errSyntax
	}
	return int64(n), nil
}

// parseUint parses an unsigned integer up to 18446744073709551615.
func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 20 {
		return 0, errSyntax
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errSyntax
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, errSyntax
		}
		n = n*10 + d
	}
	return n, nil
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm; exact for every year).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func daysInMonth(y, m int64) int64 {
	switch m {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// parseDate parses "YYYY-MM-DD". valid is false for zero dates and dates
// that do not exist (month or day 0, Feb 30 under ALLOW_INVALID_DATES):
// the caller turns them into NULL.
func parseDate(b []byte) (days int64, valid bool, err error) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, false, errSyntax
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, false, errSyntax
	}
	if m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) {
		return 0, false, nil
	}
	return daysFromCivil(y, m, d), true, nil
}

// parseClock parses "HH:MM:SS[.ffffff]" (hours may have more digits for
// TIME) into microseconds.
func parseClock(b []byte, maxHourDigits int) (int64, error) {
	colon := -1
	for i, c := range b {
		if c == ':' {
			colon = i
			break
		}
	}
	if colon < 1 || colon > maxHourDigits || len(b) < colon+6 || b[colon+3] != ':' {
		return 0, errSyntax
	}
	h, ok1 := digits(b[:colon])
	mi, ok2 := digits(b[colon+1 : colon+3])
	s, ok3 := digits(b[colon+4 : colon+6])
	if !ok1 || !ok2 || !ok3 || mi > 59 || s > 59 {
		return 0, errSyntax
	}
	us := ((h*60+mi)*60 + s) * 1_000_000
	rest := b[colon+6:]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) > 7 {
			return 0, errSyntax
		}
		frac := rest[1:]
		f, ok := int64(0), true
		if len(frac) > 0 {
			f, ok = digits(frac)
		}
		if !ok {
			return 0, errSyntax
		}
		for i := len(frac); i < 6; i++ {
			f *= 10
		}
		us += f
	}
	return us, nil
}

// parseDateTime parses "YYYY-MM-DD HH:MM:SS[.ffffff]" into microseconds
// since the epoch of the wall clock read as UTC. valid as in parseDate.
func parseDateTime(b []byte) (us int64, valid bool, err error) {
	days, valid, err := parseDate(b)
	if err != nil {
		return 0, false, err
	}
	if len(b) == 10 {
		return days * microsPerDay, valid, nil
	}
	if b[10] != ' ' && b[10] != 'T' {
		return 0, false, errSyntax
	}
	clock, err := parseClock(b[11:], 2)
	if err != nil {
		return 0, false, err
	}
	if !valid {
		return 0, false, nil
	}
	return days*microsPerDay + clock, true, nil
}

// parseTimeOfDay parses a MySQL TIME "[-]H+:MM:SS[.ffffff]" into signed
// microseconds (range ±838:59:59.999999).
func parseTimeOfDay(b []byte) (int64, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	us, err := parseClock(b, 4)
	if err != nil {
		return 0, err
	}
	if neg {
		us = -us
	}
	return us, nil
}

// decimalText scans "[-+]ddd[.ddd]" and returns the unscaled integer digits
// at exactly `scale` fractional digits (appended to buf, leading zeros
// dropped) and the sign. Extra non-zero fractional digits are an error:
// nothing is ever rounded silently.
func decimalText(b []byte, scale int32, buf []byte) ([]byte, bool, error) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return nil, false, errSyntax
	}
	out := buf[:0]
	frac := int32(-1)
	for _, c := range b {
		switch {
		case c == '.' && frac < 0:
			frac = 0
		case c >= '0' && c <= '9':
			if frac >= 0 {
				if frac >= scale {
					if c != '0' {
						return nil, false, fmt.Errorf("%q has more than %d fractional digits", b, scale)
					}
					continue
				}
				frac++
			}
			if len(out) == 0 && c == '0' {
				continue // leading zero
			}
			out = append(out, c)
		default:
			return nil, false, errSyntax
		}
	}
	if frac < 0 {
		frac = 0
	}
	for ; frac < scale; frac++ {
		if len(out) > 0 {
			out = append(out, '0')
		}
	}
	return out, neg, nil
}

// decimalParser turns DECIMAL text into Arrow decimals of a fixed
// precision and scale. It keeps its scratch space between values.
type decimalParser struct {
	precision, scale int32
	buf              []byte
	big              big.Int
}

func (p *decimalParser) unscaled(b []byte) (int64, bool, *big.Int, error) {
	ds, neg, err := decimalText(b, p.scale, p.buf)
	if err != nil {
		return 0, false, nil, err
	}
	p.buf = ds[:0]
	if int32(len(ds)) > p.precision {
		return 0, false, nil, fmt.Errorf("%q does not fit DECIMAL(%d,%d)", b, p.precision, p.scale)
	}
	if len(ds) <= 18 {
		n, _ := digits(ds)
		if len(ds) == 0 {
			n = 0
		}
		if neg {
			n = -n
		}
		return n, true, nil, nil
	}
	if _, ok := p.big.SetString(string(ds), 10); !ok {
		return 0, false, nil, errSyntax
	}
	if neg {
		p.big.Neg(&p.big)
	}
	return 0, false, &p.big, nil
}

func (p *decimalParser) parse128(b []byte) (decimal128.Num, error) {
	n, small, bi, err := p.unscaled(b)
	if err != nil {
		return decimal128.Num{}, err
	}
	if small {
		return decimal128.FromI64(n), nil
	}
	return decimal128.FromBigInt(bi), nil
}

func (p *decimalParser) parse256(b []byte) (decimal256.Num, error) {
	n, small, bi, err := p.unscaled(b)
	if err != nil {
		return decimal256.Num{}, err
	}
	if small {
		return decimal256.FromI64(n), nil
	}
	return decimal256.FromBigInt(bi), nil
}
