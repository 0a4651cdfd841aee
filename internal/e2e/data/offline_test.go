package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// The example `osiris init` scaffolds runs with no database at all and
// leaves every artifact, the DuckDB table and the parquet file, with the
// run recorded in the index.
func TestOfflineExample(t *testing.T) {
	t.Parallel()
	// `osiris init DIR` through the binary, into a temp dir.
	parent := e2e.NewWorkspace(t, nil)
	if r := parent.Osiris("init", "demo"); r.ExitCode != 0 {
		t.Fatalf("osiris init: exit %d\n%s\n%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	// Workspace's fields are unexported but for Root and Env: reuse the
	// harness by pointing a fresh one at the scaffolded directory.
	w := e2e.NewWorkspace(t, nil)
	w.Root = filepath.Join(parent.Root, "demo")

	runDir, st := runOK(t, w, "pipelines/movies_offline.yaml")

	// A parquet artifact per non-writer step, equal to what status.json says.
	wantRows := map[string]int64{"extract-movies": 240, "extract-directors": 20, "director-stats": 20}
	for step, rows := range wantRows {
		a := checkArtifact(t, runDir, st, step)
		if a.Rows != rows {
			t.Errorf("step %s: %d rows, want %d", step, a.Rows, rows)
		}
	}
	entries, err := os.ReadDir(filepath.Join(runDir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		dirs = append(dirs, e.Name())
	}
	if strings.Join(dirs, ",") != "director-stats,extract-directors,extract-movies" {
		t.Errorf("artifacts/ holds %v, want one directory per non-writer step", dirs)
	}
	for _, step := range []string{"write-warehouse", "write-parquet"} {
		s := st.Step(t, step)
		if s.Artifact != nil {
			t.Errorf("writer %s has an artifact %s", step, s.Artifact.Path)
		}
		if s.RowsOut != 20 || s.Status != osexec.StatusSuccess {
			t.Errorf("writer %s: %s, %d rows out; want success, 20", step, s.Status, s.RowsOut)
		}
	}

	// warehouse.duckdb holds director_stats with the expected rows: the
	// directors with at least 5 movies, computed here from the CSVs by
	// DuckDB itself as an independent oracle.
	got := duckRows(t, filepath.Join(w.Root, "warehouse.duckdb"),
		`SELECT director_id, director_name, nationality, movie_count, avg_runtime::VARCHAR, box_office_usd::VARCHAR FROM director_stats`)
	oracle := duckRows(t, "", `
		SELECT d.director_id, d.name, d.nationality, COUNT(*), CAST(AVG(m.runtime_minutes) AS DECIMAL(6,1))::VARCHAR, SUM(m.box_office_usd)::VARCHAR
		FROM read_csv('`+filepath.Join(w.Root, "data", "movies.csv")+`') m
		JOIN read_csv('`+filepath.Join(w.Root, "data", "directors.csv")+`') d ON m.director_id = d.director_id
		GROUP BY ALL HAVING COUNT(*) >= 5`)
	if len(got) != 20 || !equalRows(got, oracle) {
		t.Errorf("warehouse.duckdb director_stats: %s", diffRows(got, oracle))
	}

	// output/director_stats.parquet is the same table.
	out := filepath.Join(w.Root, "output", "director_stats.parquet")
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	d, n := parquetDigest(t, out)
	if n != 20 || d != st.Step(t, "director-stats").Artifact.TableDigest {
		t.Errorf("output/director_stats.parquet: %d rows, digest %s; want 20 rows, the director-stats digest", n, d)
	}

	// The run is in the index: a start line and an end line, in that order.
	checkIndexLines(t, w.Root, st.RunID, osexec.StatusSuccess)
}

// checkIndexLines asserts that .osiris/index/runs.jsonl holds exactly one
// start line and then one end line (with status) for runID.
func checkIndexLines(t *testing.T, root, runID, status string) {
	t.Helper()
	b, err := os.ReadFile(osexec.IndexPath(filepath.Join(root, ".osiris")))
	if err != nil {
		t.Fatalf("run index: %v", err)
	}
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r osexec.IndexedRun
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("run index line %q: %v", line, err)
		}
		if r.RunID != runID {
			continue
		}
		kinds = append(kinds, r.Kind)
		if r.Kind == "end" && r.Status != status {
			t.Errorf("index end line: status %q, want %q", r.Status, status)
		}
	}
	if strings.Join(kinds, ",") != "start,end" {
		t.Errorf("index lines of run %s: %v, want [start end]", runID, kinds)
	}
}
