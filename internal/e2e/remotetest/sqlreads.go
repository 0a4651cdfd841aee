package remotetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
)

// sqlReadsPipeline reads files three ways the engine must know about: a
// reader on a connection with base_dir, read_csv('…') of one file and a
// glob in a processor's SQL; a writer on another base_dir connection writes
// the result.
const sqlReadsPipeline = `oml_version: "0.1.0"
name: sql-reads
steps:
  - id: people
    component: filesystem.csv_extractor
    mode: read
    config: {connection: "@filesystem.incoming", path: people.csv}
  - id: sums
    component: duckdb.processor
    mode: transform
    needs: [people]
    config:
      query: >-
        SELECT (SELECT sum(v) FROM read_csv('data/x.csv')) AS x_sum,
               (SELECT count(*) FROM read_csv('data/parts/*.csv')) AS part_rows,
               (SELECT string_agg(name, '+' ORDER BY name) FROM input_df) AS people
  - id: save
    component: filesystem.csv_writer
    mode: write
    needs: [sums]
    config: {connection: "@filesystem.exports", path: result.csv}
`

const sqlReadsConnections = `
[connections.filesystem.incoming]
base_dir = "incoming"
[connections.filesystem.exports]
base_dir = "exports"
`

// SQLReads: the files a processor's SQL reads (read_csv of one file, a
// glob) and a base_dir reader and writer give the same result locally and
// in the sandbox: an edited CSV gives a new result in both, a new file
// matching the glob is picked up, and the writer's file arrives back under
// its base_dir.
func SQLReads(t *testing.T, sb Sandbox) {
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Extra: sqlReadsConnections + "\n" + sb.TOML + "\n"}, map[string]string{
		"incoming/people.csv": "name\nada\nbob\n",
		"data/x.csv":          "id,v\n1,10\n2,20\n",
		"data/parts/a.csv":    "id\n1\n2\n",
		"exports/.keep":       "",
		"pipelines/p.yaml":    sqlReadsPipeline,
	})
	result := filepath.Join(w.Root, "exports", "result.csv")
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(result)
		if err != nil {
			t.Fatalf("exports/result.csv: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	both := func(want string) {
		t.Helper()
		os.Remove(result)
		w.MustRun("pipelines/p.yaml")
		if got := read(); got != want {
			t.Errorf("local run wrote\n%s\nwant\n%s", got, want)
		}
		os.Remove(result)
		w.MustRun("pipelines/p.yaml", "--remote", sb.Name)
		if got := read(); got != want {
			t.Errorf("remote run (%s) wrote\n%s\nwant\n%s", sb.Name, got, want)
		}
	}
	both("x_sum,part_rows,people\n30,2,ada+bob")

	// The file read by SQL changes: both runs see it (same size, too).
	w.Write("data/x.csv", "id,v\n1,10\n2,50\n")
	both("x_sum,part_rows,people\n60,2,ada+bob")

	// A new file matching the glob, and a changed base_dir input.
	w.Write("data/parts/b.csv", "id\n3\n")
	w.Write("incoming/people.csv", "name\nada\nbob\ncy\n")
	both("x_sum,part_rows,people\n60,3,ada+bob+cy")
}
