package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
)

// PostgreSQL's binary numeric is: int16 ndigits, int16 weight, uint16 sign,
// int16 dscale, then ndigits base-10000 digits, most significant first; the
// value is Σ digit[i]·10000^(weight−i). Arrow decimals are an integer
// "unscaled" value u with value = u·10^−scale. The helpers below convert
// between the two on little-endian uint64 limbs, so decimal128, decimal256
// and uint64 share one exact code path without math/big on the hot path.

const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

var pow10u64 = [...]uint64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
	10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000, 1000000000000000,
	10000000000000000, 100000000000000000, 1000000000000000000, 10000000000000000000}

// divSmall divides the little-endian magnitude in place by d and returns the
// remainder and the magnitude with leading zero limbs trimmed.
func divSmall(mag []uint64, d uint64) ([]uint64, uint64) {
	var rem uint64
	for i := len(mag) - 1; i >= 0; i-- {
		mag[i], rem = bits.Div64(rem, mag[i], d)
	}
	for len(mag) > 0 && mag[len(mag)-1] == 0 {
		mag = mag[:len(mag)-1]
	}
	return mag, rem
}

// appendNumeric appends the binary numeric of (−1)^neg · mag · 10^−scale.
// mag is little-endian and is consumed (overwritten).
func appendNumeric(dst []byte, mag []uint64, neg bool, scale int32) []byte {
	for len(mag) > 0 && mag[len(mag)-1] == 0 {
		mag = mag[:len(mag)-1]
	}
	dscale := scale
	if dscale < 0 {
		dscale = 0
	}
	if len(mag) == 0 {
		return binary.BigEndian.AppendUint64(dst, uint64(uint16(dscale))) // ndigits 0, weight 0, sign +
	}
	// Align groups on exponents that are multiples of 4: the least
	// significant digit sits at exponent −scale, r places into its group.
	e0 := -int(scale)
	r := ((e0 % 4) + 4) % 4
	var groups [48]uint16 // least significant first; 77 digits + padding fit easily
	n := 0
	var g uint64
	mag, g = divSmall(mag, pow10u64[4-r])
	groups[n] = uint16(g * pow10u64[r])
	n++
	for len(mag) > 0 {
		mag, g = divSmall(mag, 10000)
		groups[n] = uint16(g)
		n++
	}
	low := 0
	for groups[low] == 0 { // trailing zero groups are implied by weight
		low++
	}
	weight := (e0-r)/4 + n - 1
	ndigits := n - low
	sign := uint16(numericPos)
	if neg {
		sign = numericNeg
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(ndigits))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(weight)))
	dst = binary.BigEndian.AppendUint16(dst, sign)
	dst = binary.BigEndian.AppendUint16(dst, uint16(dscale))
	for i := n - 1; i >= low; i-- {
		dst = binary.BigEndian.AppendUint16(dst, groups[i])
	}
	return dst
}

// appendNumericDecimal128 encodes an Arrow decimal128 value.
func appendNumericDecimal128(dst []byte, v decimal128.Num, scale int32) []byte {
	neg := v.Sign() < 0
	if neg {
		v = v.Negate()
	}
	mag := [2]uint64{v.LowBits(), uint64(v.HighBits())}
	return appendNumeric(dst, mag[:], neg, scale)
}

// appendNumericDecimal256 encodes an Arrow decimal256 value.
func appendNumericDecimal256(dst []byte, v decimal256.Num, scale int32) []byte {
	neg := v.Sign() < 0
	if neg {
		v = v.Negate()
	}
	mag := v.Array()
	return appendNumeric(dst, mag[:], neg, scale)
}

// errNumericSpecial marks NaN and ±Infinity, which Arrow decimals cannot hold.
var errNumericSpecial = errors.New("numeric NaN or Infinity has no decimal representation")

// mulAddSmall sets acc = acc·m + a on little-endian limbs; false on overflow.
func mulAddSmall(acc []uint64, m, a uint64) bool {
	carry := a
	for i := range acc {
		hi, lo := bits.Mul64(acc[i], m)
		var c uint64
		lo, c = bits.Add64(lo, carry, 0)
		acc[i] = lo
		carry = hi + c
	}
	return carry == 0
}

// decodeNumericScaled returns the magnitude (little-endian, 4 limbs) and sign
// of the binary numeric src expressed as an integer in units of 10^−scale.
// Digits below 10^−scale must be zero (the column's typmod guarantees it).
func decodeNumericScaled(src []byte, scale int32) (mag [4]uint64, neg bool, err error) {
	if len(src) < 8 {
		return mag, false, fmt.Errorf("numeric: %d bytes, want at least 8", len(src))
	}
	ndigits := int(binary.BigEndian.Uint16(src))
	weight := int(int16(binary.BigEndian.Uint16(src[2:])))
	sign := binary.BigEndian.Uint16(src[4:])
	switch sign {
	case numericPos, numericNeg:
	case numericNaN, numericPInf, numericNInf:
		return mag, false, errNumericSpecial
	default:
		return mag, false, fmt.Errorf("numeric: bad sign word %#x", sign)
	}
	if len(src) != 8+2*ndigits {
		return mag, false, fmt.Errorf("numeric: %d bytes for %d digits", len(src), ndigits)
	}
	if ndigits == 0 {
		return mag, false, nil
	}
	acc := mag[:]
	s := int(scale)
	unitExp := 0 // exponent of acc's unit once started
	for i := 0; i < ndigits; i++ {
		d := uint64(binary.BigEndian.Uint16(src[8+2*i:]))
		e := 4 * (weight - i)
		if e >= -s {
			if !mulAddSmall(acc, 10000, d) {
				return mag, false, errNumericOverflow
			}
			unitExp = e
			continue
		}
		cut := -s - e // digits of this group below the scale
		if cut >= 4 {
			if d != 0 {
				return mag, false, fmt.Errorf("numeric: more fractional digits than scale %d", scale)
			}
			continue
		}
		if d%pow10u64[cut] != 0 {
			return mag, false, fmt.Errorf("numeric: more fractional digits than scale %d", scale)
		}
		if !mulAddSmall(acc, pow10u64[4-cut], d/pow10u64[cut]) {
			return mag, false, errNumericOverflow
		}
		unitExp = -s
	}
	for k := unitExp + s; k > 0; {
		step := min(k, 19)
		if !mulAddSmall(acc, pow10u64[step], 0) {
			return mag, false, errNumericOverflow
		}
		k -= step
	}
	return mag, sign == numericNeg, nil
}

var errNumericOverflow = errors.New("numeric value does not fit the Arrow decimal")

// decodeNumeric128 decodes a binary numeric into a decimal128 at scale.
func decodeNumeric128(src []byte, scale int32) (decimal128.Num, error) {
	mag, neg, err := decodeNumericScaled(src, scale)
	if err != nil {
		return decimal128.Num{}, err
	}
	if mag[2] != 0 || mag[3] != 0 || mag[1]>>63 != 0 {
		return decimal128.Num{}, errNumericOverflow
	}
	v := decimal128.New(int64(mag[1]), mag[0])
	if neg {
		v = v.Negate()
	}
	return v, nil
}

// decodeNumeric256 decodes a binary numeric into a decimal256 at scale.
func decodeNumeric256(src []byte, scale int32) (decimal256.Num, error) {
	mag, neg, err := decodeNumericScaled(src, scale)
	if err != nil {
		return decimal256.Num{}, err
	}
	if mag[3]>>63 != 0 {
		return decimal256.Num{}, errNumericOverflow
	}
	v := decimal256.New(mag[3], mag[2], mag[1], mag[0])
	if neg {
		v = v.Negate()
	}
	return v, nil
}
