package sqlsandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
)

// TestNonDeterministicExecutesEveryRun: a processor calling now() or
// random() runs again on every run instead of keeping its first value.
func TestNonDeterministicExecutesEveryRun(t *testing.T) {
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{}, map[string]string{
		"data/in.csv": "id\n1\n",
		"pipelines/now.yaml": processorPipeline("now",
			"SELECT epoch_ns(now())::VARCHAR || '-' || random()::VARCHAR AS stamp FROM input_df"),
	})
	var seen []string
	for i := 0; i < 3; i++ {
		runDir := w.MustRun("pipelines/now.yaml")
		if st := e2e.ReadStatus(t, runDir).Step(t, "peek"); st.Status != "success" || st.Cache == "hit" {
			t.Errorf("run %d: step peek %s cache %q; want it executed", i+1, st.Status, st.Cache)
		}
		b, err := os.ReadFile(filepath.Join(w.Root, "out", "now.csv"))
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, strings.TrimSpace(string(b)))
	}
	if seen[0] == seen[1] || seen[1] == seen[2] {
		t.Errorf("now()/random() kept a value between runs: %q", seen)
	}
}

// TestValidateRemoteRefusesUnknownReads: a query whose file reads cannot be
// known before it runs (a path built at run time) runs locally, and is
// refused with file:line:col and exit 2 by validate --remote and by run
// --remote, before any sandbox starts.
func TestValidateRemoteRefusesUnknownReads(t *testing.T) {
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{Extra: "\n[remote.box]\nkind = \"local\"\n"}, map[string]string{
		"data/in.csv": "id\n1\n",
		"data/x.csv":  "v\n5\n",
		"pipelines/built.yaml": processorPipeline("built",
			"SELECT (SELECT sum(v) FROM read_csv('data/' || 'x.csv')) AS s"),
	})
	w.MustRun("pipelines/built.yaml")
	if b, _ := os.ReadFile(filepath.Join(w.Root, "out", "built.csv")); strings.TrimSpace(string(b)) != "s\n5" {
		t.Errorf("local run wrote %q", b)
	}
	want := "pipelines/built.yaml:13:14: error[remote-reads-unknown]"
	for _, args := range [][]string{
		{"validate", "--remote", "pipelines/built.yaml"},
		{"run", "pipelines/built.yaml", "--remote", "box"},
	} {
		r := w.Osiris(args...)
		if r.ExitCode != 2 || !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, "read_csv()") {
			t.Errorf("osiris %s: exit %d, want 2 and %q naming read_csv()\n%s", strings.Join(args, " "), r.ExitCode, want, r.Stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(w.Root, ".osiris", "sandboxes")); err == nil {
		t.Error("a sandbox was started for a refused pipeline")
	}
	if r := w.Osiris("validate", "pipelines/built.yaml"); r.ExitCode != 0 {
		t.Errorf("plain validate: exit %d\n%s", r.ExitCode, r.Stderr)
	}
}

// TestParallelDuckDBBranches: fifty runs of a pipeline whose ten
// duckdb.extractor steps open one database file at the same time never
// fail (each session is confined before another can see the shared
// instance).
func TestParallelDuckDBBranches(t *testing.T) {
	var b strings.Builder
	b.WriteString("oml_version: \"0.1.0\"\nname: branches\nsteps:\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, `  - id: b%d
    component: duckdb.extractor
    mode: read
    config:
      connection: "@duckdb.local"
      query: "SELECT count(*) AS n FROM t WHERE id %% 10 = %d"
`, i, i)
	}
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{DuckDB: true, MaxParallel: 10}, map[string]string{
		"data/in.csv": "id\n" + strings.Repeat("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", 100),
		"pipelines/load.yaml": `oml_version: "0.1.0"
name: load
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/in.csv}
  - id: load
    component: duckdb.writer
    mode: write
    needs: [extract]
    config: {connection: "@duckdb.local", table: t, write_mode: replace}
`,
		"pipelines/branches.yaml": b.String(),
	})
	w.MustRun("pipelines/load.yaml")
	failures := 0
	for i := 0; i < 50; i++ {
		r := w.Osiris("--json", "run", "--no-cache", "pipelines/branches.yaml")
		if r.ExitCode != 0 {
			failures++
			t.Errorf("run %d: exit %d\n%s", i+1, r.ExitCode, r.Stderr)
		}
	}
	if failures > 0 {
		t.Errorf("%d of 50 runs failed", failures)
	}
}
