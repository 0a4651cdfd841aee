package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

// TestProgressOnTTY: on a terminal the running steps are shown live (rows,
// rows/s, bytes, elapsed) on one line that is cleared before every
// permanent line; finished steps get one line each.
func TestProgressOnTTY(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, tty: true, running: map[string]*stepProgress{}}
	start := time.Now().Add(-2 * time.Second)
	p.Emit(exec.Event{Event: exec.EventStepStart, Step: "extract", TS: start})
	p.Emit(exec.Event{Event: exec.EventStepProgress, Step: "extract", TS: time.Now(), Fields: map[string]any{"rows": int64(131072), "bytes": int64(3 << 20)}})
	live := buf.String()
	if !strings.Contains(live, "\r\033[K  … extract 131072 rows ") || !strings.Contains(live, " rows/s 3.0 MiB ") {
		t.Fatalf("no live progress line:\n%q", live)
	}
	p.Emit(exec.Event{Event: exec.EventStepComplete, Step: "extract", Fields: map[string]any{"rows_out": int64(200000), "duration_ms": int64(2100)}})
	p.done()
	out := buf.String()
	if !strings.Contains(out, "\r\033[K  ✓ extract") || !strings.Contains(out, "200000 rows  2.1 s\n") {
		t.Fatalf("finished step line missing or not cleared first:\n%q", out)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end cleanly:\n%q", out)
	}
}

// TestProgressNotTTY: without a terminal there are no control characters,
// only one line per finished, failed or skipped step.
func TestProgressNotTTY(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, running: map[string]*stepProgress{}}
	p.Emit(exec.Event{Event: exec.EventStepStart, Step: "a", TS: time.Now()})
	p.Emit(exec.Event{Event: exec.EventStepProgress, Step: "a", Fields: map[string]any{"rows": int64(5)}})
	p.Emit(exec.Event{Event: exec.EventStepError, Step: "a", Fields: map[string]any{"error": "boom"}})
	p.Emit(exec.Event{Event: exec.EventStepSkipped, Step: "b"})
	p.done()
	want := "  ✗ a                            boom\n  - b                            skipped\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
}
