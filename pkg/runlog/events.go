package runlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

// Events returns a run's events (of step, when step != ""), masked.
func (s *Store) Events(r Run, step string) ([]exec.Event, error) {
	ev, err := readEventsFile(filepath.Join(s.Dir(r), "events.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("events of run %s: %w", r.RunID, err)
	}
	out := ev[:0]
	for _, e := range ev {
		if step == "" || e.Step == step {
			out = append(out, s.maskEvent(e))
		}
	}
	return out, nil
}

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
func (s *Store) Follow(ctx context.Context, r Run, step string, emit func(exec.Event) error) error {
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
	idle := 0
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
				var e exec.Event
				if json.Unmarshal(line, &e) != nil {
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
				return nil
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
// `15:04:05.000  step_complete  extract  rows_in=0 rows_out=240 …`.
func FormatEvent(e exec.Event) string {
	var b strings.Builder
	b.WriteString(e.TS.UTC().Format("15:04:05.000"))
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
