package compile_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

const targetsTOML = `[project]
name = "targets"

[connections.filesystem.data]
default = true

[connections.filesystem.out]
base_dir = "out"

[connections.duckdb.csv]
path = "data/a.csv"

[connections.duckdb.mem]
path = ":memory:"

[connections.duckdb.wh]
default = true
path = "warehouse.duckdb"
`

// validateIn writes files into a fresh workspace (osiris.toml above unless
// given), validates pipeline and returns the diagnostics as text.
func validateIn(t *testing.T, files map[string]string, pipeline string) string {
	t.Helper()
	all := map[string][]byte{"osiris.toml": []byte(targetsTOML), "data/a.csv": []byte("a,b\n1,2\n")}
	for k, v := range files {
		all[k] = []byte(v)
	}
	root := workspaceWith(t, all)
	if err := os.Symlink("out", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.LoadWithEnv(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	return render(compile.Validate(compile.FromWorkspace(ws), pipeline, compile.Options{}))
}

const readA = `oml_version: "0.1.0"
name: t
steps:
  - id: r
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/a.csv
`

func writer(id, extra string) string {
	return "  - id: " + id + "\n    component: filesystem.csv_writer\n    mode: write\n    needs: [r]\n    config:\n" + extra
}

// TestOneWriterPerFile: two steps writing one file, however it is spelled,
// are refused where the second is written; they used to alternate.
func TestOneWriterPerFile(t *testing.T) {
	for _, tt := range []struct{ name, second, want string }{
		{"dot", "      path: out/./a.csv\n", `pipelines/p.yaml:20:13: error[one-writer-per-file]: step "w2": steps[2].config.path "out/./a.csv" is the file step "w1" writes too (steps[1].config.path "out/a.csv", line 14)`},
		{"base_dir", "      connection: \"@filesystem.out\"\n      path: a.csv\n", `pipelines/p.yaml:21:13: error[one-writer-per-file]: step "w2": steps[2].config.path "out/a.csv" is the file step "w1" writes too`},
		{"symlinked folder", "      path: link/a.csv\n", `pipelines/p.yaml:20:13: error[one-writer-per-file]: step "w2": steps[2].config.path "link/a.csv" is the file step "w1" writes too`},
		{"dotdot", "      path: out/x/../a.csv\n", `error[one-writer-per-file]: step "w2"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := readA + writer("w1", "      path: out/a.csv\n") + writer("w2", tt.second)
			got := validateIn(t, map[string]string{"pipelines/p.yaml": p}, "pipelines/p.yaml")
			if !strings.Contains(got, tt.want) || !strings.Contains(got, "they run in no set order") {
				t.Fatalf("got\n%s\nwant %s", got, tt.want)
			}
		})
	}
	p := readA + writer("w1", "      path: out/a.csv\n") + writer("w2", "      path: out/b.csv\n")
	if got := validateIn(t, map[string]string{"pipelines/p.yaml": p}, "pipelines/p.yaml"); got != "" {
		t.Fatalf("two files refused:\n%s", got)
	}
}

func duckWriter(extra string) string {
	return "  - id: w\n    component: duckdb.writer\n    mode: write\n    needs: [r]\n    config:\n      table: t\n      write_mode: replace\n" + extra
}

// TestDuckDBDatabasePath: a DuckDB path that is a CSV another step reads,
// or any file that is not a DuckDB database, and a writer into ":memory:".
func TestDuckDBDatabasePath(t *testing.T) {
	for _, tt := range []struct{ name, pipeline, want string }{
		{"csv read by another step", readA + duckWriter("      connection: \"@duckdb.csv\"\n"),
			`pipelines/p.yaml:16:19: error[not-a-database]: step "w": path of connection @duckdb.csv (osiris.toml:10) "data/a.csv" is the data file step "r" reads (steps[0].config.path "data/a.csv", line 8), not a DuckDB database`},
		{"not a database file", readA + duckWriter("      path: notes.txt\n"),
			`pipelines/p.yaml:16:13: error[not-a-database]: step "w": steps[1].config.path "notes.txt" is not a DuckDB database file`},
		{"memory writer", readA + duckWriter("      connection: \"@duckdb.mem\"\n"),
			`pipelines/p.yaml:16:19: error[memory-writer]: step "w": path of connection @duckdb.mem (osiris.toml:13) ":memory:" is an in-memory database: everything duckdb.writer writes would be gone when the step ends (write into a database file`},
		{"two duckdb writers of one table", readA + duckWriter("") + strings.ReplaceAll(duckWriter(""), "id: w", "id: w2"),
			`error[one-writer-per-file]: step "w2": path of connection @duckdb.wh (osiris.toml:16) "warehouse.duckdb" and step "w" (path of connection @duckdb.wh (osiris.toml:16) "warehouse.duckdb", line 13) both write table t of one database`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := validateIn(t, map[string]string{"pipelines/p.yaml": tt.pipeline, "notes.txt": "just text, long enough\n"}, "pipelines/p.yaml")
			if !strings.Contains(got, tt.want) {
				t.Fatalf("got\n%s\nwant %s", got, tt.want)
			}
		})
	}
	// An extractor may query memory; two writers into one database write
	// two tables.
	ok := readA + duckWriter("") + strings.ReplaceAll(strings.ReplaceAll(duckWriter(""), "id: w", "id: w2"), "table: t", "table: t2") +
		"  - id: q\n    component: duckdb.extractor\n    mode: read\n    config:\n      connection: \"@duckdb.mem\"\n      query: SELECT 1\n"
	if got := validateIn(t, map[string]string{"pipelines/p.yaml": ok}, "pipelines/p.yaml"); got != "" {
		t.Fatalf("refused:\n%s", got)
	}
}

// TestPipelineFileNames: a file name that makes no folder name for build/
// and run_logs/ is refused at validate with a rename hint; run used to
// fail on it after validate said yes.
func TestPipelineFileNames(t *testing.T) {
	for _, tt := range []struct{ file, want string }{
		{"pipelines/a b.yaml", `pipelines/a b.yaml: error[bad-file-name]: the pipeline's folder name under build/ and run_logs/ ("a b", from its file name) holds " "; folder names are letters, digits, _ . - (rename the file, e.g. to "pipelines/a_b.yaml")`},
		{"pipelines/a\nb.yaml", `holds "\n"`},
		{"pipelines/-x.yaml", `starts with "-"; it must start with a letter or digit (rename the file, e.g. to "pipelines/x.yaml")`},
		{"pipelines/" + strings.Repeat("x", 70) + ".yaml", `is 70 characters; the limit is 64`},
		{"pipelines/sales/" + strings.Repeat("y", 60) + ".yaml", `is 66 characters; the limit is 64`},
		{"pipelines/x:y.yaml", `holds ":"`},
		{"pipelines/nul.yaml", `("nul", from its file name) is a device name Windows reserves`},
	} {
		got := validateIn(t, map[string]string{tt.file: readA}, tt.file)
		if !strings.Contains(got, tt.want) {
			t.Errorf("%q: got\n%s\nwant %s", tt.file, got, tt.want)
		}
	}
	// Two files whose folder names differ only in case share one folder on
	// macOS and Windows.
	got := validateIn(t, map[string]string{"pipelines/Sales.yaml": readA, "pipelines/sales.yaml": readA}, "pipelines/sales.yaml")
	if !strings.Contains(got, `pipelines/sales.yaml and pipelines/Sales.yaml both name the folder "sales"`) {
		t.Errorf("case clash: %s", got)
	}
}

// TestConnectionFamiliesKnown: every family a component takes is one the
// workspace loader accepts in osiris.toml.
func TestConnectionFamiliesKnown(t *testing.T) {
	for _, s := range component.Specs() {
		for _, f := range s.Families {
			if !slices.Contains(workspace.ConnectionFamilies(), f) {
				t.Errorf("%s takes family %q, which osiris.toml refuses (workspace/connkeys.go)", s.Name, f)
			}
		}
	}
}

// TestDuckDBConnectionsFromPython: Osiris-Python's duckdb connections with
// memory: true or read_only: true, and a DuckDB step with no database at
// all, are decided at validate instead of failing (or writing) at run.
func TestDuckDBConnectionsFromPython(t *testing.T) {
	toml := "[project]\nname = \"py\"\n"
	yml := "connections:\n  duckdb:\n    mem: {memory: true}\n    ro: {path: w.duckdb, read_only: true}\n    none: {alias: none}\n  filesystem:\n    data: {default: true}\n"
	for _, tt := range []struct{ name, conn, want string }{
		{"memory writer", "@duckdb.mem", `pipelines/p.yaml:17:19: error[memory-writer]: step "w": connection @duckdb.mem (osiris_connections.yaml:3) has memory: true, an in-memory database: everything duckdb.writer writes would be gone when the step ends`},
		{"read-only writer", "@duckdb.ro", `pipelines/p.yaml:17:19: error[read-only-database]: step "w": connection @duckdb.ro (osiris_connections.yaml:4) is read_only, and duckdb.writer writes into its database`},
		{"no database", "@duckdb.none", `pipelines/p.yaml:17:19: error[no-database]: step "w": duckdb.writer names no database file (no path in its config or its connection) (give connection @duckdb.none a path, or the step a path)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := strings.Replace(readA+duckWriter("      connection: \""+tt.conn+"\"\n"), "path: data/a.csv", "path: data/a.csv\n      connection: \"@filesystem.data\"", 1)
			got := validateIn(t, map[string]string{"osiris.toml": toml, "osiris_connections.yaml": yml, "pipelines/p.yaml": p}, "pipelines/p.yaml")
			if !strings.Contains(got, tt.want) {
				t.Fatalf("got\n%s\nwant %s", got, tt.want)
			}
		})
	}
	q := "oml_version: \"0.1.0\"\nname: q\nsteps:\n  - id: q\n    component: duckdb.extractor\n    mode: read\n    config:\n      connection: \"@duckdb.mem\"\n      query: SELECT 1\n"
	if got := validateIn(t, map[string]string{"osiris.toml": toml, "osiris_connections.yaml": yml, "pipelines/q.yaml": q}, "pipelines/q.yaml"); got != "" {
		t.Fatalf("an extractor on memory: true is refused:\n%s", got)
	}
}
