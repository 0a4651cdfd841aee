package exec

import (
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Run and step statuses.
const (
	StatusSuccess   = "success"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusSkipped   = "skipped"
)

// Input sources recorded by inputs_resolved.
const (
	SourceMemory  = "memory"
	SourceParquet = "parquet"
	// SourceStream: the consumer subscribed to the output while its step
	// was still producing it ([run] streaming, stream.go).
	SourceStream = "stream"
)

// Result is the outcome of one run.
type Result struct {
	RunID      string       `json:"run_id"`
	Status     string       `json:"status"` // success | failed | cancelled
	Started    time.Time    `json:"started"`
	Ended      time.Time    `json:"ended"`
	DurationMs int64        `json:"duration_ms"`
	RowsTotal  int64        `json:"rows_total"`
	FailedStep string       `json:"failed_step,omitempty"`
	Error      string       `json:"error,omitempty"` // masked
	Steps      []StepResult `json:"steps"`
}

// Step returns the result of step id, or nil.
func (r *Result) Step(id string) *StepResult {
	for i := range r.Steps {
		if r.Steps[i].ID == id {
			return &r.Steps[i]
		}
	}
	return nil
}

// StepResult is the outcome of one step, in manifest order.
type StepResult struct {
	ID         string     `json:"id"`
	Component  string     `json:"component"`
	Status     string     `json:"status"` // success | failed | skipped | cancelled
	Started    *time.Time `json:"started,omitempty"`
	Ended      *time.Time `json:"ended,omitempty"`
	RowsIn     int64      `json:"rows_in"`
	RowsOut    int64      `json:"rows_out"`
	DurationMs int64      `json:"duration_ms"`
	Error      string     `json:"error,omitempty"` // masked
	// Artifact is the step's output table (extractors and transformers).
	Artifact *Artifact     `json:"artifact,omitempty"`
	Inputs   []InputSource `json:"inputs,omitempty"`
	// Files are workspace-relative files a writer wrote.
	Files []string `json:"files,omitempty"`
	// PeakMemoryBytes is the most this step's output held in the memory cache.
	PeakMemoryBytes int64 `json:"peak_memory_bytes"`
	// Cache is "hit" (served by the step cache, stepcache.go; a writer is
	// then skipped), "miss" (executed) or "off" (executed, never reused nor
	// recorded); CacheReason says why when there is more to say.
	Cache       string `json:"cache,omitempty"`
	CacheReason string `json:"cache_reason,omitempty"`
	// ReusedRun is the run whose output a hit reuses (a skipped writer: the
	// run that last wrote its target).
	ReusedRun string `json:"reused_run,omitempty"`

	mono time.Time // start with its monotonic reading, for the duration
}

// Artifact describes a step's parquet output.
type Artifact struct {
	Path        string   `json:"path"` // relative to the run directory, forward slashes
	Rows        int64    `json:"rows"`
	Bytes       int64    `json:"bytes"`
	SHA256      string   `json:"sha256"`
	TableDigest string   `json:"table_digest"`
	Schema      []Column `json:"schema"`
}

// Column is one schema entry of an artifact.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // Arrow type string, e.g. "decimal(10, 2)", "timestamp[us, tz=UTC]"
	Nullable bool   `json:"nullable"`
}

// InputSource says where a consumer's input came from.
type InputSource struct {
	Step   string   `json:"step"`
	Names  []string `json:"names,omitempty"`
	Source string   `json:"source"` // memory | parquet
	Rows   int64    `json:"rows"`
	Bytes  int64    `json:"bytes"`
}

func schemaColumns(s *arrow.Schema) []Column {
	cols := make([]Column, 0, s.NumFields())
	for _, f := range s.Fields() {
		cols = append(cols, Column{Name: f.Name, Type: f.Type.String(), Nullable: f.Nullable})
	}
	return cols
}

// StepError is the error of a run that failed in a step. Its text is masked.
type StepError struct {
	Step string
	Msg  string // masked
	Err  error  // the original error, for errors.Is/As; do not print it
}

func (e *StepError) Error() string { return fmt.Sprintf("step %q: %s", e.Step, e.Msg) }
func (e *StepError) Unwrap() error { return e.Err }

// ErrCancelled is returned (wrapped) by Run when its context was cancelled.
var ErrCancelled = errors.New("run cancelled")

// ErrRunTimedOut is the error of steps stopped because the run's context
// reached its deadline (osiris run --timeout): a failure, not a cancel.
var ErrRunTimedOut = errors.New("the run's time limit was reached")
