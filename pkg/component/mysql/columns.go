package mysql

import (
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// columnMeta is what the result-set metadata says about one column.
type columnMeta struct {
	Name      string
	DBType    string // go-sql-driver's DatabaseTypeName, e.g. "UNSIGNED BIGINT"
	Precision int64
	Scale     int64
	Nullable  bool
}

// arrowType maps a MySQL column to its Arrow type (see the package doc).
func arrowType(c columnMeta) (arrow.DataType, error) {
	switch c.DBType {
	case "TINYINT":
		return arrow.PrimitiveTypes.Int8, nil
	case "UNSIGNED TINYINT":
		return arrow.PrimitiveTypes.Uint8, nil
	case "SMALLINT":
		return arrow.PrimitiveTypes.Int16, nil
	case "UNSIGNED SMALLINT":
		return arrow.PrimitiveTypes.Uint16, nil
	case "MEDIUMINT", "INT":
		return arrow.PrimitiveTypes.Int32, nil
	case "UNSIGNED MEDIUMINT", "UNSIGNED INT":
		return arrow.PrimitiveTypes.Uint32, nil
	case "BIGINT":
		return arrow.PrimitiveTypes.Int64, nil
	case "UNSIGNED BIGINT", "BIT":
		return arrow.PrimitiveTypes.Uint64, nil
	case "YEAR":
		return arrow.PrimitiveTypes.Int16, nil
	case "FLOAT":
		return arrow.PrimitiveTypes.Float32, nil
	case "DOUBLE":
		return arrow.PrimitiveTypes.Float64, nil
	case "DECIMAL":
		p, s := int32(c.Precision), int32(c.Scale)
		if p < s {
			p = s
		}
		if p < 1 {
			p = 1
		}
		if p <= 38 {
			return &arrow.Decimal128Type{Precision: p, Scale: s}, nil
		}
		if p <= 76 {
			return &arrow.Decimal256Type{Precision: p, Scale: s}, nil
		}
		return nil, fmt.Errorf("column %q: DECIMAL(%d,%d) is wider than Arrow's decimal256", c.Name, p, s)
	case "CHAR", "VARCHAR", "TEXT", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT", "ENUM", "SET", "JSON":
		return arrow.BinaryTypes.String, nil
	case "BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "GEOMETRY", "VECTOR":
		return arrow.BinaryTypes.Binary, nil
	case "DATE":
		return arrow.FixedWidthTypes.Date32, nil
	case "DATETIME":
		return &arrow.TimestampType{Unit: arrow.Microsecond}, nil
	case "TIMESTAMP":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, nil
	case "TIME":
		// Text, not duration: parquet (pqarrow) cannot store Arrow durations,
		// and every step output is teed to parquet.
		return arrow.BinaryTypes.String, nil
	case "NULL":
		return arrow.Null, nil
	}
	return nil, fmt.Errorf("column %q: MySQL type %q has no Arrow mapping", c.Name, c.DBType)
}

// columnAppender appends one driver value (binary or text protocol) to an
// Arrow builder. Values of the []byte kind point into the driver's packet
// buffer and are only valid until the next row: they are copied by Append.
type columnAppender struct {
	meta    columnMeta
	builder array.Builder
	appendV func(v driver.Value) error
	// zeroDates counts zero/invalid dates turned into NULL.
	zeroDates int64
	// dataBytes is the previous batch's payload size, used to reserve the
	// next batch's value buffer of string/binary builders.
	dataBytes int
}

func (c *columnAppender) reserve(rows int) {
	c.builder.Reserve(rows)
	if bb, ok := c.builder.(interface{ ReserveData(int) }); ok && c.dataBytes > 0 {
		bb.ReserveData(c.dataBytes + c.dataBytes/8)
	}
}

func (c *columnAppender) newArray() arrow.Array {
	if bb, ok := c.builder.(interface{ DataLen() int }); ok {
		c.dataBytes = bb.DataLen()
	}
	return c.builder.NewArray()
}

func typeError(name string, v driver.Value) error {
	return fmt.Errorf("column %q: unexpected driver value of type %T", name, v)
}

func valueError(name, what string, b []byte, err error) error {
	if len(b) > 64 {
		b = b[:64]
	}
	return fmt.Errorf("column %q: cannot read %s from %q: %v", name, what, b, err)
}

// invalidUTF8Error names the column of a text value that is not UTF-8 and
// shows the bytes around the first invalid one.
func invalidUTF8Error(name string, b []byte) error {
	i := 0
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		i += size
	}
	lo, hi := max(0, i-16), min(len(b), i+16)
	return fmt.Errorf("column %q: text value is not valid UTF-8 (byte %d of %q); the connection reads utf8mb4, so the column holds bytes of another encoding: convert it in the query (CONVERT(CAST(col AS BINARY) USING latin1), say) or read it as bytes (CAST(col AS BINARY))", name, i+1, b[lo:hi])
}

type nullAppender[T any] interface {
	Append(T)
	AppendNull()
}

func signedAppender[T int8 | int16 | int32 | int64](name string, b nullAppender[T], bits int) func(driver.Value) error {
	lo, hi := int64(-1)<<(bits-1), int64(1)<<(bits-1)-1
	return func(v driver.Value) error {
		switch x := v.(type) {
		case nil:
			b.AppendNull()
		case int64:
			if x < lo || x > hi {
				return fmt.Errorf("column %q: %d out of range for int%d", name, x, bits)
			}
			b.Append(T(x))
		case uint64:
			if x > uint64(hi) {
				return fmt.Errorf("column %q: %d out of range for int%d", name, x, bits)
			}
			b.Append(T(x))
		case []byte:
			n, err := parseInt(x)
			if err != nil || n < lo || n > hi {
				return valueError(name, fmt.Sprintf("int%d", bits), x, err)
			}
			b.Append(T(n))
		default:
			return typeError(name, v)
		}
		return nil
	}
}

func unsignedAppender[T uint8 | uint16 | uint32 | uint64](name string, b nullAppender[T], bits int) func(driver.Value) error {
	hi := uint64(math.MaxUint64)
	if bits < 64 {
		hi = 1<<bits - 1
	}
	return func(v driver.Value) error {
		switch x := v.(type) {
		case nil:
			b.AppendNull()
		case int64:
			if x < 0 || uint64(x) > hi {
				return fmt.Errorf("column %q: %d out of range for uint%d", name, x, bits)
			}
			b.Append(T(x))
		case uint64: // text protocol
			if x > hi {
				return fmt.Errorf("column %q: %d out of range for uint%d", name, x, bits)
			}
			b.Append(T(x))
		case []byte:
			// BIGINT UNSIGNED above MaxInt64 arrives as text in both protocols.
			n, err := parseUint(x)
			if err != nil || n > hi {
				return valueError(name, fmt.Sprintf("uint%d", bits), x, err)
			}
			b.Append(T(n))
		default:
			return typeError(name, v)
		}
		return nil
	}
}

// newColumnAppender builds the builder and the append function of a column.
func newColumnAppender(mem memory.Allocator, meta columnMeta, dt arrow.DataType) (*columnAppender, error) {
	c := &columnAppender{meta: meta, builder: array.NewBuilder(mem, dt)}
	name := meta.Name
	switch b := c.builder.(type) {
	case *array.Int8Builder:
		c.appendV = signedAppender[int8](name, b, 8)
	case *array.Int16Builder:
		c.appendV = signedAppender[int16](name, b, 16)
	case *array.Int32Builder:
		c.appendV = signedAppender[int32](name, b, 32)
	case *array.Int64Builder:
		c.appendV = signedAppender[int64](name, b, 64)
	case *array.Uint8Builder:
		c.appendV = unsignedAppender[uint8](name, b, 8)
	case *array.Uint16Builder:
		c.appendV = unsignedAppender[uint16](name, b, 16)
	case *array.Uint32Builder:
		c.appendV = unsignedAppender[uint32](name, b, 32)
	case *array.Uint64Builder:
		if meta.DBType == "BIT" {
			c.appendV = bitAppender(name, b)
		} else {
			c.appendV = unsignedAppender[uint64](name, b, 64)
		}
	case *array.Float32Builder:
		c.appendV = func(v driver.Value) error {
			switch x := v.(type) {
			case nil:
				b.AppendNull()
			case float32:
				b.Append(x)
			case float64:
				b.Append(float32(x))
			case []byte:
				f, err := strconv.ParseFloat(string(x), 32)
				if err != nil {
					return valueError(name, "float", x, err)
				}
				b.Append(float32(f))
			default:
				return typeError(name, v)
			}
			return nil
		}
	case *array.Float64Builder:
		c.appendV = func(v driver.Value) error {
			switch x := v.(type) {
			case nil:
				b.AppendNull()
			case float64:
				b.Append(x)
			case float32:
				b.Append(float64(x))
			case []byte:
				f, err := strconv.ParseFloat(string(x), 64)
				if err != nil {
					return valueError(name, "double", x, err)
				}
				b.Append(f)
			default:
				return typeError(name, v)
			}
			return nil
		}
	case *array.Decimal128Builder:
		dt := dt.(*arrow.Decimal128Type)
		p := &decimalParser{precision: dt.Precision, scale: dt.Scale}
		c.appendV = func(v driver.Value) error {
			switch x := v.(type) {
			case nil:
				b.AppendNull()
			case []byte:
				n, err := p.parse128(x)
				if err != nil {
					return valueError(name, "decimal", x, err)
				}
				b.Append(n)
			default:
				return typeError(name, v)
			}
			return nil
		}
	case *array.Decimal256Builder:
		dt := dt.(*arrow.Decimal256Type)
		p := &decimalParser{precision: dt.Precision, scale: dt.Scale}
		c.appendV = func(v driver.Value) error {
			switch x := v.(type) {
			case nil:
				b.AppendNull()
			case []byte:
				n, err := p.parse256(x)
				if err != nil {
					return valueError(name, "decimal", x, err)
				}
				b.Append(n)
			default:
				return typeError(name, v)
			}
			return nil
		}
	case *array.StringBuilder:
		c.appendV = func(v driver.Value) error {
			switch x := v.(type) {
			case nil:
				b.AppendNull()
			case []byte:
				if !utf8.Valid(x) {
					return invalidUTF8Error(name, x)
				}
				b.BinaryBuilder.Append(x)
			case string:
				if !utf8.ValidString(x) {
					return invalidUTF8Error(name, []byte(x))
				}
				b.Append(x)
			default:
				return typeError(name, v)
			}
			return nil
		}
	case *array.BinaryBuilder:
		geometry := meta.DBType == "GEOMETRY"
		c.appendV = func(v driver.Value) error {
			switch x := v.(type) {
			case nil:
				b.AppendNull()
			case []byte:
				if geometry {
					// MySQL stores a 4-byte little-endian SRID before the WKB.
					if len(x) < 4 {
						return fmt.Errorf("column %q: geometry value shorter than its SRID prefix", name)
					}
					x = x[4:]
				}
				b.Append(x)
			default:
				return typeError(name, v)
			}
			return nil
		}
	case *array.Date32Builder:
		c.appendV = func(v driver.Value) error {
			switch x := v.(type) {
			case nil:
				b.AppendNull()
			case []byte:
				days, valid, err := parseDate(x)
				if err != nil || len(x) != 10 {
					return valueError(name, "DATE", x, err)
				}
				if !valid {
					c.zeroDates++
					b.AppendNull()
					return nil
				}
				b.Append(arrow.Date32(days))
			default:
				return typeError(name, v)
			}
			return nil
		}
	case *array.TimestampBuilder:
		c.appendV = func(v driver.Value) error {
			switch x := v.(type) {
			case nil:
				b.AppendNull()
			case []byte:
				us, valid, err := parseDateTime(x)
				if err != nil {
					return valueError(name, meta.DBType, x, err)
				}
				if !valid {
					c.zeroDates++
					b.AppendNull()
					return nil
				}
				b.Append(arrow.Timestamp(us))
			default:
				return typeError(name, v)
			}
			return nil
		}
	case *array.DurationBuilder:
		c.appendV = func(v driver.Value) error {
			switch x := v.(type) {
			case nil:
				b.AppendNull()
			case []byte:
				us, err := parseTimeOfDay(x)
				if err != nil {
					return valueError(name, "TIME", x, err)
				}
				b.Append(arrow.Duration(us))
			default:
				return typeError(name, v)
			}
			return nil
		}
	case *array.NullBuilder:
		c.appendV = func(driver.Value) error { b.AppendNull(); return nil }
	default:
		c.builder.Release()
		return nil, fmt.Errorf("column %q: no appender for Arrow type %s", name, dt)
	}
	return c, nil
}

// bitAppender reads BIT(n): big-endian bytes, at most 8.
func bitAppender(name string, b *array.Uint64Builder) func(driver.Value) error {
	return func(v driver.Value) error {
		switch x := v.(type) {
		case nil:
			b.AppendNull()
		case []byte:
			if len(x) > 8 {
				return fmt.Errorf("column %q: BIT value of %d bytes", name, len(x))
			}
			var buf [8]byte
			copy(buf[8-len(x):], x)
			b.Append(binary.BigEndian.Uint64(buf[:]))
		case int64:
			b.Append(uint64(x))
		default:
			return typeError(name, v)
		}
		return nil
	}
}

// zeroDateSummary lists the columns that had zero dates, for the warning.
func zeroDateSummary(cols []*columnAppender) (int64, string) {
	var total int64
	var parts []string
	for _, c := range cols {
		if c.zeroDates > 0 {
			total += c.zeroDates
			parts = append(parts, fmt.Sprintf("%d in column %q", c.zeroDates, c.meta.Name))
		}
	}
	return total, strings.Join(parts, ", ")
}
