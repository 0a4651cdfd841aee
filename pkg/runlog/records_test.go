package runlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/exec"
)

// A 1 MB text value is cut in the preview, with its full length shown,
// and the report stays small; a run with a huge event stream still makes
// a report under MaxReportBytes, saying what it left out.
func TestReportBounded(t *testing.T) {
	f := newFixture(t)
	big := strings.Repeat("x", 1<<20)
	writeFile(t, filepath.Join(f.root, "data/big.csv"), "id,body\n1,"+big+"\n2,short\n")
	writeFile(t, filepath.Join(f.root, "pipelines/big.yaml"), `oml_version: "0.1.0"
name: big
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/big.csv
`)
	dir := f.run("big", "")
	html := readText(t, filepath.Join(dir, ReportFile))
	if len(html) > 200_000 {
		t.Errorf("report of a 1 MB value is %d bytes", len(html))
	}
	if !strings.Contains(html, fmt.Sprintf("%d characters in all", 1<<20)) || !strings.Contains(html, strings.Repeat("x", PreviewCellChars)) {
		t.Error("the cut value does not show its first characters and its full length")
	}
	if strings.Contains(html, strings.Repeat("x", PreviewCellChars+1)) {
		t.Errorf("a value is longer than %d characters", PreviewCellChars)
	}

	// 30,000 events of 2 KB each: 60 MB of events.
	ev, err := os.OpenFile(filepath.Join(dir, "events.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("y", 2000)
	for i := 0; i < 30000; i++ {
		fmt.Fprintf(ev, `{"v":1,"seq":%d,"ts":"2026-11-29T12:00:00.000Z","run_id":"x","event":"step_progress","step":"extract","note":"%s"}`+"\n", 100+i, pad)
	}
	ev.Close()
	if err := f.store.WriteRunReport(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= MaxReportBytes {
		t.Errorf("report of a run with 60 MB of events is %d bytes, want < %d", fi.Size(), MaxReportBytes)
	}
	html = readText(t, filepath.Join(dir, ReportFile))
	if !strings.Contains(html, "events in the middle left out") {
		t.Error("the report does not say it left events out")
	}
}

// One damaged run (status.json cut short) does not stop `logs html`: every
// report is written, the damaged run's from its events, with the damage
// shown; the index lists it, also after a rebuild. A garbage line in
// events.jsonl is reported, not silently skipped. A run directory that
// cannot be read at all is named, not dropped without a word.
func TestDamagedRunsAreShownAndReported(t *testing.T) {
	f := newFixture(t)
	var dirs []string
	for i := 0; i < 3; i++ {
		dirs = append(dirs, f.run("orders", ""))
	}
	// A truncated status.json.
	st := filepath.Join(dirs[1], "status.json")
	b, _ := os.ReadFile(st)
	os.WriteFile(st, b[:len(b)/2], 0o644)
	// A garbage line in the middle of events.jsonl.
	evp := filepath.Join(dirs[2], "events.jsonl")
	evb, _ := os.ReadFile(evp)
	lines := strings.SplitAfter(string(evb), "\n")
	lines = append(lines[:3], append([]string{"this is not json\n"}, lines[3:]...)...)
	os.WriteFile(evp, []byte(strings.Join(lines, "")), 0o644)

	n, problems, _, err := f.store.WriteSite(context.Background())
	if err != nil || n != 3 || len(problems) != 0 {
		t.Fatalf("WriteSite = %d reports, problems %v, %v; want 3 and none", n, problems, err)
	}
	damaged := readText(t, filepath.Join(dirs[1], ReportFile))
	if !strings.Contains(damaged, `id="problems"`) || !strings.Contains(damaged, "status.json is damaged") || !strings.Contains(damaged, `data-status="success"`) {
		t.Error("the damaged run's report does not show its steps from the events and the damage")
	}
	if !strings.Contains(readText(t, filepath.Join(dirs[2], ReportFile)), "events.jsonl: 1 line that do not parse were skipped (line 4)") {
		t.Error("the garbage events line is not reported")
	}
	_, notice, err := f.store.Events(mustRunFromDir(t, f.store, dirs[2]), "")
	if err != nil || !strings.Contains(string(notice), "line 4") {
		t.Errorf("Events notice %q, %v", notice, err)
	}

	// A rebuilt index keeps the damaged run, with its outcome from the events.
	os.Remove(exec.IndexPath(f.store.StateDir))
	runs := f.list(Filter{})
	if len(runs) != 3 {
		t.Fatalf("after a rebuild %d runs listed, want 3", len(runs))
	}
	for _, r := range runs {
		if r.Status != exec.StatusSuccess {
			t.Errorf("run %s is %s after a rebuild", r.RunID, r.Status)
		}
	}

	// A run directory with nothing readable: still no stop, and named.
	os.WriteFile(filepath.Join(dirs[0], "status.json"), []byte("{"), 0o644)
	os.WriteFile(filepath.Join(dirs[0], "events.jsonl"), []byte("garbage\n"), 0o644)
	n, problems, _, err = f.store.WriteSite(context.Background())
	if err != nil || n != 2 || len(problems) != 1 || !strings.Contains(problems[0], filepath.Base(dirs[0])) {
		t.Errorf("WriteSite with an unreadable run = %d, %v, %v", n, problems, err)
	}
	if _, err := os.Stat(f.store.IndexHTMLPath()); err != nil {
		t.Error("index.html not written")
	}
	os.Remove(exec.IndexPath(f.store.StateDir))
	_, notice2, err := f.store.List(Filter{})
	if err != nil || !strings.Contains(string(notice2), "left out 1 run directory that cannot be read") || !strings.Contains(string(notice2), filepath.Base(dirs[0])) {
		t.Errorf("rebuild notice %q, %v", notice2, err)
	}
}

// Five runs started in one millisecond share their first ten characters;
// each short id shown is unique (lengthened as git does) and selects its
// run again.
func TestShortIDsUnique(t *testing.T) {
	f := newFixture(t)
	m, ds := compile.Compile(compile.FromWorkspace(f.ws), filepath.Join(f.root, "pipelines", "orders.yaml"), compile.Options{Profile: "dev"})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	at := time.Now()
	ids := []string{"01M95N9DJ9AAAAAAAAAAAAAAAA", "01M95N9DJ9AAAAAAAAAAAAAAAB", "01M95N9DJ9B000000000000000", "01M95N9DJ9C000000000000000", "01M95N9DJ9CZ00000000000000"}
	for _, id := range ids {
		rec, err := exec.StartRecorder(exec.RecorderOptions{RunLogsDir: filepath.Join(f.root, "run_logs"), StateDir: filepath.Join(f.root, ".osiris"),
			WorkspaceRoot: f.root, Manifest: m, Masker: f.ws.Masker, RunID: id, Started: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Finish(&exec.Result{Status: exec.StatusSuccess}, nil); err != nil {
			t.Fatal(err)
		}
	}
	runs := f.list(Filter{})
	seen := map[string]bool{}
	for _, r := range runs {
		s := r.Short()
		if seen[s] {
			t.Errorf("short id %s shown twice", s)
		}
		seen[s] = true
		got, _, err := f.store.Select(s, "", "")
		if err != nil || got.RunID != r.RunID {
			t.Errorf("Select(%s) = %s, %v; want %s", s, got.RunID, err, r.RunID)
		}
	}
	want := map[string]bool{"01M95N9DJ9AAAAAAAAAAAAAAAA": true, "01M95N9DJ9AAAAAAAAAAAAAAAB": true, "01M95N9DJ9B": true, "01M95N9DJ9C0": true, "01M95N9DJ9CZ": true}
	for s := range seen {
		if !want[s] {
			t.Errorf("short id %s; want the shortest unique prefixes %v", s, want)
		}
	}
}

// Floats print in plain decimals, binary values as their size and first
// bytes in hex, and a struct column whose nulls the file does not count
// says "unknown" (not "nullable").
func TestPreviewValuesForPeople(t *testing.T) {
	f := newFixture(t)
	f.setQuery(`SELECT 60343555.48::DOUBLE AS amount, '\xAA\xBB\xCC'::BLOB AS raw, struct_pack(a := m.id, b := m.title) AS pair FROM m JOIN n USING (id) ORDER BY m.id`)
	dir := f.run("orders", "")
	html := readText(t, filepath.Join(dir, ReportFile))
	sec := html[strings.Index(html, `<section class="artifact" data-step="shape">`):]
	sec = sec[:strings.Index(sec, "</section>")]
	for _, want := range []string{"<td>60343555.48</td>", `3 bytes:</span> <span class="mono">aabbcc</span>`, "unknown"} {
		if !strings.Contains(sec, want) {
			t.Errorf("shape's preview lacks %s:\n%s", want, sec)
		}
	}
	for _, bad := range []string{"e+07", `class="num">nullable`} {
		if strings.Contains(sec, bad) {
			t.Errorf("shape's preview shows %q:\n%s", bad, sec)
		}
	}
}

// With several writers the header's rows say what they add up: the same
// rows written twice are not twice the data.
func TestHeaderRowsOfSeveralWriters(t *testing.T) {
	f := newFixture(t)
	y := ordersYAML + `  - id: write-again
    component: filesystem.csv_writer
    mode: write
    needs: [shape]
    config:
      path: output/again.csv
`
	writeFile(t, filepath.Join(f.root, "pipelines/orders.yaml"), y)
	dir := f.run("orders", "")
	html := readText(t, filepath.Join(dir, ReportFile))
	if !strings.Contains(html, `id="run-rows">6</b>`) || !strings.Contains(html, "3 rows written by each of 2 writers") {
		i := strings.Index(html, `id="run-rows"`)
		t.Errorf("header rows: %s", html[i:min(len(html), i+200)])
	}
}
