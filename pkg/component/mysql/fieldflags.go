package mysql

import (
	"database/sql/driver"
	"reflect"
)

// flagUnsigned is the UNSIGNED bit of a MySQL column definition's flags
// (UNSIGNED_FLAG in the protocol).
const flagUnsigned = 1 << 5

// columnUnsigned reports whether column i of rows is UNSIGNED, and whether
// it could tell. go-sql-driver reports the flag in DatabaseTypeName for
// integers only; for DECIMAL it derives the precision from the display
// length as if there were a sign digit, so DECIMAL(10,2) UNSIGNED reads as
// DECIMAL(9,2). The flag is read from the driver's column definition
// (rows.rs.columns[i].flags, go-sql-driver v1.10); TestExtractUnsignedDecimalPrecision
// fails if a driver upgrade moves it.
func columnUnsigned(rows driver.Rows, i int) (unsigned, ok bool) {
	v := reflect.ValueOf(rows)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return false, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return false, false
	}
	// binaryRows and textRows embed mysqlRows.
	if m := v.FieldByName("mysqlRows"); m.IsValid() {
		v = m
	}
	cols := v.FieldByName("rs")
	if !cols.IsValid() {
		return false, false
	}
	cols = cols.FieldByName("columns")
	if !cols.IsValid() || cols.Kind() != reflect.Slice || i >= cols.Len() {
		return false, false
	}
	flags := cols.Index(i).FieldByName("flags")
	if !flags.IsValid() || !flags.CanUint() {
		return false, false
	}
	return flags.Uint()&flagUnsigned != 0, true
}
