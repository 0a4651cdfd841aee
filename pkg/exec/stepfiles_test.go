package exec_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/osiris-go/osiris/pkg/compile"
	_ "github.com/osiris-go/osiris/pkg/component/duckdb" // duckdb.processor's IO hook
	_ "github.com/osiris-go/osiris/pkg/component/file"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/workspace"
)

// TestStepFilesFromStepPaths: watch's list of files is the engine's rule —
// base_dir joined for a reader and a writer, and the files a processor's
// SQL reads (a glob stays a glob).
func TestStepFilesFromStepPaths(t *testing.T) {
	root := t.TempDir()
	files, err := workspace.NewFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	m := &compile.Manifest{Steps: []compile.Step{
		{ID: "in", Component: "filesystem.csv_extractor", Mode: "read", Connection: "@filesystem.in", Config: map[string]any{"path": "people.csv"}},
		{ID: "sql", Component: "duckdb.processor", Mode: "transform", Needs: []string{"in"},
			Config: map[string]any{"query": "SELECT * FROM read_csv('data/x.csv'), 'data/parts/*.parquet'"}},
		{ID: "out", Component: "filesystem.csv_writer", Mode: "write", Needs: []string{"sql"}, Connection: "@filesystem.out", Config: map[string]any{"path": "r.csv"}},
	}}
	connect := func(ref, family string) (*workspace.Connection, error) {
		dirs := map[string]string{"@filesystem.in": "incoming", "@filesystem.out": "exports"}
		return &workspace.Connection{Family: family, Alias: ref, Values: map[string]any{"base_dir": dirs[ref]}}, nil
	}
	reads, writes := exec.StepFiles(m, files, connect)
	abs := func(ps ...string) []string {
		for i, p := range ps {
			ps[i] = filepath.Join(root, p)
		}
		return ps
	}
	if want := abs("incoming/people.csv", "data/parts/*.parquet", "data/x.csv"); !reflect.DeepEqual(reads, want) {
		t.Errorf("reads %q, want %q", reads, want)
	}
	if want := abs("exports/r.csv"); !reflect.DeepEqual(writes, want) {
		t.Errorf("writes %q, want %q", writes, want)
	}
}
