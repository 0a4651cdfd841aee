package duckdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
	"github.com/osiris-go/osiris/workspace"
)

// queryInt runs a one-value query against the database file.
func queryInt(t *testing.T, root, file, query string) int64 {
	t.Helper()
	req := componenttest.Request(t, component.Config{"path": file, "query": query}, nil, root)
	rr, err := Extractor{}.Extract(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := componenttest.Drain(t, rr)
	defer release(recs)
	return firstInt64(t, recs)
}

func write(t *testing.T, root string, cfg component.Config, conn *workspace.Connection, in component.Table) (component.WriteResult, error) {
	t.Helper()
	req := componenttest.Request(t, cfg, conn, root)
	res, err := Writer{}.Write(context.Background(), req, in)
	if p, ok := cfg["path"].(string); ok {
		assertNoStrayObjects(t, filepath.Join(root, p))
	}
	return res, err
}

// assertNoStrayObjects lists the objects of the database file (when it
// exists) and fails on any the writer left behind: every object must be a
// table, or a view that scans no Arrow stream (a stream that is gone by the
// time anyone reads the view crashes the reader).
func assertNoStrayObjects(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return
	}
	objs, err := ListObjects(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Kind != "table" && (strings.HasPrefix(o.Name, "osiris_") || strings.Contains(strings.ToLower(o.SQL), "arrow_scan")) {
			t.Errorf("%s: writer left %s %s.%s (%s)", path, o.Kind, o.Schema, o.Name, o.SQL)
		}
	}
}

func TestWriterModes(t *testing.T) {
	root := t.TempDir()
	first := idValueTable(t, "a", 10, 4)  // ids 0..9
	second := idValueTable(t, "b", 15, 4) // ids 0..14
	const file = "data/out.duckdb"

	// append to a missing table without create_if_missing: clear error.
	_, err := write(t, root, component.Config{"path": file, "table": "movies", "write_mode": "append"}, nil, first)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "create_if_missing") {
		t.Fatalf("append to missing table: %v", err)
	}

	res, err := write(t, root, component.Config{"path": file, "table": "movies", "write_mode": "append", "create_if_missing": true}, nil, first)
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 10 || len(res.Files) != 1 || res.Files[0] != file {
		t.Fatalf("result %+v", res)
	}
	if _, err := os.Stat(filepath.Join(root, file)); err != nil {
		t.Fatal(err)
	}
	if _, err := write(t, root, component.Config{"path": file, "table": "movies", "write_mode": "append"}, nil, second); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, root, file, "SELECT count(*) FROM movies"); n != 25 {
		t.Fatalf("after two appends: %d rows", n)
	}

	// replace: the table holds exactly the new rows.
	if _, err := write(t, root, component.Config{"path": file, "table": "movies", "write_mode": "replace"}, nil, first); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, root, file, "SELECT count(*) FROM movies"); n != 10 {
		t.Fatalf("after replace: %d rows", n)
	}

	// upsert needs primary_key.
	if _, err := write(t, root, component.Config{"path": file, "table": "m2", "write_mode": "upsert", "create_if_missing": true}, nil, first); err == nil {
		t.Fatal("upsert without primary_key accepted")
	}
	// upsert creates the table with its key, then merges.
	cfg := component.Config{"path": file, "table": "m2", "write_mode": "upsert", "primary_key": "id", "create_if_missing": true}
	if _, err := write(t, root, cfg, nil, first); err != nil {
		t.Fatal(err)
	}
	res, err = write(t, root, cfg, nil, second)
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 15 {
		t.Fatalf("upsert wrote %d", res.RowsWritten)
	}
	if n := queryInt(t, root, file, "SELECT count(*) FROM m2"); n != 15 {
		t.Fatalf("after upsert: %d rows", n)
	}
	if n := queryInt(t, root, file, "SELECT count(DISTINCT id) FROM m2"); n != 15 {
		t.Fatalf("after upsert: %d distinct ids", n)
	}

	// replace with a primary key, through the connection's path.
	conn := &workspace.Connection{Family: "duckdb", Alias: "local", Values: map[string]any{"path": file}}
	if _, err := write(t, root, component.Config{"table": "m3", "write_mode": "replace", "primary_key": []any{"id"}}, conn, second); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, root, file, "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'm3' AND constraint_type = 'PRIMARY KEY'"); n != 1 {
		t.Fatalf("m3 has %d primary keys", n)
	}
}

func TestWriterFailureLeavesTableUnchanged(t *testing.T) {
	root := t.TempDir()
	const file = "db.duckdb"
	cfg := component.Config{"path": file, "table": "t", "write_mode": "replace", "primary_key": "id"}
	if _, err := write(t, root, cfg, nil, idValueTable(t, "a", 10, 10)); err != nil {
		t.Fatal(err)
	}
	// Duplicate keys in the new data: the replace must fail and keep the old table.
	dup := componenttest.NewMemTable("dup", idValueTable(t, "x", 1, 1).Sch,
		idValueTable(t, "x", 3, 3).Records[0], idValueTable(t, "y", 3, 3).Records[0])
	if _, err := write(t, root, cfg, nil, dup); err == nil {
		t.Fatal("duplicate keys accepted")
	}
	if n := queryInt(t, root, file, "SELECT count(*) FROM t"); n != 10 {
		t.Fatalf("old table changed: %d rows", n)
	}
}

func TestWriterErrors(t *testing.T) {
	root := t.TempDir()
	in := idValueTable(t, "a", 1, 1)
	tests := []struct {
		name string
		cfg  component.Config
		want string
	}{
		{"no path", component.Config{"table": "t"}, "no database file"},
		{"escape", component.Config{"path": "../x.duckdb", "table": "t"}, "escapes the workspace"},
		{"bad mode", component.Config{"path": "x.duckdb", "table": "t", "write_mode": "bogus"}, "unknown write_mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := write(t, root, tt.cfg, nil, in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestExtractor(t *testing.T) {
	root := t.TempDir()
	if _, err := write(t, root, component.Config{"path": "x.duckdb", "table": "t", "write_mode": "replace"}, nil, idValueTable(t, "a", 5000, 1000)); err != nil {
		t.Fatal(err)
	}
	req := componenttest.Request(t, component.Config{"path": "x.duckdb", "query": "SELECT * FROM t ORDER BY id"}, nil, root)
	req.BatchRows = 1000
	rr, err := Extractor{}.Extract(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	recs, n := componenttest.Drain(t, rr)
	defer release(recs)
	if n != 5000 || len(recs) != 5 {
		t.Fatalf("%d rows in %d batches", n, len(recs))
	}
	if got := recs[4].Column(1).(*array.String).Value(999); got != "name4999" {
		t.Fatalf("last name %q", got)
	}

	req = componenttest.Request(t, component.Config{"path": "missing.duckdb", "query": "SELECT 1"}, nil, root)
	if _, err := (Extractor{}).Extract(context.Background(), req); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestWriterLeavesOnlyItsTable: the file holds the written table and nothing
// else, and a user table named like the writer's internal view can be written.
func TestWriterLeavesOnlyItsTable(t *testing.T) {
	root := t.TempDir()
	const file = "w.duckdb"
	for _, table := range []string{"t", "osiris_write_input"} {
		if _, err := write(t, root, component.Config{"path": file, "table": table, "write_mode": "replace"}, nil, idValueTable(t, "a", 10, 5)); err != nil {
			t.Fatalf("table %s: %v", table, err)
		}
	}
	objs, err := ListObjects(context.Background(), filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Kind+" "+o.Name)
	}
	if strings.Join(got, ",") != "table osiris_write_input,table t" {
		t.Fatalf("objects %v", got)
	}
	// A failed write (duplicate keys) leaves nothing behind either.
	dup := componenttest.NewMemTable("dup", idValueTable(t, "x", 1, 1).Sch,
		idValueTable(t, "x", 3, 3).Records[0], idValueTable(t, "y", 3, 3).Records[0])
	if _, err := write(t, root, component.Config{"path": file, "table": "k", "write_mode": "replace", "primary_key": "id"}, nil, dup); err == nil {
		t.Fatal("duplicate keys accepted")
	}
	if n := queryInt(t, root, file, "SELECT count(*) FROM t"); n != 10 {
		t.Fatalf("t holds %d rows", n)
	}
}

// TestCaseDuplicateColumnsRefused: names equal except for case are refused
// up front by the processor, the extractor and the writer (DuckDB would
// rename the second one silently).
func TestCaseDuplicateColumnsRefused(t *testing.T) {
	root := t.TempDir()
	in := component.Inputs{{Names: []string{"input_df"}, Table: idValueTable(t, "a", 3, 3)}}
	const want = `columns "x" and "X" (columns 1 and 2) differ only in case`

	rr, err := transform(t, "SELECT 1 AS x, 2 AS X FROM input_df", 0, in)
	if err == nil {
		rr.Release()
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("processor: %v", err)
	}

	if _, err := write(t, root, component.Config{"path": "c.duckdb", "table": "t", "write_mode": "replace"}, nil, idValueTable(t, "a", 3, 3)); err != nil {
		t.Fatal(err)
	}
	req := componenttest.Request(t, component.Config{"path": "c.duckdb", "query": "SELECT id AS x, name AS X FROM t"}, nil, root)
	rr, err = Extractor{}.Extract(context.Background(), req)
	if err == nil {
		rr.Release()
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("extractor: %v", err)
	}

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "X", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).Append(1)
	b.Field(1).(*array.Int64Builder).Append(2)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	_, err = write(t, root, component.Config{"path": "fresh.duckdb", "table": "t", "write_mode": "replace"}, nil, componenttest.NewMemTable("caps", schema, rec))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("writer: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "fresh.duckdb")); !os.IsNotExist(err) {
		t.Errorf("the refused write created the database file: %v", err)
	}
}

// TestWideDecimalRefused: decimals wider than DuckDB's 38 digits are
// refused before DuckDB sees them, naming the column, the limit and what
// to do (DuckDB itself says only "arrow scan API failure").
func TestWideDecimalRefused(t *testing.T) {
	root := t.TempDir()
	dt := &arrow.Decimal256Type{Precision: 65, Scale: 30}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "amount", Type: dt, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).Append(1)
	b.Field(1).(*array.Decimal256Builder).Append(decimal256.FromI64(42))
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	in := componenttest.NewMemTable("wide", schema, rec)
	wants := []string{`column "amount"`, "DECIMAL(65,30)", "38 digits", "CAST(amount AS DECIMAL(38,"}

	_, err := write(t, root, component.Config{"path": "d.duckdb", "table": "t", "write_mode": "replace"}, nil, in)
	for _, w := range wants {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("writer: error %v does not contain %q", err, w)
		}
	}
	rr, err := transform(t, "SELECT * FROM input_df", 0, component.Inputs{{Names: []string{"input_df"}, Table: in}})
	if err == nil {
		rr.Release()
	}
	for _, w := range append(wants, `input wide`) {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("processor: error %v does not contain %q", err, w)
		}
	}
}
