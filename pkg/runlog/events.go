package runlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
)

// errCompileHasNoEvents: a compile record has a status, no events.
var errCompileHasNoEvents = "%s is a compile; compiles record no events (see `osiris logs show %s`)"

// Events returns a run's events (of step, when step != ""), masked. The
// notice says which lines of events.jsonl did not parse (skipped).
func (s *Store) Events(r Run, step string) ([]exec.Event, Notice, error) {
	if r.Kind == exec.RecordKindCompile {
		return nil, "", diag.Usage(errCompileHasNoEvents, r.RunID, r.Short())
	}
	ev, bad, err := readEventsFile(filepath.Join(s.Dir(r), "events.jsonl"))
	if err != nil {
		return nil, "", fmt.Errorf("events of run %s: %w", r.RunID, err)
	}
	out := ev[:0]
	for _, e := range ev {
		if step == "" || e.Step == step {
			out = append(out, s.maskEvent(e))
		}
	}
	return out, Notice(badLines(bad)), nil
}

// ErrRunKilled ends Follow when the run's process went away without
// recording an outcome (SIGKILL, a crash, the machine stopped).
var ErrRunKilled = errors.New("the run's process ended without recording an outcome (killed, or the machine stopped)")

func (s *Store) maskEvent(e exec.Event) exec.Event {
	if s.Masker == nil {
		return e
	}
	for k, v := range e.Fields {
		e.Fields[k] = s.maskAny(v)
	}
	return e
}

func (s *Store) maskAny(v any) any {
	switch x := v.(type) {
	case string:
		return s.mask(x)
	case []any:
		for i := range x {
			x[i] = s.maskAny(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = s.maskAny(x[k])
		}
	}
	return v
}

// FollowPoll is how often Follow looks for new events.
const FollowPoll = 200 * time.Millisecond

// Follow calls emit for each event of the run (of step, when step != ""),
// the ones recorded so far and then new ones as they are appended, until
// the run's terminal event, until the run's process is gone (a killed run),
// or until ctx is done. It works for any run recorded on this machine,
// remote ones included (their events are recorded locally as they arrive).
// A run whose process is gone without a terminal event ends it with
// ErrRunKilled. warn (may be nil) hears of lines that do not parse.
func (s *Store) Follow(ctx context.Context, r Run, step string, emit func(exec.Event) error, warn func(string)) error {
	if r.Kind == exec.RecordKindCompile {
		return diag.Usage(errCompileHasNoEvents, r.RunID, r.Short())
	}
	dir := s.Dir(r)
	path := filepath.Join(dir, "events.jsonl")
	var f *os.File
	for {
		var err error
		f, err = os.Open(path)
		if err == nil {
			break
		}
		if !exec.RunLive(dir) {
			return fmt.Errorf("events of run %s: %w", r.RunID, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(FollowPoll):
		}
	}
	defer f.Close()
	var pending []byte
	buf := make([]byte, 64*1024)
	idle, lineNo := 0, 0
	for {
		n, err := f.Read(buf)
		if n > 0 {
			idle = 0
			pending = append(pending, buf[:n]...)
			for {
				nl := bytes.IndexByte(pending, '\n')
				if nl < 0 {
					break
				}
				line := pending[:nl]
				pending = pending[nl+1:]
				lineNo++
				var e exec.Event
				if json.Unmarshal(line, &e) != nil {
					if warn != nil && len(bytes.TrimSpace(line)) > 0 {
						warn(badLines([]int{lineNo}))
					}
					continue
				}
				if step == "" || e.Step == step {
					if err := emit(s.maskEvent(e)); err != nil {
						return err
					}
				}
				if e.IsTerminal() {
					return nil
				}
			}
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("events of run %s: %w", r.RunID, err)
		}
		// At the end of what is written: wait for more while the run lives.
		if !exec.RunLive(dir) {
			idle++
			if idle > 1 { // one more read after the lock went, then stop
				if st, err := readStatus(dir); err == nil && st.Status != exec.StatusRunning {
					return nil // ended (its terminal event was filtered out, or lost)
				}
				return fmt.Errorf("run %s: %w", r.RunID, ErrRunKilled)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(FollowPoll):
		}
	}
}

// FormatEvent renders an event on one line for people:
// `15:04:05.000Z  step_complete  extract  rows_in=0 rows_out=240 …`.
func FormatEvent(e exec.Event) string {
	var b strings.Builder
	b.WriteString(e.TS.UTC().Format("15:04:05.000Z"))
	b.WriteString("  ")
	fmt.Fprintf(&b, "%-20s", e.Event)
	if e.Step != "" {
		b.WriteString("  " + e.Step)
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("  " + k + "=" + compactValue(k, e.Fields[k]))
	}
	return b.String()
}

func compactValue(k string, v any) string {
	if k == "schema" {
		if cols, ok := v.([]any); ok {
			names := make([]string, 0, len(cols))
			for _, c := range cols {
				if m, ok := c.(map[string]any); ok {
					names = append(names, fmt.Sprintf("%v:%v", m["name"], m["type"]))
				}
			}
			return "[" + strings.Join(names, " ") + "]"
		}
	}
	switch x := v.(type) {
	case string:
		if strings.ContainsAny(x, " \t\n\"") || x == "" {
			b, _ := json.Marshal(x)
			return string(b)
		}
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
