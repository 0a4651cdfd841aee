package runlog

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/osiris-go/osiris/internal/testenv"
)

// chromiumPath finds Debian's chromium (CI installs it with apt-get).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, c := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := osexec.LookPath(c); err == nil {
			return p
		}
	}
	testenv.Need(t, "Chromium for the HTML report tests (apt-get install chromium)")
	return ""
}

// tab is one page of the shared headless browser, with what the browser
// reported while it loaded and was used.
type tab struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	url      string
	requests []string // every URL the page asked for
	problems []string // console errors and warnings, exceptions, log errors (CSP …)
	dialogs  []string // alert(), confirm() … (a script that ran)
}

func (v *tab) listen(ev any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		v.requests = append(v.requests, e.Request.URL)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			v.problems = append(v.problems, fmt.Sprintf("console.%s %s", e.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		v.problems = append(v.problems, "exception: "+e.ExceptionDetails.Text)
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
			v.problems = append(v.problems, fmt.Sprintf("log %s: %s", e.Entry.Source, e.Entry.Text))
		}
	case *page.EventJavascriptDialogOpening:
		v.dialogs = append(v.dialogs, e.Message)
		go chromedp.Call(v.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
	}
}

// open loads file://path in a new tab and fails the test on any problem the
// page reports; done (deferred) saves a full-page screenshot as shot and
// checks that no request left the page and no script opened a dialog.
func open(t *testing.T, browser context.Context, path string) (*tab, func(shot string)) {
	t.Helper()
	return openWidth(t, browser, "file://"+path, 0)
}

// openWidth is open of a URL in a viewport width px wide (0: the
// window's).
func openWidth(t *testing.T, browser context.Context, url string, width int64) (*tab, func(shot string)) {
	t.Helper()
	path := url
	v := &tab{t: t, url: url}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithListener(v.listen))
	v.ctx = ctx
	tctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	v.ctx = tctx
	if _, err := chromedp.Call(tctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network.enable: %v", err)
	}
	if _, err := chromedp.Call(tctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("log.enable: %v", err)
	}
	if width > 0 {
		if err := chromedp.Do(tctx, chromedp.EmulateViewport(width, 900)); err != nil {
			t.Fatalf("viewport %d: %v", width, err)
		}
	}
	if err := chromedp.Do(tctx, chromedp.Navigate(v.url), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	return v, func(shot string) {
		t.Helper()
		defer cancel()
		defer cancelT()
		png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)) // quality 100: PNG (below 100: JPEG)
		if err != nil {
			t.Errorf("screenshot: %v", err)
		} else if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Error(err)
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, u := range v.requests {
			if u != v.url {
				t.Errorf("%s made a request for %s", filepath.Base(shot), u)
			}
		}
		for _, p := range v.problems {
			t.Errorf("%s: %s", filepath.Base(shot), p)
		}
		for _, d := range v.dialogs {
			t.Errorf("%s: a script opened a dialog: %q", filepath.Base(shot), d)
		}
	}
}

// fits checks that nothing on the page is wider than the viewport: the
// page does not scroll sideways, and every element outside a scrolling
// box (the DAG, the tables) ends inside the viewport.
func (v *tab) fits(what string) {
	v.t.Helper()
	v.is(what+": the page does not scroll sideways", `document.documentElement.scrollWidth <= window.innerWidth`)
	v.is(what+": no element wider than the viewport", `Array.from(document.body.querySelectorAll('*')).filter(e => !e.closest('.scroll') && !e.closest('svg') && !e.hidden && e.getClientRects().length > 0).every(e => { const r = e.getBoundingClientRect(); return r.left >= -1 && r.right <= window.innerWidth + 1 })`)
}

// is evaluates a JS expression that must be true.
func (v *tab) is(what, expr string) {
	v.t.Helper()
	ok, err := chromedp.Run(v.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		v.t.Errorf("%s: %v", what, err)
		return
	}
	if !ok {
		v.t.Errorf("%s: %s is false", what, expr)
	}
}

// do evaluates a JS statement (a user's action: picking a filter).
func (v *tab) do(js string) {
	v.t.Helper()
	if err := chromedp.Do(v.ctx, chromedp.Evaluate[chromedp.Void](js)); err != nil {
		v.t.Errorf("%s: %v", js, err)
	}
}

// shows checks that the element sel is visible and its text holds want.
func (v *tab) shows(sel, want string) {
	v.t.Helper()
	got, err := chromedp.Run(v.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		v.t.Errorf("%s: %v", sel, err)
		return
	}
	if !strings.Contains(got, want) {
		v.t.Errorf("%s shows %q, want %q in it", sel, got, want)
	}
}

// startBrowser starts headless Chromium for the test.
func startBrowser(t *testing.T, bin string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
	}
	alloc, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	browser, cancelB := chromedp.NewContext(alloc)
	t.Cleanup(cancelB)
	if _, err := chromedp.Run(browser, chromedp.Evaluate[int]("1")); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	return browser
}

// widths are the viewports every page is tested at: a laptop and a phone.
var widths = []int64{1400, 420}

// screenshotDir is $TEST_OUTPUT when set (CI keeps it), else the test's
// artifact directory (kept with `go test -artifacts`).
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("TEST_OUTPUT"); d != "" {
		d = filepath.Join(d, t.Name())
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

// Headless Chromium opens index.html and the reports of a successful, a
// failed and a cancelled run from disk, as a user would: the DOM shows the
// steps, statuses, error, previews and DAG; nothing goes to the network;
// no console error; the data value `<script>` is shown, not run.
func TestReportsInChromium(t *testing.T) {
	bin := chromiumPath(t)
	f := newFixture(t)
	okDir := f.run("orders", "")
	f.setQuery("SELECT nope FROM m")
	failDir := f.run("orders", "")
	f.setQuery("SELECT m.id, m.title, m.note FROM m JOIN n USING (id) ORDER BY m.id")
	cancelDir := f.run("orders", "extract-movies")

	browser := startBrowser(t, bin)
	shots := screenshotDir(t)
	t.Logf("screenshots in %s", shots)

	t.Run("success", func(t *testing.T) {
		p, done := open(t, browser, filepath.Join(okDir, ReportFile))
		defer done(filepath.Join(shots, "report-success.png"))
		p.shows("#run-status", "success")
		p.shows("#run-rows", "3")
		p.is("four step rows, all success", `document.querySelectorAll('#steps tbody tr[data-status="success"]').length === 4`)
		p.is("four DAG nodes, coloured success", `document.querySelectorAll('#dag g.node.success').length === 4`)
		p.is("DAG edges", `document.querySelectorAll('#dag path.edge').length === 3`)
		p.is("a success node is green", `getComputedStyle(document.querySelector('#dag g.node.success rect')).fill === 'rgb(218, 251, 225)'`)
		p.is("timeline bars", `document.querySelectorAll('#timeline rect.bar').length === 4`)
		p.is("preview of shape shows the <script> value as text",
			`Array.from(document.querySelectorAll('section.artifact[data-step="shape"] table.preview td')).some(td => td.textContent === '<script>alert(1)</script>')`)
		p.is("only the page's own script", `document.scripts.length === 1`)
		p.is("three previews, shape's with 3 rows", `document.querySelectorAll('section.artifact').length === 3 && document.querySelectorAll('section.artifact[data-step="shape"] table.preview tbody tr').length === 3`)
		p.is("schema listed", `Array.from(document.querySelectorAll('section.artifact[data-step="shape"] table.schema td')).map(td => td.textContent).join(' ').includes('note utf8')`)
		p.is("no error box", `document.getElementById('error') === null`)
		// The events filter works.
		p.do(`(function(){var s=document.getElementById('filter-step'); s.value='shape'; s.dispatchEvent(new Event('change'))})()`)
		p.is("events filtered to step shape", `Array.from(document.querySelectorAll('#events tbody tr')).filter(r => !r.hidden).every(r => r.dataset.step === 'shape') && Array.from(document.querySelectorAll('#events tbody tr')).some(r => !r.hidden)`)
	})
	t.Run("failed", func(t *testing.T) {
		p, done := open(t, browser, filepath.Join(failDir, ReportFile))
		defer done(filepath.Join(shots, "report-failed.png"))
		p.shows("#run-status", "failed")
		p.shows("#error-step", "shape")
		p.shows("#error-text", "nope")
		p.is("the error box is visible", `(function(){var r=document.getElementById('error').getBoundingClientRect(); return r.width > 0 && r.height > 0})()`)
		p.is("log tail shown", `document.getElementById('log-tail').textContent.includes('shape')`)
		p.is("DAG node shape coloured failed", `document.querySelector('#dag g.node.failed[data-step="shape"]') !== null`)
		p.is("the writer is skipped", `document.querySelector('#steps tbody tr[data-step="write-out"]').dataset.status === 'skipped'`)
		p.is("diff section against the successful run", `document.getElementById('diff-summary') !== null && document.querySelector('#diff tr[data-step="shape"]') !== null`)
		// The drill-down: the failed step's is open, with its error, the
		// config it ran with and its log lines; the others are closed and
		// hold their data; "since the previous run" comes before them.
		p.is("the failed step's details are open", `document.querySelector('details#step-shape').open && !document.querySelector('details#step-extract-movies').open`)
		p.is("config as run", `document.querySelector('#step-shape pre.config').textContent.includes('SELECT nope FROM m')`)
		p.is("its log lines", `document.querySelector('#step-shape pre.log').textContent.includes('step_error')`)
		p.is("its error", `document.querySelector('#step-shape pre.step-error').textContent.includes('nope')`)
		p.is("extract-movies holds its schema and rows", `document.querySelector('#step-extract-movies section.artifact table.schema') !== null`)
		p.is("the step table links to the details", `document.querySelector('#steps tr[data-step="shape"] a').getAttribute('href') === '#step-shape'`)
		p.is("since the previous run is above the step data", `!!(document.getElementById('diff-summary').compareDocumentPosition(document.getElementById('step-extract-movies')) & Node.DOCUMENT_POSITION_FOLLOWING)`)
		// The events' text filter.
		p.do(`(function(){var s=document.getElementById('filter-text'); s.value='Binder'; s.dispatchEvent(new Event('input'))})()`)
		p.is("text filter keeps the events that mention it", `(function(){var shown=Array.from(document.querySelectorAll('#events tbody tr')).filter(r => !r.hidden); return shown.length >= 2 && shown.every(r => r.textContent.includes('Binder')) && document.getElementById('events-count').textContent === String(shown.length)})()`)
	})
	t.Run("cancelled", func(t *testing.T) {
		p, done := open(t, browser, filepath.Join(cancelDir, ReportFile))
		defer done(filepath.Join(shots, "report-cancelled.png"))
		p.shows("#run-status", "cancelled")
		p.is("extract-movies succeeded, the rest did not finish", `document.querySelector('#dag g.node[data-step="extract-movies"]').dataset.status === 'success' && document.querySelectorAll('#dag g.node.success').length < 4`)
	})
	t.Run("index", func(t *testing.T) {
		p, done := open(t, browser, f.store.IndexHTMLPath())
		defer done(filepath.Join(shots, "index.png"))
		p.is("three runs listed", `document.querySelectorAll('#runs tbody tr').length === 3`)
		p.is("each status once", `['success','failed','cancelled'].every(s => document.querySelectorAll('#runs tbody tr[data-status="'+s+'"]').length === 1)`)
		p.is("links to the reports", `Array.from(document.querySelectorAll('#runs a')).every(a => a.getAttribute('href').endsWith('/report.html')) && document.querySelectorAll('#runs a').length === 3`)
		p.do(`(function(){var s=document.getElementById('filter-status'); s.value='failed'; s.dispatchEvent(new Event('change'))})()`)
		p.is("the status filter leaves the failed run", `document.querySelectorAll('#runs tbody tr:not([hidden])').length === 1 && document.getElementById('runs-count').textContent === '1'`)
	})
	// At a laptop's and a phone's width nothing sticks out of the page
	// (the error box's log and the events filter at 420 px did).
	for _, w := range widths {
		for name, path := range map[string]string{"success": filepath.Join(okDir, ReportFile), "failed": filepath.Join(failDir, ReportFile),
			"cancelled": filepath.Join(cancelDir, ReportFile), "index": f.store.IndexHTMLPath()} {
			t.Run(fmt.Sprintf("%s-%d", name, w), func(t *testing.T) {
				p, done := openWidth(t, browser, "file://"+path, w)
				defer done(filepath.Join(shots, fmt.Sprintf("%s-%dpx.png", name, w)))
				p.fits(name)
			})
		}
	}
}
