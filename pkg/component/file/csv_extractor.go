package file

import (
	"context"
	"fmt"
	"strconv"
	"strings"

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
	query := readCSVQuery(req.Config, files)
	s, err := duckdb.Open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	rr, err := s.QueryAndClose(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("step %q: reading %s: %w", req.StepID, req.Config.String("path"), err)
	}
	return duckdb.Rebatch(rr, req.BatchRows, req.Alloc), nil
}

// readCSVQuery builds SELECT … FROM read_csv([files], options) from the
// step's config; options not set are left to the sniffer.
func readCSVQuery(cfg component.Config, files []string) string {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = duckdb.QuoteString(f)
	}
	// allow_quoted_nulls off: an unquoted empty field is NULL, a quoted one
	// ("") an empty string — the convention csv_writer writes.
	opts := []string{"header = " + strconv.FormatBool(cfg.Bool("header", true)), "allow_quoted_nulls = false"}
	if d := cfg.String("delimiter"); d != "" {
		opts = append(opts, "delim = "+duckdb.QuoteString(d))
	}
	if q := cfg.String("quote"); q != "" {
		opts = append(opts, "quote = "+duckdb.QuoteString(q))
	}
	if e := cfg.String("encoding"); e != "" {
		opts = append(opts, "encoding = "+duckdb.QuoteString(e))
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
	if n := cfg.Int("skip_rows", 0); n > 0 {
		opts = append(opts, "skip = "+strconv.FormatInt(n, 10))
	}
	if f := cfg.String("date_format"); f != "" {
		opts = append(opts, "dateformat = "+duckdb.QuoteString(f))
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
	return "SELECT " + projection + " FROM read_csv([" + strings.Join(quoted, ", ") + "], " + strings.Join(opts, ", ") + ")"
}
