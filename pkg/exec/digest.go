package exec

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/zeebo/xxh3"
)

// Table digest
//
// A table digest identifies the multiset of rows of a table, independent of
// row order, batch boundaries and of the physical Arrow type a database
// chose for a value. It is what parity checks and the step cache compare.
//
// Per cell the value is reduced to a canonical encoding by LOGICAL kind:
//
//	NULL              one fixed code, whatever the column type (NULL ≠ "" ≠ 0)
//	integer           every width and signedness: the value as a 128-bit two's
//	                  complement integer (so int32 7 == int64 7 == uint64 7, and
//	                  uint64 max ≠ int64 -1)
//	decimal           unscaled value and scale, normalised by stripping trailing
//	                  zeros (1.50 == 1.5); a decimal whose normalised scale is 0 is
//	                  encoded as an integer (numeric(20,0) == uint64); values beyond
//	                  128 bits by their decimal text
//	float             float16/32/64 as float64 bits; -0 == 0; every NaN the same
//	bool              false/true
//	string            UTF-8 bytes (string, large_string, string_view alike)
//	binary            bytes (binary, large_binary, binary_view, fixed_size_binary),
//	                  kept distinct from string
//	date              days since the epoch (date32, date64)
//	timestamp         microseconds since the epoch (any unit; ns floored) plus
//	                  whether the type has a time zone (any zone name: an instant)
//	time, duration    microseconds (time32, time64 and duration alike)
//	interval          months, days, nanoseconds
//	dictionary        the dictionary value; extension types: their storage
//	nested            (list, struct, map, union) the JSON of the value (no
//	                  widening rules inside)
//
// Cells are hashed to two independent 64-bit lanes (fixed-width values by a
// 64-bit finaliser, bytes by xxh3-128); a row's lanes combine its cells in
// column order and are finalised into one 128-bit row hash. Row hashes are
// summed mod 2^128, so the sum does not depend on row order and duplicate rows
// count. The digest is "td1:" + hex(sha256(format tag, column names, row
// count, sum)). It is a checksum for honest data, not a cryptographic
// commitment: someone crafting rows could produce collisions.

// digestPrefix versions the encoding above; change it when the encoding changes.
const digestPrefix = "td1:"

const digestFormatTag = "osiris.table_digest/v1"

// Kind tags keep values of different logical kinds apart.
const (
	kindNull uint64 = iota + 1
	kindInt
	kindDecimal
	kindFloat
	kindBool
	kindString
	kindBinary
	kindDate
	kindTimestamp
	kindTimestampTZ
	kindTime
	kindInterval
	kindBigDecimal
	kindNested
)

const (
	laneSeedA = 0x9E3779B97F4A7C15
	laneSeedB = 0xC2B2AE3D27D4EB4F
	rowSeedA  = 0x165667B19E3779F9
	rowSeedB  = 0x27D4EB2F165667C5
	mulA      = 0xFF51AFD7ED558CCD
	mulB      = 0xC4CEB9FE1A85EC53
)

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= mulA
	k ^= k >> 33
	k *= mulB
	k ^= k >> 33
	return k
}

// fixedLanes hashes a canonical fixed-width value (kind, hi, lo) to two lanes.
func fixedLanes(kind, hi, lo uint64) (uint64, uint64) {
	a := fmix64(lo ^ laneSeedA ^ kind*0x100000001B3)
	b := fmix64(lo ^ laneSeedB ^ kind*0x9FB21C651E98DF25)
	if hi != 0 {
		a = fmix64(a ^ hi)
		b = fmix64(b ^ bits.RotateLeft64(hi, 31))
	}
	return a, b
}

// bytesLanes hashes a byte value; kind separates strings from binaries.
func bytesLanes(kind uint64, b []byte) (uint64, uint64) {
	h := xxh3.Hash128Seed(b, kind)
	return h.Lo, h.Hi
}

var nullA, nullB = fixedLanes(kindNull, 0, 0)

// DigestBuilder computes a table digest incrementally, batch by batch. It is
// not safe for concurrent use.
type DigestBuilder struct {
	names []string
	rows  int64
	sumHi uint64
	sumLo uint64
	rowA  []uint64
	rowB  []uint64
	cellA []uint64
	cellB []uint64
}

// NewDigestBuilder starts a digest over tables with schema's columns.
func NewDigestBuilder(schema *arrow.Schema) *DigestBuilder {
	d := &DigestBuilder{}
	if schema != nil {
		for _, f := range schema.Fields() {
			d.names = append(d.names, f.Name)
		}
	}
	return d
}

// Rows returns the number of rows added so far.
func (d *DigestBuilder) Rows() int64 { return d.rows }

// Add adds every row of rec. The record's columns must match the schema the
// builder was made with (by count; names are taken from the schema).
func (d *DigestBuilder) Add(rec arrow.RecordBatch) error {
	if d.names == nil && rec.NumCols() > 0 {
		for _, f := range rec.Schema().Fields() {
			d.names = append(d.names, f.Name)
		}
	}
	if int(rec.NumCols()) != len(d.names) {
		return fmt.Errorf("table digest: batch has %d columns, the table has %d", rec.NumCols(), len(d.names))
	}
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	d.rowA = grow(d.rowA, n)
	d.rowB = grow(d.rowB, n)
	d.cellA = grow(d.cellA, n)
	d.cellB = grow(d.cellB, n)
	ra, rb := d.rowA[:n], d.rowB[:n]
	for i := range ra {
		ra[i] = rowSeedA
		rb[i] = rowSeedB
	}
	ca, cb := d.cellA[:n], d.cellB[:n]
	for j, col := range rec.Columns() {
		if err := d.cellLanes(col, ca, cb); err != nil {
			return fmt.Errorf("table digest: column %q: %w", d.names[j], err)
		}
		for i := range ra {
			ra[i] = (bits.RotateLeft64(ra[i], 29) ^ ca[i]) * mulA
			rb[i] = (bits.RotateLeft64(rb[i], 37) ^ cb[i]) * mulB
		}
	}
	hi, lo := d.sumHi, d.sumLo
	for i := range ra {
		var carry uint64
		lo, carry = bits.Add64(lo, fmix64(rb[i]^rowSeedA), 0)
		hi, _ = bits.Add64(hi, fmix64(ra[i]^rowSeedB), carry)
	}
	d.sumHi, d.sumLo = hi, lo
	d.rows += int64(n)
	return nil
}

// Sum returns the digest of everything added: "td1:<64 hex>".
func (d *DigestBuilder) Sum() string {
	h := sha256.New()
	h.Write([]byte(digestFormatTag))
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(len(d.names)))
	h.Write(buf[:])
	for _, n := range d.names {
		binary.BigEndian.PutUint64(buf[:], uint64(len(n)))
		h.Write(buf[:])
		h.Write([]byte(n))
	}
	binary.BigEndian.PutUint64(buf[:], uint64(d.rows))
	h.Write(buf[:])
	binary.BigEndian.PutUint64(buf[:], d.sumHi)
	h.Write(buf[:])
	binary.BigEndian.PutUint64(buf[:], d.sumLo)
	h.Write(buf[:])
	return digestPrefix + hex.EncodeToString(h.Sum(nil))
}

// TableDigest reads r to the end and returns its table digest and row count.
// It does not release r.
func TableDigest(ctx context.Context, r array.RecordReader) (digest string, rows int64, err error) {
	d := NewDigestBuilder(r.Schema())
	for r.Next() {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		if err := d.Add(r.RecordBatch()); err != nil {
			return "", 0, err
		}
	}
	if err := r.Err(); err != nil {
		return "", 0, err
	}
	return d.Sum(), d.Rows(), nil
}

// unsafeBytes views a string's bytes without copying; the hash only reads them.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func grow(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}

// cellLanes writes the two hash lanes of every element of arr into a and b.
func (d *DigestBuilder) cellLanes(arr arrow.Array, a, b []uint64) error {
	n := arr.Len()
	hasNulls := arr.NullN() > 0
	// Nulls first; the loops below skip null slots.
	if hasNulls {
		for i := 0; i < n; i++ {
			if arr.IsNull(i) {
				a[i], b[i] = nullA, nullB
			}
		}
	}
	valid := func(i int) bool { return !hasNulls || arr.IsValid(i) }

	signed := func(get func(int) int64) {
		for i := 0; i < n; i++ {
			if valid(i) {
				v := get(i)
				a[i], b[i] = fixedLanes(kindInt, uint64(v>>63), uint64(v))
			}
		}
	}
	fixed := func(kind uint64, get func(int) uint64) {
		for i := 0; i < n; i++ {
			if valid(i) {
				a[i], b[i] = fixedLanes(kind, 0, get(i))
			}
		}
	}
	byteVals := func(kind uint64, get func(int) []byte) {
		for i := 0; i < n; i++ {
			if valid(i) {
				a[i], b[i] = bytesLanes(kind, get(i))
			}
		}
	}

	switch c := arr.(type) {
	case *array.Null:
		for i := 0; i < n; i++ {
			a[i], b[i] = nullA, nullB
		}
	case *array.Boolean:
		fixed(kindBool, func(i int) uint64 {
			if c.Value(i) {
				return 1
			}
			return 0
		})
	case *array.Int8:
		signed(func(i int) int64 { return int64(c.Value(i)) })
	case *array.Int16:
		signed(func(i int) int64 { return int64(c.Value(i)) })
	case *array.Int32:
		signed(func(i int) int64 { return int64(c.Value(i)) })
	case *array.Int64:
		vals := c.Int64Values()
		for i := 0; i < n; i++ {
			if valid(i) {
				v := vals[i]
				a[i], b[i] = fixedLanes(kindInt, uint64(v>>63), uint64(v))
			}
		}
	case *array.Uint8:
		fixed(kindInt, func(i int) uint64 { return uint64(c.Value(i)) })
	case *array.Uint16:
		fixed(kindInt, func(i int) uint64 { return uint64(c.Value(i)) })
	case *array.Uint32:
		fixed(kindInt, func(i int) uint64 { return uint64(c.Value(i)) })
	case *array.Uint64:
		fixed(kindInt, func(i int) uint64 { return c.Value(i) })
	case *array.Float16:
		fixed(kindFloat, func(i int) uint64 { return floatBits(float64(c.Value(i).Float32())) })
	case *array.Float32:
		fixed(kindFloat, func(i int) uint64 { return floatBits(float64(c.Value(i))) })
	case *array.Float64:
		vals := c.Float64Values()
		fixed(kindFloat, func(i int) uint64 { return floatBits(vals[i]) })
	case *array.String:
		byteVals(kindString, func(i int) []byte { return unsafeBytes(c.Value(i)) })
	case *array.LargeString:
		byteVals(kindString, func(i int) []byte { return unsafeBytes(c.Value(i)) })
	case *array.StringView:
		byteVals(kindString, func(i int) []byte { return unsafeBytes(c.Value(i)) })
	case *array.Binary:
		byteVals(kindBinary, c.Value)
	case *array.LargeBinary:
		byteVals(kindBinary, c.Value)
	case *array.BinaryView:
		byteVals(kindBinary, c.Value)
	case *array.FixedSizeBinary:
		byteVals(kindBinary, c.Value)
	case *array.Date32:
		signedKind(kindDate, n, valid, a, b, func(i int) int64 { return int64(c.Value(i)) })
	case *array.Date64:
		signedKind(kindDate, n, valid, a, b, func(i int) int64 { return floorDiv(int64(c.Value(i)), 86_400_000) })
	case *array.Timestamp:
		tt := c.DataType().(*arrow.TimestampType)
		kind := kindTimestamp
		if tt.TimeZone != "" {
			kind = kindTimestampTZ
		}
		unit := tt.Unit
		signedKind(kind, n, valid, a, b, func(i int) int64 { return toMicros(int64(c.Value(i)), unit) })
	case *array.Time32:
		unit := c.DataType().(*arrow.Time32Type).Unit
		signedKind(kindTime, n, valid, a, b, func(i int) int64 { return toMicros(int64(c.Value(i)), unit) })
	case *array.Time64:
		unit := c.DataType().(*arrow.Time64Type).Unit
		signedKind(kindTime, n, valid, a, b, func(i int) int64 { return toMicros(int64(c.Value(i)), unit) })
	case *array.Duration:
		unit := c.DataType().(*arrow.DurationType).Unit
		signedKind(kindTime, n, valid, a, b, func(i int) int64 { return toMicros(int64(c.Value(i)), unit) })
	case *array.MonthInterval:
		for i := 0; i < n; i++ {
			if valid(i) {
				a[i], b[i] = intervalLanes(int32(c.Value(i)), 0, 0)
			}
		}
	case *array.DayTimeInterval:
		for i := 0; i < n; i++ {
			if valid(i) {
				v := c.Value(i)
				a[i], b[i] = intervalLanes(0, v.Days, int64(v.Milliseconds)*1_000_000)
			}
		}
	case *array.MonthDayNanoInterval:
		for i := 0; i < n; i++ {
			if valid(i) {
				v := c.Value(i)
				a[i], b[i] = intervalLanes(v.Months, v.Days, v.Nanoseconds)
			}
		}
	case *array.Decimal32:
		scale := c.DataType().(arrow.DecimalType).GetScale()
		for i := 0; i < n; i++ {
			if valid(i) {
				v := int64(c.Value(i))
				a[i], b[i] = decimalLanes(uint64(v>>63), uint64(v), scale)
			}
		}
	case *array.Decimal64:
		scale := c.DataType().(arrow.DecimalType).GetScale()
		for i := 0; i < n; i++ {
			if valid(i) {
				v := int64(c.Value(i))
				a[i], b[i] = decimalLanes(uint64(v>>63), uint64(v), scale)
			}
		}
	case *array.Decimal128:
		scale := c.DataType().(arrow.DecimalType).GetScale()
		for i := 0; i < n; i++ {
			if valid(i) {
				v := c.Value(i)
				a[i], b[i] = decimalLanes(uint64(v.HighBits()), v.LowBits(), scale)
			}
		}
	case *array.Decimal256:
		scale := c.DataType().(arrow.DecimalType).GetScale()
		for i := 0; i < n; i++ {
			if valid(i) {
				a[i], b[i] = bigDecimalLanes(c.Value(i).BigInt(), scale)
			}
		}
	case *array.Dictionary:
		dict := c.Dictionary()
		m := dict.Len()
		da, db := make([]uint64, m), make([]uint64, m)
		if err := d.cellLanes(dict, da, db); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if valid(i) {
				k := c.GetValueIndex(i)
				a[i], b[i] = da[k], db[k]
			}
		}
	case array.ExtensionArray:
		return d.cellLanes(c.Storage(), a, b)
	default:
		// Nested and rare types: the JSON of each value.
		for i := 0; i < n; i++ {
			if valid(i) {
				js, err := json.Marshal(arr.GetOneForMarshal(i))
				if err != nil {
					return fmt.Errorf("encoding %s value: %w", arr.DataType(), err)
				}
				a[i], b[i] = bytesLanes(kindNested, js)
			}
		}
	}
	return nil
}

func signedKind(kind uint64, n int, valid func(int) bool, a, b []uint64, get func(int) int64) {
	for i := 0; i < n; i++ {
		if valid(i) {
			v := get(i)
			a[i], b[i] = fixedLanes(kind, uint64(v>>63), uint64(v))
		}
	}
}

func intervalLanes(months, days int32, nanos int64) (uint64, uint64) {
	return fixedLanes(kindInterval, uint64(uint32(months))<<32|uint64(uint32(days)), uint64(nanos))
}

func floatBits(f float64) uint64 {
	switch {
	case f == 0:
		return 0 // -0 == +0
	case math.IsNaN(f):
		return 0x7FF8000000000001
	}
	return math.Float64bits(f)
}

func floorDiv(v, d int64) int64 {
	q := v / d
	if v%d != 0 && (v < 0) != (d < 0) {
		q--
	}
	return q
}

func toMicros(v int64, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return v * 1_000_000
	case arrow.Millisecond:
		return v * 1_000
	case arrow.Nanosecond:
		return floorDiv(v, 1_000)
	}
	return v
}

// decimalLanes normalises a 128-bit unscaled value (two's complement hi:lo)
// with scale and hashes it.
func decimalLanes(hi, lo uint64, scale int32) (uint64, uint64) {
	// Fast path: the value fits in an int64 (hi is lo's sign extension).
	if hi == uint64(int64(lo)>>63) && scale >= 0 {
		v := int64(lo)
		if v == 0 {
			return fixedLanes(kindInt, 0, 0)
		}
		for scale > 0 && v%10 == 0 {
			v /= 10
			scale--
		}
		if scale == 0 {
			return fixedLanes(kindInt, uint64(v>>63), uint64(v))
		}
		return fixedLanes(kindDecimal|uint64(scale)<<8, uint64(v>>63), uint64(v))
	}
	n := new(big.Int).SetUint64(lo)
	h := new(big.Int).Lsh(new(big.Int).SetInt64(int64(hi)), 64)
	n.Add(n, h)
	return bigDecimalLanes(n, scale)
}

var (
	bigTen    = big.NewInt(10)
	minInt128 = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))
	maxInt128 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
)

// bigDecimalLanes is the general (slow) path: any size, any scale.
func bigDecimalLanes(v *big.Int, scale int32) (uint64, uint64) {
	v = new(big.Int).Set(v)
	if scale < 0 {
		v.Mul(v, new(big.Int).Exp(bigTen, big.NewInt(int64(-scale)), nil))
		scale = 0
	}
	if v.Sign() == 0 {
		scale = 0
	}
	q, r := new(big.Int), new(big.Int)
	for scale > 0 {
		q.QuoRem(v, bigTen, r)
		if r.Sign() != 0 {
			break
		}
		v.Set(q)
		scale--
	}
	if v.Cmp(minInt128) >= 0 && v.Cmp(maxInt128) <= 0 {
		// Two's complement 128-bit hi:lo.
		mod := new(big.Int).Lsh(big.NewInt(1), 128)
		u := new(big.Int).Set(v)
		if u.Sign() < 0 {
			u.Add(u, mod)
		}
		lo := new(big.Int).And(u, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
		hi := new(big.Int).Rsh(u, 64).Uint64()
		if scale == 0 {
			return fixedLanes(kindInt, hi, lo)
		}
		return fixedLanes(kindDecimal|uint64(scale)<<8, hi, lo)
	}
	return bytesLanes(kindBigDecimal, fmt.Appendf(nil, "%se%d", v.String(), -scale))
}
