package remote

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/workspace"
)

// The protocol's own types for what the engine and the workspace have
// structs of: a run's options, a resolved connection, a run's result. They
// change only with ProtocolVersion; the conversions below are the one
// place where an engine struct meets the wire, so renaming a field of
// exec.Result or workspace.Connection cannot change the protocol unseen.
// (Events travel as exec.Event: the event format is versioned on its own,
// exec.EventVersion, and is the same in events.jsonl.)

// RunOptions are the engine options of a run request.
type RunOptions struct {
	MemoryBudget int64  `json:"memory_budget"`
	MaxParallel  int    `json:"max_parallel"`
	BatchRows    int    `json:"batch_rows"`
	Compression  string `json:"compression"`
	Streaming    bool   `json:"streaming"`
}

func wireOptions(o exec.Options) RunOptions {
	return RunOptions{MemoryBudget: o.MemoryBudget, MaxParallel: o.MaxParallel, BatchRows: o.BatchRows, Compression: o.Compression, Streaming: o.Streaming}
}

func (o RunOptions) engine() exec.Options {
	return exec.Options{MemoryBudget: o.MemoryBudget, MaxParallel: o.MaxParallel, BatchRows: o.BatchRows, Compression: o.Compression, Streaming: o.Streaming}
}

// Value is one connection field with its type stated, so that an integer
// (a port) arrives as an integer and not as JSON's float.
type Value struct {
	Type  string          `json:"type"` // string | int | float | bool | json
	Value json.RawMessage `json:"value"`
}

// WireConnection is a resolved connection (secrets included): it exists in
// the run request and the worker's memory only.
type WireConnection struct {
	Family string           `json:"family"`
	Alias  string           `json:"alias"`
	Values map[string]Value `json:"values"`
}

func wireConnection(c *workspace.Connection) (*WireConnection, error) {
	if c == nil {
		return nil, nil
	}
	out := &WireConnection{Family: c.Family, Alias: c.Alias, Values: map[string]Value{}}
	for k, v := range c.Values {
		var typ string
		switch v.(type) {
		case string:
			typ = "string"
		case int, int64, int32:
			typ = "int"
		case float64, float32:
			typ = "float"
		case bool:
			typ = "bool"
		default:
			typ = "json"
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("connection %s.%s: field %s: %w", c.Family, c.Alias, k, err)
		}
		out.Values[k] = Value{Type: typ, Value: b}
	}
	return out, nil
}

func (w *WireConnection) connection() (*workspace.Connection, error) {
	if w == nil {
		return nil, nil
	}
	c := &workspace.Connection{Family: w.Family, Alias: w.Alias, Values: map[string]any{}}
	for k, v := range w.Values {
		var err error
		switch v.Type {
		case "string":
			var s string
			err = json.Unmarshal(v.Value, &s)
			c.Values[k] = s
		case "int":
			var n int64
			n, err = strconv.ParseInt(string(v.Value), 10, 64)
			c.Values[k] = n
		case "float":
			var f float64
			err = json.Unmarshal(v.Value, &f)
			c.Values[k] = f
		case "bool":
			var b bool
			err = json.Unmarshal(v.Value, &b)
			c.Values[k] = b
		case "json":
			dec := json.NewDecoder(bytes.NewReader(v.Value))
			dec.UseNumber()
			var x any
			err = dec.Decode(&x)
			c.Values[k] = numbers(x)
		default:
			err = fmt.Errorf("unknown value type %q", v.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("connection %s.%s: field %s: %w", w.Family, w.Alias, k, err)
		}
	}
	return c, nil
}

// numbers turns json.Numbers inside a nested value into int64 or float64.
func numbers(x any) any {
	switch v := x.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = numbers(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = numbers(v[k])
		}
	}
	return x
}

// RunResult is the engine's result of a run, as the protocol carries it.
type RunResult struct {
	RunID      string       `json:"run_id"`
	Status     string       `json:"status"`
	Started    time.Time    `json:"started"`
	Ended      time.Time    `json:"ended"`
	DurationMs int64        `json:"duration_ms"`
	RowsTotal  int64        `json:"rows_total"`
	FailedStep string       `json:"failed_step,omitempty"`
	Error      string       `json:"error,omitempty"`
	Steps      []StepResult `json:"steps"`
}

// StepResult is one step's outcome.
type StepResult struct {
	ID              string        `json:"id"`
	Component       string        `json:"component"`
	Status          string        `json:"status"`
	Started         *time.Time    `json:"started,omitempty"`
	Ended           *time.Time    `json:"ended,omitempty"`
	RowsIn          int64         `json:"rows_in"`
	RowsOut         int64         `json:"rows_out"`
	DurationMs      int64         `json:"duration_ms"`
	Error           string        `json:"error,omitempty"`
	Artifact        *Artifact     `json:"artifact,omitempty"`
	Inputs          []InputSource `json:"inputs,omitempty"`
	Files           []string      `json:"files,omitempty"`
	PeakMemoryBytes int64         `json:"peak_memory_bytes"`
	Cache           string        `json:"cache,omitempty"`
	CacheReason     string        `json:"cache_reason,omitempty"`
	ReusedRun       string        `json:"reused_run,omitempty"`
}

// Artifact is a step's parquet output; Path is relative to the run
// directory (checked by the client before anything reads it).
type Artifact struct {
	Path        string   `json:"path"`
	Rows        int64    `json:"rows"`
	Bytes       int64    `json:"bytes"`
	SHA256      string   `json:"sha256"`
	TableDigest string   `json:"table_digest"`
	Schema      []Column `json:"schema"`
}

// Column is one schema entry of an artifact.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// InputSource says where a consumer's input came from.
type InputSource struct {
	Step   string   `json:"step"`
	Names  []string `json:"names,omitempty"`
	Source string   `json:"source"`
	Rows   int64    `json:"rows"`
	Bytes  int64    `json:"bytes"`
}

func wireResult(r *exec.Result) *RunResult {
	if r == nil {
		return nil
	}
	out := &RunResult{RunID: r.RunID, Status: r.Status, Started: r.Started, Ended: r.Ended, DurationMs: r.DurationMs,
		RowsTotal: r.RowsTotal, FailedStep: r.FailedStep, Error: r.Error, Steps: make([]StepResult, len(r.Steps))}
	for i, s := range r.Steps {
		ws := StepResult{ID: s.ID, Component: s.Component, Status: s.Status, Started: s.Started, Ended: s.Ended,
			RowsIn: s.RowsIn, RowsOut: s.RowsOut, DurationMs: s.DurationMs, Error: s.Error, Files: s.Files,
			PeakMemoryBytes: s.PeakMemoryBytes, Cache: s.Cache, CacheReason: s.CacheReason, ReusedRun: s.ReusedRun}
		if a := s.Artifact; a != nil {
			ws.Artifact = &Artifact{Path: a.Path, Rows: a.Rows, Bytes: a.Bytes, SHA256: a.SHA256, TableDigest: a.TableDigest}
			for _, c := range a.Schema {
				ws.Artifact.Schema = append(ws.Artifact.Schema, Column{Name: c.Name, Type: c.Type, Nullable: c.Nullable})
			}
		}
		for _, in := range s.Inputs {
			ws.Inputs = append(ws.Inputs, InputSource{Step: in.Step, Names: in.Names, Source: in.Source, Rows: in.Rows, Bytes: in.Bytes})
		}
		out.Steps[i] = ws
	}
	return out
}

func (r *RunResult) result() *exec.Result {
	if r == nil {
		return nil
	}
	out := &exec.Result{RunID: r.RunID, Status: r.Status, Started: r.Started, Ended: r.Ended, DurationMs: r.DurationMs,
		RowsTotal: r.RowsTotal, FailedStep: r.FailedStep, Error: r.Error, Steps: make([]exec.StepResult, len(r.Steps))}
	for i, s := range r.Steps {
		es := exec.StepResult{ID: s.ID, Component: s.Component, Status: s.Status, Started: s.Started, Ended: s.Ended,
			RowsIn: s.RowsIn, RowsOut: s.RowsOut, DurationMs: s.DurationMs, Error: s.Error, Files: s.Files,
			PeakMemoryBytes: s.PeakMemoryBytes, Cache: s.Cache, CacheReason: s.CacheReason, ReusedRun: s.ReusedRun}
		if a := s.Artifact; a != nil {
			es.Artifact = &exec.Artifact{Path: a.Path, Rows: a.Rows, Bytes: a.Bytes, SHA256: a.SHA256, TableDigest: a.TableDigest}
			for _, c := range a.Schema {
				es.Artifact.Schema = append(es.Artifact.Schema, exec.Column{Name: c.Name, Type: c.Type, Nullable: c.Nullable})
			}
		}
		for _, in := range s.Inputs {
			es.Inputs = append(es.Inputs, exec.InputSource{Step: in.Step, Names: in.Names, Source: in.Source, Rows: in.Rows, Bytes: in.Bytes})
		}
		out.Steps[i] = es
	}
	return out
}
