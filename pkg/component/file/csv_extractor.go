package file

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/duckdb"
)

// CSVExtractor is filesystem.csv_extractor: DuckDB's read_csv over the
// matched files, its sniffer inferring delimiter and types unless the
// config says otherwise. The result streams as Arrow.
//
// The sniffer's integer type is BIGINT: an integer column holding a value
// beyond int64 (a BIGINT UNSIGNED export) is sniffed as DOUBLE and loses
// precision; DuckDB refuses HUGEINT/UBIGINT as sniffer candidates. Use
// all_varchar for such files. Numbers with a fraction are DOUBLE, IDs with
// leading zeros ("00123") stay text.
type CSVExtractor struct{}

var _ component.Extractor = CSVExtractor{}

// Extract reads the configured file(s).
func (CSVExtractor) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	files, err := inputFiles(req)
	if err != nil {
		return nil, err
	}
	query, err := readCSVQuery(req.Config, files)
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	s, err := duckdb.Open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	// The sniffer reads the matched files and nothing else.
	if err := s.Confine(ctx, duckdb.Access{TempDir: req.TempDir, Paths: files}); err != nil {
		return nil, errors.Join(fmt.Errorf("step %q: %w", req.StepID, err), s.Close())
	}
	rr, err := s.QueryAndClose(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("step %q: reading %s: %w", req.StepID, req.Config.String("path"), err)
	}
	out := duckdb.Rebatch(rr, req.BatchRows, req.MaxBatchBytes(), req.Alloc)
	if enc, _ := canonicalEncoding(req.Config.String("encoding")); enc == "ascii" {
		if err := asciiNames(out.Schema()); err != nil {
			out.Release()
			return nil, fmt.Errorf("step %q: reading %s: %w", req.StepID, req.Config.String("path"), err)
		}
		return &asciiChecker{RecordReader: out}, nil
	}
	return out, nil
}

// readCSVQuery builds SELECT … FROM read_csv([files], options) from the
// step's config; options not set are left to the sniffer.
//
// Osiris-Python's keys map onto read_csv: encoding (latin-1 and its name
// iso-8859-1 are native to DuckDB; ascii is read as utf-8 and every value
// is then checked), compression (auto infers .gz and .zst), comment,
// dtype → types, parse_dates → types TIMESTAMP (with date_format as
// timestampformat), limit → LIMIT. Blank lines are always skipped
// (DuckDB's behaviour; skip_blank_lines: false is refused by the spec).
func readCSVQuery(cfg component.Config, files []string) (string, error) {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = duckdb.QuoteString(f)
	}
	// allow_quoted_nulls off: an unquoted empty field is NULL, a quoted one
	// ("") an empty string — the convention csv_writer writes.
	header, beforeHeader := headerRow(cfg)
	opts := []string{"header = " + strconv.FormatBool(header), "allow_quoted_nulls = false"}
	if d := cfg.String("delimiter"); d != "" {
		opts = append(opts, "delim = "+duckdb.QuoteString(d))
	}
	if q := cfg.String("quote"); q != "" {
		opts = append(opts, "quote = "+duckdb.QuoteString(q))
	}
	enc, err := canonicalEncoding(cfg.String("encoding"))
	if err != nil {
		return "", err
	}
	if enc == "ascii" {
		enc = "utf-8"
	}
	opts = append(opts, "encoding = "+duckdb.QuoteString(enc))
	switch c := cfg.String("compression"); c {
	case "", "auto", "infer":
	case "none", "gzip", "zstd":
		opts = append(opts, "compression = "+duckdb.QuoteString(c))
	default:
		return "", fmt.Errorf("compression %q: use auto, none, gzip or zstd", c)
	}
	if c := cfg.String("comment"); c != "" {
		opts = append(opts, "comment = "+duckdb.QuoteString(c))
	}
	if na := cfg.Strings("na_values"); len(na) > 0 {
		list := make([]string, len(na))
		for i, v := range na {
			list[i] = duckdb.QuoteString(v)
		}
		// nullstr replaces the default (empty field = NULL); keep it.
		list = append(list, "''")
		opts = append(opts, "nullstr = ["+strings.Join(list, ", ")+"]")
	}
	if n := cfg.Int("skip_rows", 0) + beforeHeader; n > 0 {
		opts = append(opts, "skip = "+strconv.FormatInt(n, 10))
	}
	dateFormat := cfg.String("date_format")
	if dateFormat != "" {
		opts = append(opts, "dateformat = "+duckdb.QuoteString(dateFormat))
	}
	types := map[string]string{}
	if dt, ok := cfg["dtype"].(map[string]any); ok {
		for col, v := range dt {
			s, _ := v.(string)
			t, err := duckType(s)
			if err != nil {
				return "", fmt.Errorf("dtype.%s: %w", col, err)
			}
			types[col] = t
		}
	}
	if b, ok := cfg["parse_dates"].(bool); ok && !b {
		// pandas' parse_dates=False: dates stay text; the sniffer keeps
		// its other candidates.
		opts = append(opts, "auto_type_candidates = ['BOOLEAN', 'BIGINT', 'DOUBLE', 'VARCHAR']")
	} else if pd := parseDateColumns(cfg); len(pd) > 0 {
		for _, col := range pd {
			if _, set := types[col]; set {
				return "", fmt.Errorf("column %q is in both parse_dates and dtype; keep one", col)
			}
			types[col] = "TIMESTAMP"
		}
		if dateFormat != "" {
			opts = append(opts, "timestampformat = "+duckdb.QuoteString(dateFormat))
		}
	}
	if len(types) > 0 {
		cols := make([]string, 0, len(types))
		for c := range types {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		entries := make([]string, len(cols))
		for i, c := range cols {
			entries[i] = duckdb.QuoteString(c) + ": " + duckdb.QuoteString(types[c])
		}
		opts = append(opts, "types = {"+strings.Join(entries, ", ")+"}")
	}
	if cfg.Bool("all_varchar", false) {
		opts = append(opts, "all_varchar = true")
	}
	projection := "*"
	if cols := cfg.Strings("columns"); len(cols) > 0 {
		q := make([]string, len(cols))
		for i, c := range cols {
			q[i] = duckdb.QuoteIdent(c)
		}
		projection = strings.Join(q, ", ")
	}
	query := "SELECT " + projection + " FROM read_csv([" + strings.Join(quoted, ", ") + "], " + strings.Join(opts, ", ") + ")"
	if n := cfg.Int("limit", 0); n > 0 {
		query += " LIMIT " + strconv.FormatInt(n, 10)
	}
	return query, nil
}

// parseDateColumns is parse_dates as a list of columns (nil for a boolean).
func parseDateColumns(cfg component.Config) []string {
	if _, isBool := cfg["parse_dates"].(bool); isBool {
		return nil
	}
	return cfg.Strings("parse_dates")
}

// asciiNames refuses a header with a non-ASCII column name.
func asciiNames(s *arrow.Schema) error {
	for _, f := range s.Fields() {
		if i := nonASCII(f.Name); i >= 0 {
			return fmt.Errorf("header, column %q: non-ASCII character in a file read as ascii; use encoding utf-8 or latin-1", f.Name)
		}
	}
	return nil
}

// asciiChecker fails the read at the first string value holding a
// non-ASCII character, naming its row and column, as Python's ascii codec
// refuses such a file.
type asciiChecker struct {
	array.RecordReader
	rows int64
	err  error
}

func (a *asciiChecker) Next() bool {
	if a.err != nil || !a.RecordReader.Next() {
		return false
	}
	rec := a.RecordReader.RecordBatch()
	for c, col := range rec.Columns() {
		str, ok := col.(interface {
			IsNull(int) bool
			Value(int) string
		})
		if !ok {
			continue
		}
		for r := 0; r < col.Len(); r++ {
			if str.IsNull(r) {
				continue
			}
			if v := str.Value(r); nonASCII(v) >= 0 {
				a.err = fmt.Errorf("row %d, column %q: non-ASCII character %q in a file read as ascii; use encoding utf-8 or latin-1",
					a.rows+int64(r)+1, rec.Schema().Field(c).Name, []rune(v[nonASCII(v):])[0])
				return false
			}
		}
	}
	a.rows += rec.NumRows()
	return true
}

func (a *asciiChecker) Err() error {
	if a.err != nil {
		return a.err
	}
	return a.RecordReader.Err()
}

func nonASCII(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return i
		}
	}
	return -1
}
