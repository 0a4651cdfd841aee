package runlog

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Handler serves the static site of run_logs/ (`osiris logs serve`): the
// index, written afresh on each request, and the runs' report.html, a
// stale one (its run ended or was killed since) written again first. Only
// those pages are served: not the artifacts, logs or configs beside them.
// Requests must name a loopback host (no DNS rebinding), and every page
// carries the same Content-Security-Policy as its <meta>.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !loopbackHost(req.Host) {
			http.Error(w, "osiris logs serve answers requests to 127.0.0.1 or localhost only", http.StatusForbidden)
			return
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + req.URL.Path)
		w.Header().Set("Content-Security-Policy", csp())
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case p == "/" || p == "/"+IndexHTML:
			if err := s.WriteIndexHTML(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			s.serveFile(w, req, s.IndexHTMLPath())
		case strings.HasSuffix(p, "/"+ReportFile) && !strings.Contains(p, "/."):
			dir := filepath.Join(s.RunLogsDir, filepath.FromSlash(strings.TrimSuffix(p, "/"+ReportFile)))
			s.refreshReport(req.Context(), dir)
			s.serveFile(w, req, filepath.Join(dir, ReportFile))
		default:
			http.NotFound(w, req)
		}
	})
}

func (s *Store) serveFile(w http.ResponseWriter, req *http.Request, p string) {
	f, err := os.Open(p)
	if err != nil {
		http.NotFound(w, req)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(w, req, "", st.ModTime(), f)
}

// refreshReport writes a run's report again when the one on disk is older
// than what the run directory records (a run killed while its report said
// "running", a run recorded by an older osiris), or missing. A live run's
// report is left to the run, which rewrites it as its steps finish.
func (s *Store) refreshReport(ctx context.Context, dir string) {
	r, ok := s.runFromDir(dir)
	if !ok || r.Status == "running" {
		return
	}
	rep, err := os.Stat(filepath.Join(dir, ReportFile))
	if err == nil {
		newest := time.Time{}
		for _, n := range []string{"status.json", "events.jsonl"} {
			if st, err := os.Stat(filepath.Join(dir, n)); err == nil && st.ModTime().After(newest) {
				newest = st.ModTime()
			}
		}
		if !newest.After(rep.ModTime()) && r.Status != "killed" {
			return
		}
		if r.Status == "killed" && !reportIsLive(filepath.Join(dir, ReportFile)) {
			return
		}
	}
	s.WriteReport(ctx, r)
}

// reportIsLive: the page reloads itself (it was written while its run
// went).
func reportIsLive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2048)
	n, _ := f.Read(head)
	return strings.Contains(string(head[:n]), `http-equiv="refresh"`)
}

func loopbackHost(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		h = hostport
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Serve serves the site on the loopback address addr ("127.0.0.1:0" picks
// a free port) until ctx is done; ready hears the URL once it listens.
func (s *Store) Serve(ctx context.Context, addr string, ready func(url string)) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("logs serve listens on the loopback address only")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if ready != nil {
		ready("http://" + ln.Addr().String() + "/")
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
