package postgres

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
)

const benchRows = 500_000

// moviesTable is the shape of bench.movies (../shared/bench/movies.sql),
// generated the same way, in batches of 10,000 rows.
func moviesTable(rows int) *componenttest.MemTable {
	dec := &arrow.Decimal128Type{Precision: 14, Scale: 2}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "movie_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "title", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "release_year", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "director_id", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "genre", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "runtime_minutes", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "budget_usd", Type: dec, Nullable: true},
		{Name: "box_office_usd", Type: dec, Nullable: true},
		{Name: "created_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	}, nil)
	genres := []string{"Drama", "Comedy", "Action", "Horror", "SciFi", "Docu", "Anim"}
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	var recs []arrow.RecordBatch
	for s := 1; s <= rows; s++ {
		rb.Field(0).(*array.Int64Builder).Append(int64(s))
		rb.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("Movie title number %d", s))
		rb.Field(2).(*array.Int32Builder).Append(int32(1950 + s%75))
		rb.Field(3).(*array.Int32Builder).Append(int32(1 + s%20000))
		rb.Field(4).(*array.StringBuilder).Append(genres[s%7])
		rb.Field(5).(*array.Int32Builder).Append(int32(80 + s%90))
		rb.Field(6).(*array.Decimal128Builder).Append(decimal128.FromI64(100000000 + int64(s%997)*1234567))
		if s%13 == 0 {
			rb.Field(7).AppendNull()
		} else {
			rb.Field(7).(*array.Decimal128Builder).Append(decimal128.FromI64(50000000 + int64(s%1009)*5432109))
		}
		rb.Field(8).(*array.TimestampBuilder).Append(arrow.Timestamp(base + int64(s)*1_000_000))
		if s%10000 == 0 || s == rows {
			recs = append(recs, rb.NewRecordBatch())
		}
	}
	t := componenttest.NewMemTable("movies", schema, recs...)
	for _, r := range recs {
		r.Release()
	}
	return t
}

var moviesTargets = []uint32{20, 25, 23, 23, 25, 23, 1700, 1700, 1114}

func BenchmarkArrowToCopy(b *testing.B) {
	in := moviesTable(benchRows)
	names := make([]string, in.Sch.NumFields())
	for i, f := range in.Sch.Fields() {
		names[i] = f.Name
	}
	b.ReportAllocs()
	b.ResetTimer()
	var total int64
	for b.Loop() {
		r, _ := in.Open(context.Background())
		n, err := io.Copy(io.Discard, newCopyStream(context.Background(), r, names, moviesTargets))
		r.Release()
		if err != nil {
			b.Fatal(err)
		}
		total = n
	}
	b.SetBytes(total)
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

const moviesDDL = `(movie_id bigint PRIMARY KEY, title text, release_year integer, director_id integer, genre text,
	runtime_minutes integer, budget_usd numeric(14,2), box_office_usd numeric(14,2), created_at timestamp)`

// BenchmarkCopyToPostgres is W2's load half: replace 500k movies rows into
// a keyed table. Once, it also times the raw floor, psql \copy of the same
// rows as TSV into an identical keyed table, and reports the ratio.
func BenchmarkCopyToPostgres(b *testing.B) {
	e := newPGEnv(b)
	in := moviesTable(benchRows)
	e.exec(`CREATE TABLE ` + e.q("movies") + ` ` + moviesDDL)
	e.exec(`CREATE TABLE ` + e.q("movies_psql") + ` ` + moviesDDL)
	cfg := component.Config{"table": "movies", "write_mode": "replace"}
	// Warm up: the first replace runs into an empty table.
	if _, err := e.write(context.Background(), cfg, in); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := e.write(context.Background(), cfg, in)
		if err != nil {
			b.Fatal(err)
		}
		if res.RowsWritten != benchRows {
			b.Fatalf("wrote %d", res.RowsWritten)
		}
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	b.StopTimer()
	b.ReportMetric(float64(benchRows)/perOp.Seconds(), "rows/s")

	floor, err := psqlCopyFloor(b, e, in)
	if err != nil {
		b.Logf("psql floor not measured: %v", err)
		return
	}
	b.ReportMetric(floor.Seconds(), "psql-s")
	b.ReportMetric(perOp.Seconds()/floor.Seconds(), "x-psql")
	b.Logf("osiris replace %v per %d rows; psql \\copy floor %v; ratio %.2f", perOp, benchRows, floor, perOp.Seconds()/floor.Seconds())
}

// psqlCopyFloor writes the rows as TSV and times, best of 3, psql
// truncating and \copy-ing them into the keyed twin table in one transaction.
func psqlCopyFloor(tb testing.TB, e *pgEnv, in *componenttest.MemTable) (time.Duration, error) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		return 0, err
	}
	path := filepath.Join(tb.TempDir(), "movies.tsv")
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriter(f)
	for _, rec := range in.Records {
		for i := 0; i < int(rec.NumRows()); i++ {
			for c := 0; c < int(rec.NumCols()); c++ {
				if c > 0 {
					w.WriteByte('\t')
				}
				col := rec.Column(c)
				if col.IsNull(i) {
					w.WriteString(`\N`)
				} else if ts, ok := col.(*array.Timestamp); ok {
					w.WriteString(time.UnixMicro(int64(ts.Value(i))).UTC().Format("2006-01-02 15:04:05"))
				} else {
					w.WriteString(col.ValueStr(i))
				}
			}
			w.WriteByte('\n')
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	f.Close()
	best := time.Duration(1<<63 - 1)
	for range 3 {
		cmd := exec.Command(psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", e.dsn,
			"-c", "TRUNCATE "+e.q("movies_psql"), "-c", `\copy `+e.q("movies_psql")+` from '`+path+`'`)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%v: %s", err, out)
		}
		best = min(best, time.Since(start))
	}
	var n int64
	if err := e.admin.QueryRow(context.Background(), `SELECT count(*) FROM `+e.q("movies_psql")).Scan(&n); err != nil || n != in.Rows() {
		return 0, fmt.Errorf("psql loaded %d rows: %v", n, err)
	}
	return best, nil
}

// The TSV twin must hold exactly what the writer stored, or the floor
// compares different work.
func TestMoviesShapeMatchesPsqlLoad(t *testing.T) {
	e := newPGEnv(t)
	if _, err := exec.LookPath("psql"); err != nil {
		testenv.Need(t, "the psql client (Debian: postgresql-client)")
	}
	in := moviesTable(2000)
	e.exec(`CREATE TABLE ` + e.q("movies") + ` ` + moviesDDL)
	e.exec(`CREATE TABLE ` + e.q("movies_psql") + ` ` + moviesDDL)
	if _, err := e.write(context.Background(), component.Config{"table": "movies", "write_mode": "replace"}, in); err != nil {
		t.Fatal(err)
	}
	if _, err := psqlCopyFloor(t, e, in); err != nil {
		t.Fatal(err)
	}
	if got, want := e.contents("movies"), e.contents("movies_psql"); got != want {
		t.Fatal("binary COPY and psql \\copy stored different rows")
	}
}
