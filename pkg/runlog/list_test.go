package runlog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

func jsonKeys(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The --json schemas of `logs list` and `logs show` are an interface for
// tools: fields may be added, never renamed or dropped. Zeros are written.
func TestJSONSchemasPinned(t *testing.T) {
	f := newFixture(t)
	f.run("orders", "")
	f.setQuery("SELECT nope FROM m")
	f.run("orders", "")
	runs := f.list(Filter{})
	if len(runs) != 2 {
		t.Fatalf("runs %+v", runs)
	}
	wantList := strings.Fields("duration_ms ended failed_step format kind manifest_hash pipeline profile remote rows run_dir run_id slug started status where")
	if got := jsonKeys(t, runs[0]); !reflect.DeepEqual(got, wantList) {
		t.Errorf("logs list --json keys\n got %v\nwant %v", got, wantList)
	}
	failed, err := f.store.Show(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	wantShow := append(append([]string{}, wantList...), "error", "host", "log_tail", "osiris_version", "pid", "steps")
	sort.Strings(wantShow)
	if got := jsonKeys(t, failed); !reflect.DeepEqual(got, wantShow) {
		t.Errorf("logs show --json keys\n got %v\nwant %v", got, wantShow)
	}
	wantStep := strings.Fields("cache component duration_ms ended error id inputs peak_memory_bytes rows_in rows_out started status")
	var shape exec.StepResult
	for _, s := range failed.Steps {
		if s.ID == "shape" {
			shape = s
		}
	}
	if got := jsonKeys(t, shape); !reflect.DeepEqual(got, wantStep) {
		t.Errorf("a failed step's keys\n got %v\nwant %v", got, wantStep)
	}
	if failed.Status != exec.StatusFailed || failed.FailedStep != "shape" || !strings.Contains(failed.Error, "nope") || len(failed.LogTail) == 0 {
		t.Errorf("failed run detail: status %s step %s error %q log tail %d lines", failed.Status, failed.FailedStep, failed.Error, len(failed.LogTail))
	}
	ok, err := f.store.Show(runs[1])
	if err != nil {
		t.Fatal(err)
	}
	if ok.Status != exec.StatusSuccess || ok.Rows != 3 || len(ok.Steps) != 4 || ok.PID != os.Getpid() || ok.Host == "" {
		t.Errorf("successful run detail %+v", ok)
	}
	b, _ := json.Marshal(runs[1])
	for _, want := range []string{`"failed_step":""`, `"remote":false`, `"format":1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("list entry lacks %s: %s", want, b)
		}
	}
}

func TestSelectAndFilters(t *testing.T) {
	f := newFixture(t)
	a := filepath.Base(f.run("orders", ""))
	writeFile(t, filepath.Join(f.root, "pipelines/other.yaml"), strings.Replace(ordersYAML, "name: orders", "name: other", 1))
	b := filepath.Base(f.run("other", ""))
	f.setQuery("SELECT nope FROM m")
	c := filepath.Base(f.run("orders", ""))
	idOf := func(dirName string) string { return strings.SplitN(strings.SplitN(dirName, "_", 2)[1], "-", 2)[0] }

	for _, tc := range []struct{ sel, want string }{
		{"last", idOf(c)}, {"", idOf(c)}, {"last:other", idOf(b)}, {"last:pipelines/orders.yaml", idOf(c)},
		{strings.ToLower(idOf(a)[:20]), idOf(a)}, {idOf(b), idOf(b)},
	} {
		r, _, err := f.store.Select(tc.sel, "", "")
		if err != nil || r.RunID != tc.want {
			t.Errorf("Select(%q) = %s, %v; want %s", tc.sel, r.RunID, err, tc.want)
		}
	}
	if _, _, err := f.store.Select("ZZZZ", "", ""); err == nil || !strings.Contains(err.Error(), "no run matches") {
		t.Errorf("unknown id: %v", err)
	}
	if _, _, err := f.store.Select("0", "", ""); err == nil || !strings.Contains(err.Error(), "matches 3 runs") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	// A run directory copied elsewhere is selectable by its path.
	if r, _, err := f.store.Select(filepath.Join(f.root, "run_logs/dev/other", b), "", ""); err != nil || r.RunID != idOf(b) {
		t.Errorf("select by dir: %s %v", r.RunID, err)
	}

	count := func(flt Filter) int { return len(f.list(flt)) }
	if n := count(Filter{Pipeline: "orders"}); n != 2 {
		t.Errorf("--pipeline orders: %d", n)
	}
	if n := count(Filter{Status: []string{"failed"}}); n != 1 {
		t.Errorf("--status failed: %d", n)
	}
	if n := count(Filter{Limit: 2}); n != 2 {
		t.Errorf("--limit 2: %d", n)
	}
	if n := count(Filter{Since: time.Now().Add(time.Hour)}); n != 0 {
		t.Errorf("--since the future: %d", n)
	}
	if n := count(Filter{Kind: "compile"}); n != 0 {
		t.Errorf("--kind compile: %d", n)
	}
	if err := (Filter{Status: []string{"nope"}}).Validate(); err == nil {
		t.Error("--status nope accepted")
	}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{"2d": now.Add(-48 * time.Hour), "90m": now.Add(-90 * time.Minute), "2026-11-01": time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)} {
		if got, err := ParseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSince("yesterday", now); err == nil {
		t.Error("ParseSince(yesterday) accepted")
	}
}

// The index is a cache of the run directories: deleted or damaged, it is
// rebuilt (and the caller told so), and the list is the same.
func TestIndexRebuiltGivesSameList(t *testing.T) {
	f := newFixture(t)
	f.run("orders", "")
	f.setQuery("SELECT nope FROM m")
	f.run("orders", "")
	f.run("orders", "extract-movies")
	before := f.list(Filter{})
	if len(before) != 3 {
		t.Fatalf("%d runs", len(before))
	}
	idx := exec.IndexPath(f.store.StateDir)
	if err := os.Remove(idx); err != nil {
		t.Fatal(err)
	}
	after, notice, err := f.store.List(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(notice), "missing") || !strings.Contains(string(notice), "rebuilt it from 3 run directories") {
		t.Errorf("notice %q", notice)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("after a rebuild\n got %+v\nwant %+v", after, before)
	}
	if _, notice, _ := f.store.List(Filter{}); notice != "" {
		t.Errorf("second list rebuilt again: %q", notice)
	}

	// A torn line in the middle (a crash, then more appends): damaged.
	b, _ := os.ReadFile(idx)
	lines := strings.SplitAfter(string(b), "\n")
	torn := strings.Join(lines[:2], "") + `{"format":1,"kind":"sta` + "\n" + strings.Join(lines[2:], "")
	if err := os.WriteFile(idx, []byte(torn), 0o644); err != nil {
		t.Fatal(err)
	}
	after, notice, err = f.store.List(Filter{})
	if err != nil || !strings.Contains(string(notice), "damaged") || !reflect.DeepEqual(before, after) {
		t.Errorf("damaged index: notice %q err %v, same list %v", notice, err, reflect.DeepEqual(before, after))
	}

	// Deleted, then a new run appended to a fresh index: the runs the new
	// index does not know come back (here already when the run wrote its
	// report and listed the runs for index.html).
	os.Remove(idx)
	f.run("orders", "")
	after, _, err = f.store.List(Filter{})
	if err != nil || len(after) != 4 {
		t.Errorf("restarted index: %d runs, %v", len(after), err)
	}
	if b, _ := os.ReadFile(idx); !strings.HasPrefix(string(b), `{"kind":"header"`) {
		t.Errorf("the restarted index was not rebuilt:\n%s", b)
	}
	if st := []string{after[1].Status, after[2].Status, after[3].Status}; !reflect.DeepEqual(st, []string{"cancelled", "failed", "success"}) {
		t.Errorf("statuses after rebuild %v", st)
	}
}
