package exec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"
)

// EventVersion is the `v` of every event envelope.
const EventVersion = 1

// Event names (spec 03). Remote runs add sandbox_* and sync_* events.
const (
	EventRunStart            = "run_start"
	EventConnectionsResolved = "connections_resolved"
	EventStepStart           = "step_start"
	EventInputsResolved      = "inputs_resolved"
	EventStepProgress        = "step_progress"
	EventStepWarning         = "step_warning"
	EventSchemaChanged       = "schema_changed" // a writer changed its target's columns (schema_evolution: add)
	EventArtifactWritten     = "artifact_written"
	EventStepComplete        = "step_complete"
	EventStepError           = "step_error"
	EventStepSkipped         = "step_skipped"
	EventRunComplete         = "run_complete"
	EventRunError            = "run_error"
	EventRunCancelled        = "run_cancelled"

	// A remote run (pkg/remote) adds these around the engine's own events:
	// the sandbox it ran in, what the sync moved, what came back.
	EventSandboxStarted   = "sandbox_started"
	EventSyncComplete     = "sync_complete"
	EventArtifactsFetched = "artifacts_fetched"
	EventSandboxStopped   = "sandbox_stopped"

	timestampLayout  = "2006-01-02T15:04:05.000Z07:00"
	progressInterval = time.Second
)

// Event is one entry of a run's event stream. It marshals as one flat JSON
// object: the envelope (v, seq, ts, run_id, event, step) followed by Fields
// in key order. Durations in Fields are integer milliseconds.
type Event struct {
	V     int
	Seq   int64
	TS    time.Time
	RunID string
	Event string
	Step  string // "" when the event is not about one step
	// Fields are the event's own fields; keys must not repeat envelope keys.
	Fields map[string]any
}

// IsTerminal reports whether e ends a run's event stream.
func (e Event) IsTerminal() bool {
	return e.Event == EventRunComplete || e.Event == EventRunError || e.Event == EventRunCancelled
}

// MarshalJSON writes the flat object with a stable key order.
func (e Event) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"v":`)
	fmt.Fprintf(&buf, "%d", e.V)
	fmt.Fprintf(&buf, `,"seq":%d,"ts":`, e.Seq)
	writeJSON(&buf, e.TS.UTC().Format(timestampLayout))
	buf.WriteString(`,"run_id":`)
	writeJSON(&buf, e.RunID)
	buf.WriteString(`,"event":`)
	writeJSON(&buf, e.Event)
	if e.Step != "" {
		buf.WriteString(`,"step":`)
		writeJSON(&buf, e.Step)
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		if isEnvelopeKey(k) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		buf.WriteByte(',')
		writeJSON(&buf, k)
		buf.WriteByte(':')
		v, err := json.Marshal(e.Fields[k])
		if err != nil {
			return nil, fmt.Errorf("event %s field %s: %w", e.Event, k, err)
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads the flat object back; non-envelope keys go to Fields.
func (e *Event) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*e = Event{}
	get := func(k string, dst any) error {
		if v, ok := raw[k]; ok {
			delete(raw, k)
			if err := json.Unmarshal(v, dst); err != nil {
				return fmt.Errorf("event field %s: %w", k, err)
			}
		}
		return nil
	}
	var ts string
	for _, f := range []struct {
		k   string
		dst any
	}{{"v", &e.V}, {"seq", &e.Seq}, {"ts", &ts}, {"run_id", &e.RunID}, {"event", &e.Event}, {"step", &e.Step}} {
		if err := get(f.k, f.dst); err != nil {
			return err
		}
	}
	if ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return fmt.Errorf("event ts: %w", err)
		}
		e.TS = t
	}
	if len(raw) > 0 {
		e.Fields = make(map[string]any, len(raw))
		for k, v := range raw {
			var x any
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(&x); err != nil {
				return fmt.Errorf("event field %s: %w", k, err)
			}
			e.Fields[k] = x
		}
	}
	return nil
}

func isEnvelopeKey(k string) bool {
	switch k {
	case "v", "seq", "ts", "run_id", "event", "step":
		return true
	}
	return false
}

func writeJSON(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// EventSink receives a run's events, in seq order. Implementations must be
// safe for concurrent use; Emit must not block for long (it is called on the
// engine's hot path for progress events).
type EventSink interface {
	Emit(Event)
}

// FuncSink adapts a function to EventSink. The engine serialises its calls.
type FuncSink func(Event)

// Emit calls f.
func (f FuncSink) Emit(e Event) { f(e) }

// MultiSink sends every event to each sink in order, and every metric to
// each sink that is also a MetricSink (the Recorder's sink is).
type MultiSink []EventSink

var _ MetricSink = MultiSink{}

// EmitMetric forwards m to every sink that accepts metrics.
func (m MultiSink) EmitMetric(x Metric) {
	for _, s := range m {
		if ms, ok := s.(MetricSink); ok && s != nil {
			ms.EmitMetric(x)
		}
	}
}

// Emit forwards e to every non-nil sink.
func (m MultiSink) Emit(e Event) {
	for _, s := range m {
		if s != nil {
			s.Emit(e)
		}
	}
}

// Metric is one line of metrics.jsonl.
type Metric struct {
	TS    time.Time `json:"-"`
	Step  string    `json:"step"` // "" for run-level metrics
	Name  string    `json:"name"`
	Value float64   `json:"value"`
	Unit  string    `json:"unit"`
}

// MarshalJSON writes {ts, step, name, value, unit}.
func (m Metric) MarshalJSON() ([]byte, error) {
	type plain struct {
		TS    string  `json:"ts"`
		Step  string  `json:"step"`
		Name  string  `json:"name"`
		Value float64 `json:"value"`
		Unit  string  `json:"unit"`
	}
	return json.Marshal(plain{m.TS.UTC().Format(timestampLayout), m.Step, m.Name, m.Value, m.Unit})
}

// MetricSink receives metrics. Must be safe for concurrent use.
type MetricSink interface {
	EmitMetric(Metric)
}

// Metric names and units (spec 03).
const (
	MetricRowsRead        = "rows_read"
	MetricRowsWritten     = "rows_written"
	MetricBytesWritten    = "bytes_written"
	MetricDurationMs      = "duration_ms"
	MetricPeakMemoryBytes = "peak_memory_bytes"
	MetricRowsTotal       = "rows_total"
)

// emitter stamps the envelope (seq, ts, run id), masks strings and delivers
// events in seq order.
type emitter struct {
	mu      sync.Mutex
	seq     int64
	runID   string
	sink    EventSink
	metrics MetricSink
	mask    func(string) string
	now     func() time.Time
}

func (em *emitter) emit(event, step string, fields map[string]any) {
	for k, v := range fields {
		fields[k] = maskAny(em.mask, v)
	}
	em.mu.Lock()
	defer em.mu.Unlock()
	em.seq++
	if em.sink == nil {
		return
	}
	em.sink.Emit(Event{V: EventVersion, Seq: em.seq, TS: em.now(), RunID: em.runID, Event: event, Step: step, Fields: fields})
}

func (em *emitter) metric(step, name string, value float64, unit string) {
	if em.metrics == nil {
		return
	}
	em.metrics.EmitMetric(Metric{TS: em.now(), Step: step, Name: name, Value: value, Unit: unit})
}

// maskAny masks every string inside v (strings, string slices, maps and
// slices of maps, as events build them).
func maskAny(mask func(string) string, v any) any {
	switch x := v.(type) {
	case string:
		return mask(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = mask(s)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, y := range x {
			out[k] = maskAny(mask, y)
		}
		return out
	case []map[string]any:
		out := make([]map[string]any, len(x))
		for i, y := range x {
			out[i] = maskAny(mask, y).(map[string]any)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = maskAny(mask, y)
		}
		return out
	}
	return v
}
