package duckdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
	"github.com/osiris-go/osiris/workspace"
)

// TestWriterRefusesFileThatIsNotADatabase: DuckDB opens a CSV as an empty
// in-memory database; the writer used to report rows and keep none.
func TestWriterRefusesFileThatIsNotADatabase(t *testing.T) {
	root := t.TempDir()
	csv := "a,b\n1,2\n3,4\n"
	if err := os.WriteFile(filepath.Join(root, "a.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	conn := &workspace.Connection{Family: "duckdb", Alias: "csv", Values: map[string]any{"path": "a.csv"}}
	_, err := write(t, root, component.Config{"table": "t", "write_mode": "replace"}, conn, idValueTable(t, "a", 3, 3))
	if err == nil || !strings.Contains(err.Error(), "a.csv is not a DuckDB database file") {
		t.Fatalf("writer into a CSV: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "a.csv")); string(b) != csv {
		t.Errorf("the CSV changed: %q", b)
	}
	req := componenttest.Request(t, component.Config{"query": "SELECT 1"}, conn, root)
	if _, err := (Extractor{}).Extract(context.Background(), req); err == nil || !strings.Contains(err.Error(), "not a DuckDB database file") {
		t.Fatalf("extractor on a CSV: %v", err)
	}
}

// TestMemoryPath: ":memory:" is an in-memory database, never a file of that
// name; a writer refuses it (it would keep nothing), an extractor queries it.
func TestMemoryPath(t *testing.T) {
	root := t.TempDir()
	conn := &workspace.Connection{Family: "duckdb", Alias: "mem", Values: map[string]any{"path": ":memory:"}}
	_, err := write(t, root, component.Config{"table": "t", "write_mode": "replace"}, conn, idValueTable(t, "a", 3, 3))
	if err == nil || !strings.Contains(err.Error(), "in-memory database, which is gone when the step ends") {
		t.Fatalf("writer into :memory:: %v", err)
	}
	req := componenttest.Request(t, component.Config{"query": "SELECT 42::BIGINT AS n"}, conn, root)
	rr, err := Extractor{}.Extract(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := componenttest.Drain(t, rr)
	defer release(recs)
	if n := firstInt64(t, recs); n != 42 {
		t.Errorf("got %d", n)
	}
	if _, err := os.Stat(filepath.Join(root, ":memory:")); !os.IsNotExist(err) {
		t.Errorf("a file named :memory: exists (%v)", err)
	}
}

// TestPythonMemoryAndReadOnly: Osiris-Python's memory: true is an in-memory
// database (the extractor used to fail with "no database file"), and a
// read_only connection is never written.
func TestPythonMemoryAndReadOnly(t *testing.T) {
	root := t.TempDir()
	mem := &workspace.Connection{Family: "duckdb", Alias: "mem", Values: map[string]any{"memory": true}}
	req := componenttest.Request(t, component.Config{"query": "SELECT 7::BIGINT AS n"}, mem, root)
	rr, err := Extractor{}.Extract(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := componenttest.Drain(t, rr)
	defer release(recs)
	if n := firstInt64(t, recs); n != 7 {
		t.Errorf("got %d", n)
	}
	if _, err := write(t, root, component.Config{"table": "t", "write_mode": "replace"}, mem, idValueTable(t, "a", 3, 3)); err == nil || !strings.Contains(err.Error(), "in-memory database") {
		t.Fatalf("writer into memory: true: %v", err)
	}
	ro := &workspace.Connection{Family: "duckdb", Alias: "ro", Values: map[string]any{"path": "ro.duckdb", "read_only": true}}
	if _, err := write(t, root, component.Config{"table": "t", "write_mode": "replace"}, ro, idValueTable(t, "a", 3, 3)); err == nil || !strings.Contains(err.Error(), "read_only") {
		t.Fatalf("writer into a read_only connection: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "ro.duckdb")); !os.IsNotExist(err) {
		t.Errorf("ro.duckdb was created (%v)", err)
	}
}
