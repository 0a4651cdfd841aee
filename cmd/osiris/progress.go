package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/osiris-go/osiris/internal/termsafe"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote"
)

// progress turns run events into terminal lines: one line per finished step
// on stderr, and on a TTY a live status line of the running steps (rows so
// far, rows/s, bytes, elapsed). It is an exec.EventSink; the engine knows
// nothing of terminals.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	verbose bool // -v: also step starts and where each input came from
	running map[string]*stepProgress
	live    bool // a live line is on screen
}

type stepProgress struct {
	started time.Time
	rows    int64
	bytes   int64
}

func newProgress(a *app) *progress {
	return &progress{w: a.stderr, tty: isTerminal(a.stderr), verbose: a.verbose, running: map[string]*stepProgress{}}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) Emit(e exec.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Event {
	case exec.EventStepStart:
		p.running[e.Step] = &stepProgress{started: e.TS}
		if p.verbose {
			p.line(fmt.Sprintf("  → %-28s %v", e.Step, e.Fields["component"]))
		}
	case exec.EventInputsResolved:
		if p.verbose {
			for _, in := range inputList(e.Fields["inputs"]) {
				if in["source"] == exec.SourceStream {
					// Its rows are not known yet: it reads them as they come.
					p.line(fmt.Sprintf("    %s ← %v: stream (while %v runs)", e.Step, in["step"], in["step"]))
					continue
				}
				p.line(fmt.Sprintf("    %s ← %v: %v rows from %v", e.Step, in["step"], in["rows"], in["source"]))
			}
		}
	case exec.EventStepProgress:
		if sp := p.running[e.Step]; sp != nil {
			sp.rows = toInt(e.Fields["rows"])
			sp.bytes = toInt(e.Fields["bytes"])
		}
	case exec.EventStepComplete:
		delete(p.running, e.Step)
		rows := toInt(e.Fields["rows_out"]) // a writer's rows_out is the rows it wrote
		cached := ""
		switch e.Fields["cache"] {
		case exec.CacheHit:
			cached = "  (cached)"
		case exec.CacheOff:
			cached = fmt.Sprintf("  (cache off: %v)", e.Fields["cache_reason"])
		case exec.CacheMiss:
			// Why the step ran rather than being reused: with -v only.
			if why, ok := e.Fields["cache_reason"].(string); ok && p.verbose {
				cached = "  (ran: " + why + ")"
			}
		}
		p.line(fmt.Sprintf("  ✓ %-28s %10d rows  %s%s", e.Step, rows, fmtMS(toInt(e.Fields["duration_ms"])), cached))
	case exec.EventStepError:
		delete(p.running, e.Step)
		p.line(fmt.Sprintf("  ✗ %-28s %v", e.Step, e.Fields["error"]))
	case exec.EventStepSkipped:
		if run, ok := e.Fields["reused_run"].(string); ok && run != "" {
			// A writer --reuse-writes skipped: its target holds that run's write.
			p.line(fmt.Sprintf("  - %-28s %10d rows  skipped: unchanged since %s", e.Step, 0, run))
			break
		}
		p.line(fmt.Sprintf("  - %-28s skipped", e.Step))
	case exec.EventSandboxStarted:
		p.line(fmt.Sprintf("  sandbox %v (%v, %v)", e.Fields["sandbox"], e.Fields["kind"], e.Fields["isolation"]))
	case exec.EventSyncComplete:
		p.line(fmt.Sprintf("  ⇡ synced %d files: %s uploaded, %s already there", toInt(e.Fields["files"]),
			fmtBytes(toInt(e.Fields["bytes_uploaded"])), fmtBytes(toInt(e.Fields["bytes_skipped"]))))
	case exec.EventArtifactsFetched:
		p.line(fmt.Sprintf("  ⇣ fetched %d files (%s)", toInt(e.Fields["blobs"]), fmtBytes(toInt(e.Fields["bytes"]))))
	case exec.EventStepWarning:
		p.line(fmt.Sprintf("  ! %-28s %v", e.Step, e.Fields["message"]))
	}
	if p.tty {
		p.drawLive()
	}
}

// line prints a permanent line, clearing the live one first.
func (p *progress) line(s string) {
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
	fmt.Fprintln(p.w, termsafe.String(s))
}

func (p *progress) drawLive() {
	if len(p.running) == 0 {
		if p.live {
			fmt.Fprint(p.w, "\r\033[K")
			p.live = false
		}
		return
	}
	ids := make([]string, 0, len(p.running))
	for id := range p.running {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var parts []string
	for _, id := range ids {
		sp := p.running[id]
		el := time.Since(sp.started)
		rate := 0.0
		if s := el.Seconds(); s > 0 {
			rate = float64(sp.rows) / s
		}
		parts = append(parts, fmt.Sprintf("%s %d rows %.0f rows/s %s %s", id, sp.rows, rate, fmtBytes(sp.bytes), el.Truncate(100*time.Millisecond)))
	}
	fmt.Fprint(p.w, "\r\033[K  … "+termsafe.String(strings.Join(parts, " | ")))
	p.live = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int64:
		return x
	case float64:
		return int64(x)
	case interface{ Int64() (int64, error) }:
		n, _ := x.Int64()
		return n
	}
	return 0
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// inputList reads the inputs field of an inputs_resolved event, whether it
// was built in this process or decoded from JSON.
func inputList(v any) []map[string]any {
	switch x := v.(type) {
	case []map[string]any:
		return x
	case []any:
		var out []map[string]any
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// transfer shows sync progress of a remote run on the live line.
func (p *progress) transfer(t remote.Transfer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		return
	}
	verb := "uploading"
	if t.Direction == "download" {
		verb = "downloading"
	}
	fmt.Fprintf(p.w, "\r\033[K  … %s %s / %s", verb, fmtBytes(t.Done), fmtBytes(t.Total))
	p.live = true
	if t.Done >= t.Total {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
}
