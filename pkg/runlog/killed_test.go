package runlog

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/workspace"
)

// slowYAML: extract-movies finishes, extract-fifo blocks opening a FIFO
// nobody writes (a step that runs until the process is killed), and the
// two steps after it never start.
const slowYAML = `oml_version: "0.1.0"
name: slow
steps:
  - id: extract-movies
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/movies.csv
  - id: extract-fifo
    component: filesystem.csv_extractor
    mode: read
    needs: [extract-movies]
    config:
      path: data/fifo.csv
  - id: shape
    component: duckdb.processor
    mode: transform
    inputs:
      m: "${extract-movies.df}"
      n: "${extract-fifo.df}"
    config:
      query: SELECT m.id FROM m JOIN n USING (id)
  - id: write-out
    component: filesystem.csv_writer
    mode: write
    needs: [shape]
    config:
      path: output/slow.csv
`

// fifoRun is the helper process: `osiris run` of pipelines/slow.yaml as
// cmd/osiris does it (the real engine, recorder and live report), which
// then blocks in extract-fifo until it is killed.
func fifoRun(root string) {
	ws, err := workspace.LoadWithEnv(root, []string{"REPORT_API_TOKEN=" + canary, "PATH=" + os.Getenv("PATH")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	m, ds := compile.Compile(compile.FromWorkspace(ws), filepath.Join(root, "pipelines", "slow.yaml"), compile.Options{Profile: "dev"})
	if ds.HasErrors() {
		fmt.Fprintln(os.Stderr, ds)
		os.Exit(3)
	}
	rec, err := exec.StartRecorder(exec.RecorderOptions{
		RunLogsDir: filepath.Join(root, "run_logs"), StateDir: filepath.Join(root, ".osiris"),
		WorkspaceRoot: root, Manifest: m, Masker: ws.Masker,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	live := ForWorkspace(ws).StartLiveReport(rec.Dir())
	fmt.Println(rec.Dir())
	(&exec.Engine{Options: exec.Options{MaxParallel: 1, MemoryBudget: -1}}).Run(context.Background(), m, exec.RunEnv{
		RunID: rec.RunID(), RunDir: rec.Dir(), Files: ws.Files,
		Connect: func(ctx context.Context, ref, family string) (*workspace.Connection, error) {
			return ws.ResolveConnection(ref, family)
		},
		Sink: exec.MultiSink{rec.Sink(), live}, Masker: ws.Masker, Log: rec.Logger(),
	})
	os.Exit(4) // not reached: the FIFO blocks until the test kills us
}

// waitFor polls cond until it holds (the helper run moves on its own
// time); it fails the test after a generous minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("waited a minute for %s", what)
}

// A run still going has a report from its start that shows the running
// step with its time so far, and the index lists it; once its process is
// SIGKILLed midway its report shows real durations, which steps finished,
// which was killed while running and which never started, under a banner;
// nothing calls it "errors 0" or draws an empty timeline. Screenshots of
// both, at 1400 and 420 px, go to the test output folder.
func TestLiveAndKilledRunReports(t *testing.T) {
	bin := chromiumPath(t)
	f := newFixture(t)
	writeFile(t, filepath.Join(f.root, "pipelines/slow.yaml"), slowYAML)
	if err := syscall.Mkfifo(filepath.Join(f.root, "data/fifo.csv"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.run("orders", "") // an earlier run of another pipeline, for the index

	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RUNLOG_TEST_FIFO_RUN="+f.root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper run did not start: %v", err)
	}
	dir := strings.TrimSpace(line)
	report := filepath.Join(dir, ReportFile)
	waitFor(t, "the live report to show extract-fifo running", func() bool {
		b, _ := os.ReadFile(report)
		return strings.Contains(string(b), `data-step="extract-fifo" data-status="running"`) && strings.Contains(string(b), `data-step="extract-movies" data-status="success"`)
	})
	r := mustRunFromDir(t, f.store, dir)
	d, err := f.store.Show(r)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"extract-movies": exec.StatusSuccess, "extract-fifo": exec.StatusRunning, "shape": exec.StatusPending, "write-out": exec.StatusPending}
	for _, s := range d.Steps {
		if want[s.ID] != s.Status {
			t.Errorf("live run: step %s is %s, want %s", s.ID, s.Status, want[s.ID])
		}
	}
	// The index follows within a few seconds (it is rewritten less often
	// than the report).
	waitFor(t, "index.html to list the running run in extract-fifo", func() bool {
		b, _ := os.ReadFile(f.store.IndexHTMLPath())
		return strings.Contains(string(b), `data-status="running"`) && strings.Contains(string(b), "running extract-fifo")
	})

	browser := startBrowser(t, bin)
	shots := screenshotDir(t)
	t.Logf("screenshots in %s", shots)
	for _, w := range widths {
		t.Run(fmt.Sprintf("running-%d", w), func(t *testing.T) {
			p, done := openWidth(t, browser, "file://"+report, w)
			defer done(filepath.Join(shots, fmt.Sprintf("report-running-%dpx.png", w)))
			p.shows("#run-status", "running")
			p.shows("#banner", "still going")
			p.shows("#banner", "extract-fifo")
			p.is("the running step's row", `document.querySelector('#steps tr[data-step="extract-fifo"]').dataset.status === 'running'`)
			p.is("a timeline bar for the running step", `document.querySelector('#timeline g[data-step="extract-fifo"] rect.bar.running') !== null`)
			p.is("the page reloads itself", `document.querySelector('meta[http-equiv="refresh"]') !== null`)
			p.fits("running report")
		})
		t.Run(fmt.Sprintf("index-running-%d", w), func(t *testing.T) {
			p, done := openWidth(t, browser, "file://"+f.store.IndexHTMLPath(), w)
			defer done(filepath.Join(shots, fmt.Sprintf("index-running-%dpx.png", w)))
			p.is("the running run is listed with what it does", `(function(){var tr=document.querySelector('#runs tr[data-status="running"]'); return tr !== null && tr.querySelector('td.live').textContent.includes('extract-fifo')})()`)
			p.fits("index")
		})
	}

	// The same pages through `logs serve` (loopback): the running run's
	// report reloads itself, under the server's CSP header too.
	srv := httptest.NewServer(f.store.Handler())
	defer srv.Close()
	rel, _ := filepath.Rel(f.store.RunLogsDir, report)
	t.Run("served", func(t *testing.T) {
		p, done := openWidth(t, browser, srv.URL+"/"+filepath.ToSlash(rel), 1400)
		defer done(filepath.Join(shots, "report-running-served.png"))
		p.shows("#run-status", "running")
		p.is("the page reloads itself", `document.querySelector('meta[http-equiv="refresh"]') !== null`)
	})
	t.Run("served-index", func(t *testing.T) {
		p, done := openWidth(t, browser, srv.URL+"/", 1400)
		defer done(filepath.Join(shots, "index-running-served.png"))
		p.is("the running run is listed", `document.querySelector('#runs tr[data-status="running"]') !== null`)
		p.is("and links to its report", `document.querySelector('#runs tr[data-status="running"] a') !== null`)
	})

	// SIGKILL midway.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// Any later index write (another run's end, `logs html`, `logs serve`)
	// replaces the report the killed run left saying "running".
	if err := f.store.WriteIndexHTML(); err != nil {
		t.Fatal(err)
	}
	html := readText(t, report)
	if strings.Contains(html, `http-equiv="refresh"`) || !strings.Contains(html, `id="banner"`) {
		t.Fatal("the killed run's report still says it is running")
	}
	r = mustRunFromDir(t, f.store, dir)
	d, err = f.store.Show(r)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"extract-movies": exec.StatusSuccess, "extract-fifo": exec.StatusKilled, "shape": StatusNotStarted, "write-out": StatusNotStarted}
	for _, s := range d.Steps {
		if want[s.ID] != s.Status {
			t.Errorf("killed run: step %s is %s, want %s", s.ID, s.Status, want[s.ID])
		}
	}
	if d.Status != exec.StatusKilled || d.DurationMs <= 0 || d.Ended == "" {
		t.Errorf("killed run: status %s, duration %d ms, ended %q; want killed with its real duration", d.Status, d.DurationMs, d.Ended)
	}
	for _, w := range widths {
		t.Run(fmt.Sprintf("killed-%d", w), func(t *testing.T) {
			p, done := openWidth(t, browser, "file://"+report, w)
			defer done(filepath.Join(shots, fmt.Sprintf("report-killed-%dpx.png", w)))
			p.shows("#run-status", "killed")
			p.shows("#banner", "was killed")
			p.shows("#banner", "1 of 4 steps finished")
			p.is("errors counts the killed step", `document.getElementById('run-errors').textContent !== '0'`)
			p.shows("#error", "extract-fifo")
			p.is("finished, killed and never started steps", `['extract-movies:success','extract-fifo:killed','shape:not_started','write-out:not_started'].every(function(x){var p=x.split(':'); return document.querySelector('#steps tr[data-step="'+p[0]+'"]').dataset.status === p[1]})`)
			p.is("timeline bars for the two steps that ran, none for the others", `document.querySelectorAll('#timeline rect.bar').length === 4 && Array.from(document.querySelectorAll('#timeline rect.bar')).filter(r => r.getAttribute('width') !== '0.0').length === 2`)
			p.is("the timeline's last tick is not 0 ms", `!/^0 ms$/.test(Array.from(document.querySelectorAll('#timeline text')).pop().textContent)`)
			p.is("the run's duration is not 0 ms", `!document.getElementById('header').textContent.includes('duration 0 ms')`)
			p.fits("killed report")
		})
	}
}
