package exec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// digestOf digests one column named "v" of the given array.
func digestOf(t *testing.T, arr arrow.Array) string {
	t.Helper()
	return digestCols(t, []string{"v"}, arr)
}

func digestCols(t *testing.T, names []string, cols ...arrow.Array) string {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: names[i], Type: c.DataType(), Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(schema, cols, int64(cols[0].Len()))
	defer rec.Release()
	d := NewDigestBuilder(schema)
	if err := d.Add(rec); err != nil {
		t.Fatal(err)
	}
	return d.Sum()
}

func build(t *testing.T, dt arrow.DataType, fill func(b array.Builder)) arrow.Array {
	t.Helper()
	b := array.NewBuilder(memory.DefaultAllocator, dt)
	defer b.Release()
	fill(b)
	return b.NewArray()
}

func TestDigestOrderAndBatchIndependent(t *testing.T) {
	mem := memory.DefaultAllocator
	const n = 3000
	whole := genBatch(mem, 0, n, 0, false, n)
	defer whole.Release()
	want := NewDigestBuilder(genSchema)
	if err := want.Add(whole); err != nil {
		t.Fatal(err)
	}
	// Reversed rows in batches of 7; forward rows in batches of 1000, 1, 1999.
	reversed := NewDigestBuilder(genSchema)
	for from := int64(0); from < n; from += 7 {
		rec := genBatch(mem, from, min(from+7, n), 0, true, n)
		if err := reversed.Add(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	uneven := NewDigestBuilder(genSchema)
	for _, r := range [][2]int64{{0, 1000}, {1000, 1001}, {1001, n}} {
		rec := whole.NewSlice(r[0], r[1])
		if err := uneven.Add(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if want.Sum() != reversed.Sum() || want.Sum() != uneven.Sum() {
		t.Errorf("digest depends on order or batches: %s %s %s", want.Sum(), reversed.Sum(), uneven.Sum())
	}
	if want.Rows() != n || reversed.Rows() != n {
		t.Errorf("rows %d %d", want.Rows(), reversed.Rows())
	}
	// One value changed → a different digest.
	other := genBatch(mem, 1, n+1, 0, false, n)
	defer other.Release()
	changed := NewDigestBuilder(genSchema)
	changed.Add(other)
	if changed.Sum() == want.Sum() {
		t.Error("different rows, same digest")
	}
	// TableDigest over a reader agrees.
	rdr, _ := array.NewRecordReader(genSchema, []arrow.RecordBatch{whole})
	defer rdr.Release()
	d, rows, err := TableDigest(context.Background(), rdr)
	if err != nil || d != want.Sum() || rows != n {
		t.Errorf("TableDigest = %s, %d, %v", d, rows, err)
	}
}

func TestDigestShuffledRows(t *testing.T) {
	vals := make([]int64, 500)
	for i := range vals {
		vals[i] = int64(i * i)
	}
	mk := func(v []int64) arrow.Array {
		return build(t, arrow.PrimitiveTypes.Int64, func(b array.Builder) { b.(*array.Int64Builder).AppendValues(v, nil) })
	}
	a := mk(vals)
	defer a.Release()
	shuffled := append([]int64(nil), vals...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b := mk(shuffled)
	defer b.Release()
	if digestOf(t, a) != digestOf(t, b) {
		t.Error("shuffled rows change the digest")
	}
	// Duplicates count: {x, x} ≠ {x}.
	one, two := mk([]int64{5}), mk([]int64{5, 5})
	defer one.Release()
	defer two.Release()
	if digestOf(t, one) == digestOf(t, two) {
		t.Error("duplicate row not counted")
	}
	// Swapping values between columns changes the row, so the digest.
	x1, y1 := mk([]int64{1, 2}), mk([]int64{2, 1})
	defer x1.Release()
	defer y1.Release()
	if digestCols(t, []string{"x", "y"}, x1, y1) == digestCols(t, []string{"x", "y"}, x1, x1) {
		t.Error("rows (1,2),(2,1) digest like (1,1),(2,2)")
	}
	if digestCols(t, []string{"x"}, x1) == digestCols(t, []string{"y"}, x1) {
		t.Error("column names are not part of the digest")
	}
}

func TestDigestLogicalKinds(t *testing.T) {
	tsTZ := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	dec := func(p, s int32, unscaled ...int64) arrow.Array {
		return build(t, &arrow.Decimal128Type{Precision: p, Scale: s}, func(b array.Builder) {
			for _, v := range unscaled {
				b.(*array.Decimal128Builder).Append(decimal128.FromI64(v))
			}
		})
	}
	cases := []struct {
		name  string
		a, b  func() arrow.Array
		equal bool
	}{
		{"int32 == int64",
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Int32, func(b array.Builder) {
					for _, v := range []int64{0, 1, -1, 127, 1 << 20} {
						b.(*array.Int32Builder).Append(int32(v))
					}
				})
			},
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Int64, func(b array.Builder) {
					b.(*array.Int64Builder).AppendValues([]int64{0, 1, -1, 127, 1 << 20}, nil)
				})
			}, true},
		{"uint64 == int64 for non-negative values",
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Uint64, func(b array.Builder) { b.(*array.Uint64Builder).AppendValues([]uint64{0, 1, 127, 1 << 40}, nil) })
			},
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Int64, func(b array.Builder) { b.(*array.Int64Builder).AppendValues([]int64{0, 1, 127, 1 << 40}, nil) })
			}, true},
		{"int8/int16/uint32 == int64",
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Uint32, func(b array.Builder) { b.(*array.Uint32Builder).AppendValues([]uint32{0, 1, 127}, nil) })
			},
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Int8, func(b array.Builder) { b.(*array.Int8Builder).AppendValues([]int8{0, 1, 127}, nil) })
			}, true},
		{"uint64 max != int64 -1",
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Uint64, func(b array.Builder) { b.(*array.Uint64Builder).Append(^uint64(0)) })
			},
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Int64, func(b array.Builder) { b.(*array.Int64Builder).Append(-1) })
			}, false},
		{"uint64 max == decimal(20,0)",
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Uint64, func(b array.Builder) { b.(*array.Uint64Builder).Append(^uint64(0)) })
			},
			func() arrow.Array {
				return build(t, &arrow.Decimal128Type{Precision: 20, Scale: 0}, func(b array.Builder) {
					b.(*array.Decimal128Builder).Append(decimal128.New(0, ^uint64(0)))
				})
			}, true},
		{"decimal 1.50 == 1.5", func() arrow.Array { return dec(10, 2, 150, -2500, 0) }, func() arrow.Array { return dec(12, 1, 15, -250, 0) }, true},
		{"decimal 2.00 == int 2", func() arrow.Array { return dec(10, 2, 200) }, func() arrow.Array {
			return build(t, arrow.PrimitiveTypes.Int16, func(b array.Builder) { b.(*array.Int16Builder).Append(2) })
		}, true},
		{"decimal 1.5 != 15", func() arrow.Array { return dec(10, 1, 15) }, func() arrow.Array { return dec(10, 0, 15) }, false},
		{"decimal256 == decimal128", func() arrow.Array { return dec(38, 10, 12345678900) }, func() arrow.Array {
			return build(t, &arrow.Decimal256Type{Precision: 65, Scale: 30}, func(b array.Builder) {
				n, _ := decimal256.FromString("1.2345678900", 65, 30)
				b.(*array.Decimal256Builder).Append(n)
			})
		}, true},
		{"float32 == float64 of the same value",
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Float32, func(b array.Builder) { b.(*array.Float32Builder).AppendValues([]float32{0.5, -2, 1e10}, nil) })
			},
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Float64, func(b array.Builder) { b.(*array.Float64Builder).AppendValues([]float64{0.5, -2, 1e10}, nil) })
			}, true},
		{"float 1 != int 1",
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Float64, func(b array.Builder) { b.(*array.Float64Builder).Append(1) })
			},
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Int64, func(b array.Builder) { b.(*array.Int64Builder).Append(1) })
			}, false},
		{"string == large_string",
			func() arrow.Array {
				return build(t, arrow.BinaryTypes.String, func(b array.Builder) { b.(*array.StringBuilder).AppendValues([]string{"a", "", "héllo🙂"}, nil) })
			},
			func() arrow.Array {
				return build(t, arrow.BinaryTypes.LargeString, func(b array.Builder) {
					b.(*array.LargeStringBuilder).AppendValues([]string{"a", "", "héllo🙂"}, nil)
				})
			}, true},
		{"string != binary",
			func() arrow.Array {
				return build(t, arrow.BinaryTypes.String, func(b array.Builder) { b.(*array.StringBuilder).Append("abc") })
			},
			func() arrow.Array {
				return build(t, arrow.BinaryTypes.Binary, func(b array.Builder) { b.(*array.BinaryBuilder).Append([]byte("abc")) })
			}, false},
		{"NULL != empty string",
			func() arrow.Array {
				return build(t, arrow.BinaryTypes.String, func(b array.Builder) { b.AppendNull() })
			},
			func() arrow.Array {
				return build(t, arrow.BinaryTypes.String, func(b array.Builder) { b.(*array.StringBuilder).Append("") })
			}, false},
		{"NULL int == NULL string",
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Int64, func(b array.Builder) { b.AppendNull() })
			},
			func() arrow.Array {
				return build(t, arrow.BinaryTypes.String, func(b array.Builder) { b.AppendNull() })
			}, true},
		{"timestamp s == timestamp us",
			func() arrow.Array {
				return build(t, &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, func(b array.Builder) { b.(*array.TimestampBuilder).Append(1_700_000_000) })
			},
			func() arrow.Array {
				return build(t, tsTZ, func(b array.Builder) { b.(*array.TimestampBuilder).Append(1_700_000_000_000_000) })
			}, true},
		{"timestamp UTC == timestamp Europe/Paris (same instant)",
			func() arrow.Array {
				return build(t, &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "Europe/Paris"}, func(b array.Builder) {
					b.(*array.TimestampBuilder).Append(1_700_000_000_000_000_000)
				})
			},
			func() arrow.Array {
				return build(t, tsTZ, func(b array.Builder) { b.(*array.TimestampBuilder).Append(1_700_000_000_000_000) })
			}, true},
		{"timestamp with zone != without",
			func() arrow.Array {
				return build(t, &arrow.TimestampType{Unit: arrow.Microsecond}, func(b array.Builder) { b.(*array.TimestampBuilder).Append(1) })
			},
			func() arrow.Array {
				return build(t, tsTZ, func(b array.Builder) { b.(*array.TimestampBuilder).Append(1) })
			}, false},
		{"date32 == date64",
			func() arrow.Array {
				return build(t, arrow.FixedWidthTypes.Date32, func(b array.Builder) { b.(*array.Date32Builder).AppendValues([]arrow.Date32{-1, 0, 19000}, nil) })
			},
			func() arrow.Array {
				return build(t, arrow.FixedWidthTypes.Date64, func(b array.Builder) {
					b.(*array.Date64Builder).AppendValues([]arrow.Date64{-86_400_000, 0, 19000 * 86_400_000}, nil)
				})
			}, true},
		{"time64 == duration",
			func() arrow.Array {
				return build(t, arrow.FixedWidthTypes.Time64us, func(b array.Builder) { b.(*array.Time64Builder).Append(3_600_000_000) })
			},
			func() arrow.Array {
				return build(t, arrow.FixedWidthTypes.Duration_s, func(b array.Builder) { b.(*array.DurationBuilder).Append(3600) })
			}, true},
		{"bool false != int 0",
			func() arrow.Array {
				return build(t, arrow.FixedWidthTypes.Boolean, func(b array.Builder) { b.(*array.BooleanBuilder).Append(false) })
			},
			func() arrow.Array {
				return build(t, arrow.PrimitiveTypes.Int64, func(b array.Builder) { b.(*array.Int64Builder).Append(0) })
			}, false},
		{"dictionary == plain string",
			func() arrow.Array {
				return build(t, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}, func(b array.Builder) {
					db := b.(*array.BinaryDictionaryBuilder)
					db.AppendString("x")
					db.AppendString("y")
					db.AppendNull()
					db.AppendString("x")
				})
			},
			func() arrow.Array {
				return build(t, arrow.BinaryTypes.String, func(b array.Builder) {
					b.(*array.StringBuilder).AppendValues([]string{"x", "y", "", "x"}, []bool{true, true, false, true})
				})
			}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.a(), tc.b()
			defer a.Release()
			defer b.Release()
			if got := digestOf(t, a) == digestOf(t, b); got != tc.equal {
				t.Errorf("equal = %v, want %v (%s vs %s)", got, tc.equal, a.DataType(), b.DataType())
			}
		})
	}
}

func TestDigestNestedFallback(t *testing.T) {
	l := build(t, arrow.ListOf(arrow.PrimitiveTypes.Int64), func(b array.Builder) {
		lb := b.(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
		lb.AppendNull()
	})
	defer l.Release()
	if d := digestOf(t, l); len(d) != len(digestPrefix)+64 {
		t.Errorf("digest %q", d)
	}
}

func BenchmarkDigest(b *testing.B) {
	rec := genBatch(memory.DefaultAllocator, 0, 65536, 0, false, 65536)
	defer rec.Release()
	d := NewDigestBuilder(genSchema)
	b.SetBytes(recordBytes(rec))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.Add(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rec.NumRows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
