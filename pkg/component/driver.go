package component

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/rs/zerolog"

	"github.com/osiris-go/osiris/workspace"
)

// Extractor produces a stream of Arrow record batches. The engine tees the
// stream to the parquet artifact and the memory cache; the driver never
// writes artifacts itself. The returned reader is released by the engine.
type Extractor interface {
	Extract(ctx context.Context, req *Request) (array.RecordReader, error)
}

// Transformer turns input tables into one output stream.
type Transformer interface {
	Transform(ctx context.Context, req *Request, in Inputs) (array.RecordReader, error)
}

// Writer consumes one input table and stores it in a target.
type Writer interface {
	Write(ctx context.Context, req *Request, in Table) (WriteResult, error)
}

// Request is everything a driver gets besides its inputs.
type Request struct {
	StepID    string
	Component string
	Mode      string
	// Config is the step's effective config: defaults filled, params
	// resolved; the `connection` key keeps its reference.
	Config Config
	// Conn is the resolved connection (secrets in memory only), or nil.
	Conn *workspace.Connection
	// Files resolves workspace-relative paths, refusing escapes.
	Files *workspace.Files
	// BatchRows is the target number of rows per record batch.
	BatchRows int
	// BatchBytes bounds the payload of a batch too: a driver ends a batch
	// early once its values reach it, so wide TEXT/BLOB rows neither
	// overflow Arrow's 32-bit string offsets nor hold gigabytes per batch.
	// 0 means DefaultBatchBytes; see MaxBatchBytes.
	BatchBytes int64
	Alloc      memory.Allocator
	Log        zerolog.Logger
	// Warn reports a data warning (e.g. zero dates turned into NULL); the
	// engine turns it into a `step_warning` event. Never nil.
	Warn func(code, message string)
	// Event, when set, records a named event of the step in the run's
	// event stream (schema_changed); fields must not repeat envelope keys.
	// Use Emit, which tolerates a nil Event.
	Event func(name string, fields map[string]any)
	// TempDir is a private scratch directory for the step (removed after).
	TempDir string
	// WorkingMemory returns the bytes of the run's memory budget that the
	// step's own engine (DuckDB's buffer manager) may use now: what the
	// held step outputs leave of the budget, never less than a floor. 0, or
	// a nil func, sets no limit (unlimited budget).
	WorkingMemory func() int64
}

// Emit records a named event of the step through r.Event, if set.
func (r *Request) Emit(name string, fields map[string]any) {
	if r != nil && r.Event != nil {
		r.Event(name, fields)
	}
}

// WorkingMemoryNow is r.WorkingMemory(), or 0 when unset.
func (r *Request) WorkingMemoryNow() int64 {
	if r == nil || r.WorkingMemory == nil {
		return 0
	}
	return r.WorkingMemory()
}

// OpenOnce opens t for a consumer that reads it once, to the end, and
// never again: when no other consumer needs t's memory copy, the engine
// hands the batches over and lets each go once the reader has moved past
// it, so a consumer that copies its input (DuckDB) does not hold it twice.
// Tables without that ability are opened with Open.
func OpenOnce(ctx context.Context, t Table) (array.RecordReader, error) {
	if o, ok := t.(interface {
		OpenOnce(context.Context) (array.RecordReader, error)
	}); ok {
		return o.OpenOnce(ctx)
	}
	return t.Open(ctx)
}

// DoneReading tells the engine that the consumer has everything it needs
// from t (DuckDB copied it into its own table) and will not Open it again:
// the engine releases t's in-memory batches when no other consumer needs
// them, so that the budget is not spent twice on one table. Tables that
// cannot let go early ignore it.
func DoneReading(t Table) {
	if d, ok := t.(interface{ DoneReading() }); ok {
		d.DoneReading()
	}
}

// FromParquet reports whether t is read from its committed parquet artifact
// (ParquetPath) rather than from memory or a running stream. A consumer with
// a parquet reader of its own (DuckDB) may then read the file directly,
// with the same rows and types; it still calls DoneReading.
func FromParquet(t Table) bool {
	p, ok := t.(interface{ ParquetSource() bool })
	return ok && p.ParquetSource()
}

// Table is what a consumer receives for one upstream output: held in memory
// when the hybrid cache kept it, otherwise backed by the parquet artifact.
type Table interface {
	StepID() string
	Schema() *arrow.Schema
	// Open returns a fresh reader over all rows (memory if held, else parquet).
	Open(ctx context.Context) (array.RecordReader, error)
	Rows() int64
	// ParquetPath is the absolute path of the artifact (always present).
	ParquetPath() string
}

// Input is one upstream table with the names a transform may use for it.
type Input struct {
	// Names: every name under which the input is visible, e.g. "df_extract_movies",
	// the `inputs:` name, and "input_df" when it is the only input.
	Names []string
	Table Table
}

// Inputs are a step's upstream tables in manifest order.
type Inputs []Input

// WriteResult is what a writer reports.
type WriteResult struct {
	RowsWritten int64
	// Files are workspace-relative paths written by the step (CSV, parquet,
	// DuckDB files); a remote run brings them back.
	Files []string
}

// Config is a step's effective config with typed accessors. Values come from
// JSON/YAML, so numbers may be float64, int, int64 or json.Number.
type Config map[string]any

// Has reports whether key is set to a non-nil value.
func (c Config) Has(key string) bool { v, ok := c[key]; return ok && v != nil }

// String returns key as text ("" when unset).
func (c Config) String(key string) string {
	switch v := c[key].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// Int returns key as an integer, or def when unset or not a number.
func (c Config) Int(key string, def int64) int64 {
	switch v := c[key].(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case uint64:
		return int64(v)
	case float64:
		return int64(v)
	case interface{ Int64() (int64, error) }:
		if n, err := v.Int64(); err == nil {
			return n
		}
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

// Bool returns key as a boolean, or def when unset.
func (c Config) Bool(key string, def bool) bool {
	switch v := c[key].(type) {
	case bool:
		return v
	case string:
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return def
}

// Strings returns key as a list of strings; a single string is a one-element list.
func (c Config) Strings(key string) []string {
	switch v := c[key].(type) {
	case nil:
		return nil
	case string:
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// Duration returns key parsed as a Go duration, or def.
func (c Config) Duration(key string, def time.Duration) time.Duration {
	if s := c.String(key); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
	}
	return def
}

// DefaultBatchBytes is the batch payload bound when Request.BatchBytes is 0.
const DefaultBatchBytes = 64 << 20

// MaxBatchBytes is the payload bound drivers apply to a batch.
func (r *Request) MaxBatchBytes() int64 {
	if r == nil || r.BatchBytes <= 0 {
		return DefaultBatchBytes
	}
	return r.BatchBytes
}
