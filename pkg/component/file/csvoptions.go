package file

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Encodings the CSV components accept, as Osiris-Python names them.
var (
	readEncodings  = []string{"utf-8", "utf-16", "latin-1", "iso-8859-1", "ascii"}
	writeEncodings = []string{"utf-8", "utf-16", "latin-1", "iso-8859-1", "ascii"}
)

// canonicalEncoding maps the accepted names onto utf-8, utf-16, latin-1
// and ascii.
func canonicalEncoding(e string) (string, error) {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(e), "_", "-")) {
	case "", "utf-8", "utf8":
		return "utf-8", nil
	case "utf-16", "utf16":
		return "utf-16", nil
	case "latin-1", "latin1", "iso-8859-1", "iso8859-1":
		return "latin-1", nil
	case "ascii", "us-ascii":
		return "ascii", nil
	}
	return "", fmt.Errorf("encoding %q: use one of %s", e, strings.Join(writeEncodings, ", "))
}

// oneChar: a delimiter, quote or comment is one character other than a
// line break.
func oneChar(v any) error {
	s, _ := v.(string)
	r, size := utf8.DecodeRuneInString(s)
	if s == "" || size != len(s) || r == utf8.RuneError {
		return fmt.Errorf("%q must be exactly one character", s)
	}
	if r == '\r' || r == '\n' {
		return fmt.Errorf("a line break cannot be used here")
	}
	return nil
}

// oneASCIIChar: the writer's quote character is one ASCII character.
func oneASCIIChar(v any) error {
	if err := oneChar(v); err != nil {
		return err
	}
	if s := v.(string); s[0] >= utf8.RuneSelf {
		return fmt.Errorf("%q: the quote character must be an ASCII character such as \" or '", s)
	}
	return nil
}

func mustBeTrue(v any) error {
	if b, _ := v.(bool); !b {
		return fmt.Errorf("osiris always skips blank lines; remove the key (or write true)")
	}
	return nil
}

// pandasTypes maps the dtype names Osiris-Python users write onto DuckDB
// types.
var pandasTypes = map[string]string{
	"int": "BIGINT", "int64": "BIGINT", "int32": "INTEGER", "int16": "SMALLINT", "int8": "TINYINT",
	"uint64": "UBIGINT", "uint32": "UINTEGER", "uint16": "USMALLINT", "uint8": "UTINYINT",
	"float": "DOUBLE", "float64": "DOUBLE", "float32": "FLOAT",
	"str": "VARCHAR", "string": "VARCHAR", "object": "VARCHAR",
	"bool": "BOOLEAN", "boolean": "BOOLEAN",
	"datetime": "TIMESTAMP", "datetime64": "TIMESTAMP", "datetime64[ns]": "TIMESTAMP", "datetime64[us]": "TIMESTAMP",
	"date": "DATE", "time": "TIME", "bytes": "BLOB",
}

var duckTypeName = regexp.MustCompile(`^(?i)(BIGINT|INT8|LONG|INTEGER|INT4|INT|SMALLINT|INT2|TINYINT|INT1|HUGEINT|UHUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT|DOUBLE|FLOAT8|FLOAT|FLOAT4|REAL|VARCHAR|TEXT|BOOLEAN|BOOL|DATE|TIMESTAMP|TIMESTAMPTZ|TIMESTAMP WITH TIME ZONE|TIME|BLOB|UUID|INTERVAL|(DECIMAL|NUMERIC)\s*\(\s*\d{1,2}\s*,\s*\d{1,2}\s*\))$`)

// duckType turns one dtype value into the DuckDB type read_csv is given.
func duckType(t string) (string, error) {
	n := strings.TrimSpace(t)
	if d, ok := pandasTypes[strings.ToLower(n)]; ok {
		return d, nil
	}
	if duckTypeName.MatchString(n) {
		return strings.ToUpper(n), nil
	}
	return "", fmt.Errorf("%q is not a type osiris knows; use a DuckDB type (BIGINT, DOUBLE, DECIMAL(18,2), VARCHAR, BOOLEAN, DATE, TIMESTAMP) or int64, float64, str, bool, datetime64", t)
}

// checkDTypes checks every column → type entry of dtype.
func checkDTypes(v any) error {
	m, _ := v.(map[string]any)
	var problems []string
	for _, col := range sortedKeys(m) {
		s, ok := m[col].(string)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: the type must be a string, not %v", col, m[col]))
			continue
		}
		if _, err := duckType(s); err != nil {
			problems = append(problems, col+": "+err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// distinctChars returns a spec check that the single-character keys given
// (those set) are different characters: a delimiter equal to the quote
// character cannot be parsed back.
func distinctChars(keys ...string) func(map[string]any) (string, error) {
	return func(cfg map[string]any) (string, error) {
		seen := map[string]string{}
		for _, k := range keys {
			v, _ := cfg[k].(string)
			if v == "" {
				continue
			}
			if other, dup := seen[v]; dup {
				return k, fmt.Errorf("%s and %s are both %q; they must differ", other, k, v)
			}
			seen[v] = k
		}
		return "", nil
	}
}

// boolOrRowIndex: the extractor's header is true, false or a row number.
func boolOrRowIndex(v any) error {
	switch x := v.(type) {
	case bool:
		return nil
	case int64:
		if x >= 0 {
			return nil
		}
	case uint64:
		return nil
	}
	return fmt.Errorf("write true, false or the 0-based number of the header row")
}

// boolOrStrings: parse_dates is true, false or a list of column names.
func boolOrStrings(v any) error {
	switch x := v.(type) {
	case bool, string:
		return nil
	case []any:
		for _, it := range x {
			if _, ok := it.(string); !ok {
				return fmt.Errorf("list column names (strings), not %v", it)
			}
		}
		return nil
	}
	return fmt.Errorf("write true, false or a list of column names")
}

// headerRow reads the extractor's header key: whether there is a header
// and how many rows come before it.
func headerRow(cfg map[string]any) (header bool, before int64) {
	switch x := cfg["header"].(type) {
	case bool:
		return x, 0
	case int64:
		return true, x
	case uint64:
		return true, int64(x)
	case int:
		return true, int64(x)
	}
	return true, 0
}
