package mysql

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
)

const benchDB = "osiris_t_mysql_bench"

// benchRows is the size of the movies table (OSIRIS_BENCH_ROWS, default 200k).
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("OSIRIS_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// benchMovies makes sure osiris_t_mysql_bench.movies has n rows of the
// movies shape of ../shared/bench/movies.sql and returns its name.
func benchMovies(b testing.TB, n int) string {
	db := testenv.MySQLDB(b, benchDB)
	table := fmt.Sprintf("movies_%d", n)
	var have int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&have); err == nil && have == n {
		return table
	}
	mustExec(b, db, "DROP TABLE IF EXISTS "+table,
		`CREATE TABLE `+table+` (
  movie_id BIGINT PRIMARY KEY, title VARCHAR(200), release_year INT, director_id INT, genre VARCHAR(30),
  runtime_minutes INT, budget_usd DECIMAL(14,2), box_office_usd DECIMAL(14,2), created_at DATETIME) ENGINE=InnoDB`,
		fmt.Sprintf(`INSERT INTO %s SELECT seq, CONCAT('Movie title number ', seq), 1950 + seq %% 75,
  1 + seq %% 20000, ELT(1 + seq %% 7, 'Drama', 'Comedy', 'Action', 'Horror', 'SciFi', 'Docu', 'Anim'),
  80 + seq %% 90, 1000000 + (seq %% 997) * 12345.67,
  CASE WHEN seq %% 13 = 0 THEN NULL ELSE 500000 + (seq %% 1009) * 54321.09 END,
  TIMESTAMP('2020-01-01') + INTERVAL seq SECOND FROM seq_1_to_%d`, table, n))
	return table
}

func benchRequest(b *testing.B, db string, cfg component.Config) *component.Request {
	req := componenttest.Request(b, cfg, testConn(b, db), "")
	req.BatchRows = 65536
	return req
}

// BenchmarkMySQLToArrow: the extractor on the movies shape (9 columns,
// 200k rows by default), read to the end.
func BenchmarkMySQLToArrow(b *testing.B) {
	n := benchRows()
	table := benchMovies(b, n)
	req := benchRequest(b, benchDB, component.Config{"query": "SELECT * FROM " + table})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rr, err := (&Extractor{}).Extract(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		var rows int64
		for rr.Next() {
			rows += rr.RecordBatch().NumRows()
		}
		if err := rr.Err(); err != nil {
			b.Fatal(err)
		}
		rr.Release()
		if rows != int64(n) {
			b.Fatalf("%d rows, want %d", rows, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkArrowToMySQL: the writer replacing a table with the movies
// rows (held in memory), through LOAD DATA and through INSERTs.
func BenchmarkArrowToMySQL(b *testing.B) {
	n := benchRows()
	table := benchMovies(b, n)
	req := benchRequest(b, benchDB, component.Config{"query": "SELECT * FROM " + table})
	rr, err := (&Extractor{}).Extract(context.Background(), req)
	if err != nil {
		b.Fatal(err)
	}
	schema := rr.Schema()
	var recs []arrow.RecordBatch
	for rr.Next() {
		r := rr.RecordBatch()
		r.Retain()
		recs = append(recs, r)
	}
	rr.Release()
	in := componenttest.NewMemTable("movies", schema, recs...)
	for _, p := range []struct {
		name string
		w    *Writer
	}{{"loaddata", &Writer{}}, {"insert", &Writer{forceInsert: true}}} {
		b.Run(p.name, func(b *testing.B) {
			target := table + "_copy_" + p.name
			db := testenv.MySQLDB(b, benchDB)
			mustExec(b, db, "DROP TABLE IF EXISTS "+target, "CREATE TABLE "+target+" LIKE "+table)
			wreq := benchRequest(b, benchDB, component.Config{"table": target, "write_mode": "replace"})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := p.w.Write(context.Background(), wreq, in)
				if err != nil {
					b.Fatal(err)
				}
				if res.RowsWritten != int64(n) {
					b.Fatalf("%d rows written", res.RowsWritten)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
