package postgres

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
)

// numericWords renders a binary numeric as its header and digit words.
func numericWords(b []byte) []int {
	var out []int
	for i := 0; i+1 < len(b); i += 2 {
		out = append(out, int(int16(binary.BigEndian.Uint16(b[i:]))))
	}
	return out
}

func TestAppendNumericKnownEncodings(t *testing.T) {
	// Expected words: ndigits, weight, sign, dscale, digits… as PostgreSQL's
	// numeric_send produces them.
	tests := []struct {
		unscaled string
		scale    int32
		want     []int
	}{
		{"0", 2, []int{0, 0, 0, 2}},
		{"150", 2, []int{2, 0, 0, 2, 1, 5000}},
		{"-150", 2, []int{2, 0, 0x4000, 2, 1, 5000}},
		{"12345", 0, []int{2, 1, 0, 0, 1, 2345}},
		{"100000000", 0, []int{1, 2, 0, 0, 1}},
		{"1", 10, []int{1, -3, 0, 10, 100}},
		{"5", -2, []int{1, 0, 0, 0, 500}},
		{"123456789012", 2, []int{4, 2, 0, 2, 12, 3456, 7890, 1200}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s_s%d", tt.unscaled, tt.scale), func(t *testing.T) {
			bi, _ := new(big.Int).SetString(tt.unscaled, 10)
			got := numericWords(appendNumericDecimal128(nil, decimal128.FromBigInt(bi), tt.scale))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNumericRoundTrip(t *testing.T) {
	max38, _ := new(big.Int).SetString("99999999999999999999999999999999999999", 10)
	max76, _ := new(big.Int).SetString("9999999999999999999999999999999999999999999999999999999999999999999999999999", 10)
	values := []*big.Int{
		big.NewInt(0), big.NewInt(1), big.NewInt(-1), big.NewInt(9999), big.NewInt(10000), big.NewInt(-123456789),
		max38, new(big.Int).Neg(max38), max76, new(big.Int).Neg(max76),
		new(big.Int).Lsh(big.NewInt(1), 126),
	}
	for _, v := range values {
		for _, scale := range []int32{0, 1, 2, 3, 4, 5, 10, 30, 38} {
			if v.BitLen() < 127 {
				enc := appendNumericDecimal128(nil, decimal128.FromBigInt(v), scale)
				got, err := decodeNumeric128(enc, scale)
				if err != nil || got.BigInt().Cmp(v) != 0 {
					t.Errorf("decimal128 %s scale %d: got %v, %v", v, scale, got.BigInt(), err)
				}
			}
			enc := appendNumericDecimal256(nil, decimal256.FromBigInt(v), scale)
			got, err := decodeNumeric256(enc, scale)
			if err != nil || got.BigInt().Cmp(v) != 0 {
				t.Errorf("decimal256 %s scale %d: got %v, %v", v, scale, got.BigInt(), err)
			}
		}
	}
}

func TestDecodeNumericRescales(t *testing.T) {
	// 1.5 encoded with dscale 1 read into scale 4 → 15000; into scale 0 it
	// has a digit below the scale → error, never a silent rounding.
	enc := appendNumericDecimal128(nil, decimal128.FromI64(15), 1)
	got, err := decodeNumeric128(enc, 4)
	if err != nil || got.BigInt().Int64() != 15000 {
		t.Fatalf("scale 4: %v %v", got.BigInt(), err)
	}
	if _, err := decodeNumeric128(enc, 0); err == nil {
		t.Fatal("scale 0: want error for lost digits")
	}
	big39, _ := new(big.Int).SetString("999999999999999999999999999999999999999", 10)
	if _, err := decodeNumeric128(appendNumericDecimal256(nil, decimal256.FromBigInt(big39), 0), 0); err == nil {
		t.Fatal("want overflow error for 39 digits into decimal128")
	}
	nan := []byte{0, 0, 0, 0, 0xC0, 0, 0, 0}
	if _, err := decodeNumeric128(nan, 0); err != errNumericSpecial {
		t.Fatalf("NaN: %v", err)
	}
}
