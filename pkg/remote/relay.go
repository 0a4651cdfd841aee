// The run relay: the worker's events and metrics as they come, its done.

package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

// noNetworkHint adds to a connection failure that the sandbox has no
// network, which "connection refused" alone does not tell.
func noNetworkHint(msg, name string) string {
	l := strings.ToLower(msg)
	for _, s := range []string{"connection refused", "network is unreachable", "no such host", "no route to host", "dial tcp", "i/o timeout", "can't connect", "could not connect"} {
		if strings.Contains(l, s) {
			return msg + fmt.Sprintf(` (sandbox %s has network = "none": it cannot reach any host; remove network = "none" to let steps connect)`, name)
		}
	}
	return msg
}

func clientHost() string {
	h, _ := os.Hostname()
	return h
}

// checkResultPaths refuses a result whose paths leave the run directory
// (artifacts) or the workspace (files a writer wrote): they are read
// locally — hashed, previewed in the report — and a worker is not trusted
// with the client's disk.
func checkResultPaths(res *exec.Result) error {
	for _, s := range res.Steps {
		if a := s.Artifact; a != nil {
			if err := CheckTreePath("run/" + a.Path); err != nil || !strings.HasPrefix(a.Path, "artifacts/") {
				return &FrameError{Msg: fmt.Sprintf("the worker reported artifact path %q for step %s, outside the run's artifacts/", a.Path, s.ID)}
			}
		}
		for _, f := range s.Files {
			if err := CheckTreePath("ws/" + f); err != nil {
				return &FrameError{Msg: fmt.Sprintf("the worker reported a written file %q for step %s, outside the workspace", f, s.ID)}
			}
		}
	}
	return nil
}

// runLoop relays the run's events until done. The terminal event is held
// back: it is delivered after the artifacts are fetched and the sandbox
// stopped, so the event stream still ends with it.
func (c *client) runLoop(ctx context.Context, runID uint64) (*Done, error) {
	var grace <-chan time.Time
	waitCtx := ctx
	for {
		var f *Frame
		var err error
		select {
		case fr, ok := <-c.frames:
			if !ok {
				return nil, c.deadErr("running the pipeline in the sandbox")
			}
			f = fr
		case <-waitCtx.Done():
			// Ctrl-C: ask the worker to cancel, give it a moment to end the
			// run properly, then stop it. The time limit is the worker's
			// own (TimeoutMs): it gets the same moment to report.
			waitCtx = context.Background()
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				if _, err := c.send(TypeCancel, struct{}{}); err != nil {
					return nil, err
				}
			}
			grace = time.After(c.o.CancelGrace)
			continue
		case <-grace:
			why := exec.ErrCancelled
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				why = exec.ErrRunTimedOut
			}
			return nil, fmt.Errorf("%w: the sandbox worker did not end the run within %s; stopped it%s", why, c.o.CancelGrace, c.stderrTail())
		}
		if err != nil {
			return nil, err
		}
		switch f.Type {
		case TypeLog:
			c.logLine(f)
		case TypeEvent:
			var e exec.Event
			if err := f.DecodeBody(&e); err != nil {
				return nil, err
			}
			e.RunID = c.o.RunID
			if e.Event == exec.EventRunStart && e.Fields != nil {
				// Who ran it is this process (the record's pid and host);
				// the worker's own, often a namespace's pid 1, is kept apart.
				e.Fields["worker_host"], e.Fields["worker_pid"] = e.Fields["host"], e.Fields["pid"]
				e.Fields["host"], e.Fields["pid"] = clientHost(), os.Getpid()
			}
			if e.IsTerminal() {
				c.held = &e
				continue
			}
			c.relay(e)
		case TypeMetric:
			var m exec.Metric
			if err := decodeMetric(f, &m); err != nil {
				return nil, err
			}
			if c.o.Metrics != nil {
				c.o.Metrics.EmitMetric(m)
			}
		case TypeDone:
			var d Done
			if err := f.DecodeBody(&d); err != nil {
				return nil, err
			}
			return &d, nil
		case TypeError:
			var eb ErrorBody
			f.DecodeBody(&eb)
			return nil, fmt.Errorf("the sandbox worker refused the run: %s", eb.Message)
		default:
			return nil, &FrameError{Msg: fmt.Sprintf("unexpected %s frame during the run", f.Type)}
		}
	}
}

func decodeMetric(f *Frame, m *exec.Metric) error {
	var raw struct {
		TS    string  `json:"ts"`
		Step  string  `json:"step"`
		Name  string  `json:"name"`
		Value float64 `json:"value"`
		Unit  string  `json:"unit"`
	}
	if err := f.DecodeBody(&raw); err != nil {
		return err
	}
	ts, _ := time.Parse(time.RFC3339Nano, raw.TS)
	*m = exec.Metric{TS: ts, Step: raw.Step, Name: raw.Name, Value: raw.Value, Unit: raw.Unit}
	return nil
}
