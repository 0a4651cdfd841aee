package mysql

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// mysqlColumnType is the column type create_if_missing uses for an Arrow
// type:
//
//	int8…int64 / uint8…uint64   TINYINT…BIGINT [UNSIGNED]
//	bool                        TINYINT(1)
//	float16, float32 / float64  FLOAT / DOUBLE
//	decimal128/256(p,s)         DECIMAL(p,s) (error beyond MySQL's DECIMAL(65,30))
//	utf8 (all string kinds)     LONGTEXT; VARCHAR(255) in a primary key
//	binary (all binary kinds)   LONGBLOB; VARBINARY(255) in a primary key
//	fixed_size_binary(n ≤ 255)  BINARY(n)
//	date32, date64              DATE
//	timestamp (no zone)         DATETIME(0/3/6) by unit: the wall clock, never shifted
//	timestamp (with zone)       DATETIME(…) holding UTC (TIMESTAMP would end in 2038)
//	time32/64, duration         TIME(0/3/6) (MySQL's range: ±838:59:59)
//	null                        TEXT
//	dictionary                  its value type
//	list, struct, map           JSON
func mysqlColumnType(dt arrow.DataType, inKey bool) (string, error) {
	fsp := func(unit arrow.TimeUnit) string {
		switch unit {
		case arrow.Second:
			return ""
		case arrow.Millisecond:
			return "(3)"
		}
		return "(6)"
	}
	switch t := dt.(type) {
	case *arrow.BooleanType:
		return "TINYINT(1)", nil
	case *arrow.Int8Type:
		return "TINYINT", nil
	case *arrow.Int16Type:
		return "SMALLINT", nil
	case *arrow.Int32Type:
		return "INT", nil
	case *arrow.Int64Type:
		return "BIGINT", nil
	case *arrow.Uint8Type:
		return "TINYINT UNSIGNED", nil
	case *arrow.Uint16Type:
		return "SMALLINT UNSIGNED", nil
	case *arrow.Uint32Type:
		return "INT UNSIGNED", nil
	case *arrow.Uint64Type:
		return "BIGINT UNSIGNED", nil
	case *arrow.Float16Type, *arrow.Float32Type:
		return "FLOAT", nil
	case *arrow.Float64Type:
		return "DOUBLE", nil
	case arrow.DecimalType:
		p, s := t.GetPrecision(), t.GetScale()
		if p > 65 || s > 30 || s < 0 {
			return "", fmt.Errorf("%s does not fit MySQL's DECIMAL (at most 65 digits, scale 0-30)", dt)
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", p, s), nil
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		if inKey {
			return "VARCHAR(255)", nil
		}
		return "LONGTEXT", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType:
		if inKey {
			return "VARBINARY(255)", nil
		}
		return "LONGBLOB", nil
	case *arrow.FixedSizeBinaryType:
		if t.ByteWidth <= 255 {
			return fmt.Sprintf("BINARY(%d)", t.ByteWidth), nil
		}
		return "LONGBLOB", nil
	case *arrow.Date32Type, *arrow.Date64Type:
		return "DATE", nil
	case *arrow.TimestampType:
		return "DATETIME" + fsp(t.Unit), nil
	case *arrow.Time32Type:
		return "TIME" + fsp(t.Unit), nil
	case *arrow.Time64Type:
		return "TIME" + fsp(t.Unit), nil
	case *arrow.DurationType:
		return "TIME" + fsp(t.Unit), nil
	case *arrow.NullType:
		return "TEXT", nil
	case *arrow.DictionaryType:
		return mysqlColumnType(t.ValueType, inKey)
	case *arrow.ListType, *arrow.LargeListType, *arrow.FixedSizeListType, *arrow.StructType, *arrow.MapType:
		if inKey {
			return "", fmt.Errorf("a %s column cannot be part of a primary key", dt)
		}
		return "JSON", nil
	}
	return "", fmt.Errorf("no MySQL column type for Arrow type %s", dt)
}

// createTableSQL builds CREATE TABLE for schema, with primaryKey as the
// PRIMARY KEY when given.
func createTableSQL(qualifiedName string, schema *arrow.Schema, primaryKey []string) (string, error) {
	inKey := map[string]bool{}
	for _, k := range primaryKey {
		inKey[strings.ToLower(k)] = true
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE " + qualifiedName + " (\n")
	for i, f := range schema.Fields() {
		key := inKey[strings.ToLower(f.Name)]
		t, err := mysqlColumnType(f.Type, key)
		if err != nil {
			return "", fmt.Errorf("column %q: %w", f.Name, err)
		}
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("  " + quoteIdent(f.Name) + " " + t)
		if key || !f.Nullable {
			b.WriteString(" NOT NULL")
		} else {
			b.WriteString(" NULL")
		}
	}
	if len(primaryKey) > 0 {
		quoted := make([]string, len(primaryKey))
		for i, k := range primaryKey {
			quoted[i] = quoteIdent(k)
		}
		b.WriteString(",\n  PRIMARY KEY (" + strings.Join(quoted, ", ") + ")")
	}
	b.WriteString("\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
	return b.String(), nil
}
