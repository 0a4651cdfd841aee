package duckdb

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestAnalyzeQuery: the files a query reads come from DuckDB's parser —
// literal paths of every file function and replacement scan, globs kept —
// while a path built at run time and a non-deterministic function are
// named, and a statement that is not a SELECT is refused.
func TestAnalyzeQuery(t *testing.T) {
	tests := []struct {
		query   string
		reads   []string
		unknown string // substring of ReadsUnknown
		nondet  string // substring of NonDeterministic
	}{
		{query: "SELECT * FROM input_df"},
		{query: "SELECT * FROM read_csv('data/x.csv', header = true)", reads: []string{"data/x.csv"}},
		{query: "SELECT * FROM read_csv_auto('data/*.csv')", reads: []string{"data/*.csv"}},
		{query: "FROM 'data/x.csv'", reads: []string{"data/x.csv"}},
		{query: "SELECT * FROM \"data/y.parquet\" JOIN 'z.json.gz' USING (id)", reads: []string{"data/y.parquet", "z.json.gz"}},
		{query: "SELECT * FROM read_parquet(['a.parquet', 'b.parquet'])", reads: []string{"a.parquet", "b.parquet"}},
		{query: "SELECT * FROM parquet_scan('p/*.parquet')", reads: []string{"p/*.parquet"}},
		{query: "SELECT content FROM read_text('notes.txt') UNION ALL SELECT content::VARCHAR FROM read_blob('b.bin')", reads: []string{"b.bin", "notes.txt"}},
		{query: "SELECT * FROM read_json_auto('j.json'), read_ndjson('n.ndjson')", reads: []string{"j.json", "n.ndjson"}},
		{query: "SELECT * FROM glob('data/*')", reads: []string{"data/*"}},
		{query: "WITH a AS (SELECT * FROM read_csv('in/a.csv')) SELECT * FROM a WHERE id IN (SELECT id FROM 'in/b.csv')", reads: []string{"in/a.csv", "in/b.csv"}},
		{query: "SELECT * FROM query('SELECT * FROM read_csv(''q.csv'')')", reads: []string{"q.csv"}},
		{query: "SELECT 1; SELECT * FROM 'two.csv'", reads: []string{"two.csv"}},
		{query: "DESCRIBE SELECT * FROM 'd.csv'", reads: []string{"d.csv"}},
		{query: "SELECT * FROM read_csv('data/' || 'x.csv')", unknown: "read_csv() at line 1, column 15 of the query reads a path built at run time"},
		{query: "SELECT *\nFROM read_text(getvariable('p'))", unknown: "line 2, column 6"},
		{query: "SELECT * FROM query(concat('SELECT ', 1))", unknown: "query()"},
		{query: "SELECT now() AS t", nondet: "now()"},
		{query: "SELECT current_timestamp AS t", nondet: "current_timestamp"},
		{query: "SELECT * FROM input_df WHERE d < current_date", nondet: "current_date"},
		{query: "SELECT random() AS r", nondet: "random()"},
		{query: "SELECT uuid() AS u", nondet: "uuid()"},
		{query: "SELECT gen_random_uuid() AS u", nondet: "gen_random_uuid()"},
		{query: "SELECT setseed(0.5)", nondet: "setseed()"},
		{query: "SELECT today() AS d", nondet: "today()"},
		{query: "SELECT * FROM input_df USING SAMPLE 10%", nondet: "USING SAMPLE"},
		{query: "SELECT * FROM input_df USING SAMPLE 10% (bernoulli, 7)"},
		{query: "SELEC 1", unknown: "does not parse"},
	}
	for _, tt := range tests {
		got, err := AnalyzeQuery(tt.query)
		if err != nil {
			t.Errorf("%s: %v", tt.query, err)
			continue
		}
		if !reflect.DeepEqual(got.Reads, tt.reads) {
			t.Errorf("%s: reads %q, want %q", tt.query, got.Reads, tt.reads)
		}
		if (tt.unknown == "") != (got.ReadsUnknown == "") || !strings.Contains(got.ReadsUnknown, tt.unknown) {
			t.Errorf("%s: ReadsUnknown %q, want %q", tt.query, got.ReadsUnknown, tt.unknown)
		}
		if (tt.nondet == "") != (got.NonDeterministic == "") || !strings.Contains(got.NonDeterministic, tt.nondet) {
			t.Errorf("%s: NonDeterministic %q, want %q", tt.query, got.NonDeterministic, tt.nondet)
		}
	}
	for _, q := range []string{
		"COPY (SELECT 1) TO 'data/out.csv'",
		"EXPORT DATABASE 'dump'",
		"SELECT 1; COPY (SELECT 1) TO 'x.csv'",
		"CREATE TABLE t AS SELECT 1",
		"ATTACH 'other.duckdb' AS o",
		"SET enable_external_access = true",
		"PRAGMA version",
		"INSTALL httpfs",
		"SELECT * FROM query('COPY (SELECT 1) TO ''x.csv''')",
	} {
		_, err := AnalyzeQuery(q)
		var ns *NotSelectError
		if !errors.As(err, &ns) {
			t.Errorf("%s: %v; want NotSelectError", q, err)
		} else if !strings.Contains(err.Error(), "filesystem.csv_writer") {
			t.Errorf("%s: message %q does not point to a writer step", q, err)
		}
	}
}
