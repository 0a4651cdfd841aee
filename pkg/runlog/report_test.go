package runlog

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The pages are written from the run directory alone: a data value
// `<script>` is escaped, no secret canary appears, nothing is loaded from
// elsewhere, and the report of a copied run directory is the same page.
func TestReportEscapedMaskedSelfContained(t *testing.T) {
	f := newFixture(t)
	ok := f.run("orders", "")
	// The failing step's error quotes a data value that holds the canary.
	f.setQuery("SELECT CAST(note AS INTEGER) AS n FROM m WHERE id = 3")
	bad := f.run("orders", "")
	ctx := context.Background()
	for _, d := range []string{ok, bad} {
		if err := f.store.WriteRunReport(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	okHTML := readText(t, filepath.Join(ok, ReportFile))
	if !strings.Contains(okHTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the <script> value is not shown escaped in the data preview")
	}
	if n := strings.Count(okHTML, "<script"); n != 1 {
		t.Errorf("%d script elements; want only the page's own", n)
	}
	for _, bad := range []string{"http://", "https://", "<link", "@import", "src="} {
		if strings.Contains(okHTML, bad) {
			t.Errorf("report refers to something outside itself: %q", bad)
		}
	}
	badHTML := readText(t, filepath.Join(bad, ReportFile))
	if !strings.Contains(badHTML, `id="error-text"`) || !strings.Contains(badHTML, "Conversion Error") || !strings.Contains(badHTML, "token ***") {
		t.Error("the failed run's report does not show the error, with the data value masked")
	}
	// No HTML file anywhere holds the canary (it is in the data and in
	// the failing step's error).
	filepath.WalkDir(f.root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".html") && strings.Contains(readText(t, p), canary) {
			t.Errorf("%s shows the secret canary", p)
		}
		return nil
	})
	// Copied elsewhere, the run directory's report is still whole.
	dst := filepath.Join(t.TempDir(), "copied")
	copyDir(t, ok, dst)
	if err := f.store.WriteReport(ctx, mustRunFromDir(t, f.store, dst)); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, filepath.Join(dst, ReportFile)); !strings.Contains(got, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(got, `id="dag"`) {
		t.Error("the report of a copied run directory lacks its data or DAG")
	}
	idx := readText(t, f.store.IndexHTMLPath())
	if strings.Count(idx, `data-run="`) != 2 || !strings.Contains(idx, `href="dev/orders/`) {
		t.Errorf("index.html does not list both runs with links:\n%s", idx)
	}
}

func readText(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustRunFromDir(t *testing.T, s *Store, dir string) Run {
	t.Helper()
	r, ok := s.runFromDir(dir)
	if !ok {
		t.Fatalf("%s is not a run directory", dir)
	}
	return r
}

// A remote run's sync figures (sync_complete, artifacts_fetched) are shown.
func TestReportShowsSandboxSync(t *testing.T) {
	f := newFixture(t)
	dir := f.run("orders", "")
	ev, err := os.OpenFile(filepath.Join(dir, "events.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev.WriteString(`{"v":1,"seq":90,"ts":"2026-11-29T12:00:00.000Z","run_id":"x","event":"sync_complete","bytes_skipped":1048576,"bytes_uploaded":2048,"files":3}` + "\n")
	ev.WriteString(`{"v":1,"seq":91,"ts":"2026-11-29T12:00:01.000Z","run_id":"x","event":"artifacts_fetched","blobs":2,"bytes":5000}` + "\n")
	ev.Close()
	if err := f.store.WriteRunReport(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	html := readText(t, filepath.Join(dir, ReportFile))
	for _, want := range []string{`<h2>Sandbox`, `data-event="sync_complete"`, `1.0 MiB (1048576)`, `2.0 KiB (2048)`, `data-event="artifacts_fetched"`, `4.9 KiB (5000)`} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %s", want)
		}
	}
}
