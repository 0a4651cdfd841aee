package duckdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

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
	return Writer{}.Write(context.Background(), req, in)
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
		{"bad mode", component.Config{"path": "x.duckdb", "table": "t", "write_mode": "merge"}, "unknown write_mode"},
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
