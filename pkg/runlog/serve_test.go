package runlog

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// `logs serve` answers loopback hosts only, serves the index (written
// afresh) and the reports with the pages' CSP, and nothing else of the run
// directories (artifacts, logs, configs).
func TestServe(t *testing.T) {
	f := newFixture(t)
	dir := f.run("orders", "")
	srv := httptest.NewServer(f.store.Handler())
	defer srv.Close()
	rel, _ := filepath.Rel(f.store.RunLogsDir, dir)
	get := func(path, host string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	code, h, body := get("/", "")
	if code != 200 || !strings.Contains(body, `id="runs"`) || h.Get("Content-Security-Policy") != csp() {
		t.Errorf("GET / = %d, CSP %q", code, h.Get("Content-Security-Policy"))
	}
	if code, _, body := get("/"+filepath.ToSlash(rel)+"/"+ReportFile, ""); code != 200 || !strings.Contains(body, `id="steps"`) {
		t.Errorf("GET report = %d", code)
	}
	for _, p := range []string{"/" + filepath.ToSlash(rel) + "/status.json", "/" + filepath.ToSlash(rel) + "/osiris.log", "/../osiris.toml", "/" + filepath.ToSlash(rel) + "/cfg/shape.json"} {
		if code, _, _ := get(p, ""); code != 404 {
			t.Errorf("GET %s = %d, want 404", p, code)
		}
	}
	if code, _, _ := get("/", "evil.example:80"); code != 403 {
		t.Errorf("GET / with Host evil.example = %d, want 403 (DNS rebinding)", code)
	}
	if code, _, _ := get("/", "localhost"); code != 200 {
		t.Errorf("GET / with Host localhost = %d", code)
	}
}
