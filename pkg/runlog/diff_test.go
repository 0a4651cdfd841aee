package runlog

import (
	"strings"
	"testing"
)

// Two runs of a pipeline whose query changed: the diff names the changed
// step, its row delta and its schema change, and nothing else.
func TestDiffNamesStepRowsAndSchema(t *testing.T) {
	f := newFixture(t)
	f.run("orders", "")
	// One row fewer, `note` dropped, `id` doubled into a new column.
	f.setQuery("SELECT m.id, m.title, m.id * 2 AS id2 FROM m JOIN n USING (id) WHERE m.id > 1 ORDER BY m.id")
	f.run("orders", "")
	runs := f.list(Filter{})
	d, err := f.store.DiffRuns(runs[1], runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !d.ManifestChanged || d.RowsDelta != -1 || d.Unchanged != 2 {
		t.Errorf("diff header: manifest changed %v, rows delta %d, unchanged %d", d.ManifestChanged, d.RowsDelta, d.Unchanged)
	}
	byStep := map[string]StepDiff{}
	for _, s := range d.Steps {
		byStep[s.Step] = s
	}
	shape, ok := byStep["shape"]
	if !ok {
		t.Fatalf("the changed step is not named: %+v", d.Steps)
	}
	for _, c := range []string{"config", "rows", "schema", "digest"} {
		if !shape.Has(c) {
			t.Errorf("shape: changes %v lack %s", shape.Changes, c)
		}
	}
	if shape.RowsA != 3 || shape.RowsB != 2 || shape.RowsDelta != -1 {
		t.Errorf("shape rows %d → %d (%+d)", shape.RowsA, shape.RowsB, shape.RowsDelta)
	}
	if len(shape.ColumnsAdded) != 1 || shape.ColumnsAdded[0].Name != "id2" || len(shape.ColumnsRemoved) != 1 || shape.ColumnsRemoved[0].Name != "note" {
		t.Errorf("schema change: added %+v removed %+v", shape.ColumnsAdded, shape.ColumnsRemoved)
	}
	if len(shape.ConfigKeys) != 1 || shape.ConfigKeys[0] != "query" {
		t.Errorf("config keys %v", shape.ConfigKeys)
	}
	sum := shape.Summary()
	for _, want := range []string{"rows -1 (3 → 2)", "+id2 (int64)", "-note (utf8)", "config [query]"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary %q lacks %q", sum, want)
		}
	}
	// The writer downstream changed rows only; the extracts did not change.
	if w := byStep["write-out"]; !w.Has("rows") || w.Has("schema") || w.Has("config") {
		t.Errorf("write-out changes %v", w.Changes)
	}
	for _, id := range []string{"extract-movies", "extract-more"} {
		if _, ok := byStep[id]; ok {
			t.Errorf("unchanged step %s listed", id)
		}
	}
	// Previous finds the earlier run of the same pipeline.
	if p, ok, err := f.store.Previous(runs[0]); err != nil || !ok || p.RunID != runs[1].RunID {
		t.Errorf("Previous = %s %v %v", p.RunID, ok, err)
	}
	if _, ok, _ := f.store.Previous(runs[1]); ok {
		t.Error("the first run has a previous run")
	}
}
