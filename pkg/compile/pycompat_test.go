package compile_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/pkg/compile"
)

// step renders one pipeline step; needs "-" means no needs key.
func step(id, comp, mode, needs, config string) string {
	s := fmt.Sprintf("  - id: %s\n    component: %s\n    mode: %s\n", id, comp, mode)
	if needs != "-" {
		s += "    needs: " + needs + "\n"
	}
	return s + "    config:\n" + config
}

const (
	mysqlCfg = "      query: SELECT 1\n"
	csvCfg   = "      path: out/x.csv\n"
	pgCfg    = "      table: t\n      write_mode: append\n"
	duckCfg  = "      query: SELECT * FROM input_df\n"
)

// TestImplicitNeeds: the dependency rule for steps without needs or
// inputs. Read steps are roots; transforms and writers take the nearest
// earlier step that produces a table, skipping writers.
func TestImplicitNeeds(t *testing.T) {
	cases := []struct {
		name  string
		steps []string
		want  map[string][]string // step → needs
		impl  []string            // steps whose needs are implicit
	}{
		{
			name: "extract-write pairs (export every table)",
			steps: []string{
				step("ea", "mysql.extractor", "read", "-", mysqlCfg),
				step("wa", "filesystem.csv_writer", "write", "-", csvCfg),
				step("eb", "mysql.extractor", "read", "-", mysqlCfg),
				step("wb", "postgres.writer", "write", "-", pgCfg),
				step("ec", "mysql.extractor", "read", "-", mysqlCfg),
				step("wc", "filesystem.csv_writer", "write", "-", strings.Replace(csvCfg, "x.csv", "c.csv", 1)), // one writer per file
			},
			want: map[string][]string{"ea": nil, "wa": {"ea"}, "eb": nil, "wb": {"eb"}, "ec": nil, "wc": {"ec"}},
			impl: []string{"wa", "wb", "wc"},
		},
		{
			name: "two writers of one extract (debug tap, then the target)",
			steps: []string{
				step("e", "mysql.extractor", "read", "-", mysqlCfg),
				step("tap", "filesystem.csv_writer", "write", "-", csvCfg),
				step("t", "duckdb.processor", "transform", "-", duckCfg),
				step("tap2", "filesystem.csv_writer", "write", "-", strings.Replace(csvCfg, "x.csv", "t.csv", 1)), // one writer per file
				step("w", "postgres.writer", "write", "-", pgCfg),
			},
			want: map[string][]string{"e": nil, "tap": {"e"}, "t": {"e"}, "tap2": {"t"}, "w": {"t"}},
			impl: []string{"tap", "t", "tap2", "w"},
		},
		{
			name: "explicit needs and needs: [] are kept as written",
			steps: []string{
				step("e1", "mysql.extractor", "read", "-", mysqlCfg),
				step("e2", "mysql.extractor", "read", "[e1]", mysqlCfg),
				step("w", "filesystem.csv_writer", "write", "[e1]", csvCfg),
				step("t", "duckdb.processor", "transform", "[]", "      query: SELECT 1\n"),
			},
			want: map[string][]string{"e1": nil, "e2": {"e1"}, "w": {"e1"}, "t": nil},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "oml_version: \"0.1.0\"\nname: implicit\nsteps:\n" + strings.Join(c.steps, "")
			m, diags := compile.CompileSource(newFakeEnv(t.TempDir()), "pipelines/p.yaml", []byte(src), compile.Options{})
			if m == nil {
				t.Fatalf("does not compile:\n%s\n%s", render(diags), src)
			}
			for id, want := range c.want {
				s := m.Step(id)
				if len(s.Needs) != 0 || len(want) != 0 {
					if !reflect.DeepEqual(s.Needs, want) {
						t.Errorf("%s needs %v, want %v", id, s.Needs, want)
					}
				}
				if impl := contains(c.impl, id); s.ImplicitNeeds != impl {
					t.Errorf("%s implicit=%v, want %v", id, s.ImplicitNeeds, impl)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestOMLVersion020: Osiris-Python's oml_version "0.2.0" compiles, with one
// warning, when every key is understood (the refusal otherwise is in
// testdata/bad/oml-version-compat).
func TestOMLVersion020(t *testing.T) {
	src := "oml_version: \"0.2.0\"\nname: newer\nsteps:\n" +
		step("e", "mysql.extractor", "read", "-", mysqlCfg) +
		step("w", "filesystem.csv_writer", "write", "-", csvCfg)
	m, diags := compile.CompileSource(newFakeEnv(t.TempDir()), "pipelines/p.yaml", []byte(src), compile.Options{})
	if m == nil {
		t.Fatalf("0.2.0 refused:\n%s", render(diags))
	}
	want := "pipelines/p.yaml:1:14: warning[oml-version]: oml_version \"0.2.0\" is read as \"0.1.0\" (every key of this pipeline is understood) (write oml_version: \"0.1.0\" to silence this)\n"
	if got := render(diags); got != want {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", got, want)
	}
	if s := m.Step("w"); !reflect.DeepEqual(s.Needs, []string{"e"}) {
		t.Errorf("w needs %v", s.Needs)
	}
}

// TestDurationsAsTheEngineReadsThem: a timeout or cache written with
// spaces validates, so the manifest holds it trimmed (the engine's
// time.ParseDuration refuses spaces, which would fail the run at start).
func TestDurationsAsTheEngineReadsThem(t *testing.T) {
	src := "oml_version: \"0.1.0\"\nname: d\nsteps:\n" +
		"  - id: e\n    component: mysql.extractor\n    mode: read\n    timeout: \" 10m \"\n    cache: \"5m \"\n    config:\n      query: SELECT 1\n"
	m, diags := compile.CompileSource(newFakeEnv(t.TempDir()), "pipelines/p.yaml", []byte(src), compile.Options{})
	if m == nil {
		t.Fatalf("refused:\n%s", render(diags))
	}
	if s := m.Step("e"); s.Timeout != "10m" || s.Cache != "5m" {
		t.Errorf("timeout %q cache %q, want 10m and 5m", s.Timeout, s.Cache)
	}
}

// TestPythonCSVKeysValidate: the CSV configs of Osiris-Python's component
// examples and docs validate without a diagnostic.
func TestPythonCSVKeysValidate(t *testing.T) {
	src := `oml_version: "0.1.0"
name: csv-keys
steps:
  - id: basic
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/customers.csv, delimiter: ",", header: true, encoding: utf-8}
  - id: dates
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/transactions.csv
      columns: [id, customer_id, amount, created_at]
      parse_dates: [created_at]
      limit: 10000
  - id: tsv
    component: filesystem.csv_extractor
    mode: read
    config:
      path: exports/data.tsv
      delimiter: "\t"
      encoding: utf-8
      header: false
      skip_rows: 2
      na_values: ["N/A", "null", "-"]
  - id: messy
    component: filesystem.csv_extractor
    mode: read
    config:
      path: in/legacy.csv.gz
      encoding: iso-8859-1
      compression: infer
      comment: "#"
      skip_blank_lines: true
      chunk_size: 10000
      header: 1
      parse_dates: false
      dtype: {zip: str, amount: float64, qty: int64}
  - id: write-tsv
    component: filesystem.csv_writer
    mode: write
    config:
      path: exports/out.tsv
      delimiter: "\t"
      header: false
      encoding: latin-1
      newline: crlf
      quoting: minimal
      quotechar: "'"
      chunk_size: 1000
      create_dirs: true
`
	m, diags := compile.CompileSource(newFakeEnv(t.TempDir()), "pipelines/p.yaml", []byte(src), compile.Options{})
	if m == nil || len(diags) > 0 {
		t.Fatalf("Osiris-Python CSV keys do not validate cleanly:\n%s", render(diags))
	}
	if got := m.Step("write-tsv").Needs; !reflect.DeepEqual(got, []string{"messy"}) {
		t.Errorf("write-tsv needs %v, want the nearest extractor", got)
	}
}
