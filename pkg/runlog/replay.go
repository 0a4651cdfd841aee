package runlog

import (
	"encoding/json"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

// StatusNotStarted is a step of a killed run that never started (a killed
// run's steps are either finished, killed while running, or this).
const StatusNotStarted = "not_started"

// replay is what a run's events say happened, for a run whose status.json
// is not final: one still going, one killed, one whose status.json is
// damaged.
type replay struct {
	steps    map[string]*exec.StepResult
	order    []string   // steps in the order they first appear
	first    time.Time  // the first event
	last     time.Time  // the latest event
	terminal exec.Event // the run's terminal event (Event == "" when none)
}

func replayEvents(evs []exec.Event) replay {
	rp := replay{steps: map[string]*exec.StepResult{}}
	for _, e := range evs {
		if rp.first.IsZero() || e.TS.Before(rp.first) {
			rp.first = e.TS
		}
		if e.TS.After(rp.last) {
			rp.last = e.TS
		}
		if e.IsTerminal() {
			rp.terminal = e
		}
		if e.Step == "" {
			continue
		}
		sr := rp.steps[e.Step]
		if sr == nil {
			sr = &exec.StepResult{ID: e.Step, Status: exec.StatusPending}
			rp.steps[e.Step] = sr
			rp.order = append(rp.order, e.Step)
		}
		ts := e.TS
		switch e.Event {
		case exec.EventStepStart:
			sr.Status, sr.Started = exec.StatusRunning, &ts
			if c, ok := e.Fields["component"].(string); ok {
				sr.Component = c
			}
		case exec.EventArtifactWritten:
			a := &exec.Artifact{Rows: num(e.Fields["rows"]), Bytes: num(e.Fields["bytes"])}
			a.Path, _ = e.Fields["path"].(string)
			a.SHA256, _ = e.Fields["sha256"].(string)
			a.TableDigest, _ = e.Fields["table_digest"].(string)
			if b, err := json.Marshal(e.Fields["schema"]); err == nil {
				json.Unmarshal(b, &a.Schema)
			}
			sr.Artifact = a
		case exec.EventStepComplete:
			sr.Status, sr.Ended = exec.StatusSuccess, &ts
			sr.RowsIn, sr.RowsOut, sr.DurationMs = num(e.Fields["rows_in"]), num(e.Fields["rows_out"]), num(e.Fields["duration_ms"])
			sr.Cache, _ = e.Fields["cache"].(string)
		case exec.EventStepError:
			sr.Status, sr.Ended = exec.StatusFailed, &ts
			if s, ok := e.Fields["status"].(string); ok && s != "" {
				sr.Status = s
			}
			sr.Error, _ = e.Fields["error"].(string)
			sr.DurationMs = num(e.Fields["duration_ms"])
		case exec.EventStepSkipped:
			sr.Status = exec.StatusSkipped
			if r, ok := e.Fields["reason"].(string); ok {
				sr.Error = r
			}
		}
		if sr.Ended != nil && sr.Started != nil && sr.DurationMs == 0 {
			sr.DurationMs = sr.Ended.Sub(*sr.Started).Milliseconds()
		}
	}
	return rp
}

// apply lays what the events say over the steps of status.json (all
// pending while a run goes). now is the clock for a live run's running
// steps (elapsed so far); for a killed run, killed turns the steps caught
// running into killed ones (with the time they had when the last event
// was written) and the ones that never started into StatusNotStarted.
func (rp replay) apply(steps []exec.StepResult, now time.Time, killed bool) []exec.StepResult {
	out := make([]exec.StepResult, 0, max(len(steps), len(rp.order)))
	seen := map[string]bool{}
	for _, s := range steps {
		seen[s.ID] = true
		if ev := rp.steps[s.ID]; ev != nil && (s.Status == exec.StatusPending || s.Status == exec.StatusRunning || s.Status == "") {
			comp := s.Component
			s = *ev
			if comp != "" {
				s.Component = comp
			}
		}
		out = append(out, s)
	}
	for _, id := range rp.order { // steps the events know and status.json does not
		if !seen[id] {
			out = append(out, *rp.steps[id])
		}
	}
	for i := range out {
		s := &out[i]
		switch s.Status {
		case exec.StatusRunning:
			end := now
			if killed {
				end = rp.last
				s.Status = exec.StatusKilled
				s.Error = "killed while running"
			}
			if s.Started != nil && end.After(*s.Started) {
				s.DurationMs = end.Sub(*s.Started).Milliseconds()
			}
		case exec.StatusPending, "":
			if killed {
				s.Status = StatusNotStarted
			}
		}
	}
	return out
}

func num(v any) int64 {
	n, _ := number(v)
	return n
}
