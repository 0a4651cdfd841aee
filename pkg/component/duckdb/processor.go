package duckdb

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/osiris-go/osiris/pkg/component"
)

// Processor is the duckdb.processor driver.
//
// An input read back from its parquet artifact (component.FromParquet: a
// budget that could not hold it, a step cache hit) is not copied: its name
// is a TEMP VIEW over read_parquet of the committed file, so DuckDB's own
// reader reads in parallel only the columns and row groups the query needs
// (a watch rerun of W3's aggregate over 2,000,000 cached rows). Any other input's stream is registered as an Arrow view and copied once into a
// DuckDB TEMP TABLE (CREATE TEMP TABLE … AS SELECT * FROM view: one full,
// unfiltered scan); every name the engine gives the input is a TEMP VIEW
// over that table. Querying the Arrow views directly, as planned, is not
// safe with DuckDB's C API (duckdb-go v2.10506.0), and each failure is
// silent or fatal:
//
//   - DuckDB pushes WHERE filters into the Arrow scan and expects the
//     producer to apply them (only its Python client does): the filter is
//     lost and every row comes back (duckdb/duckdb#16050);
//   - a stream can be scanned once: a self-join sees no rows on one side
//     (duckdb/duckdb#19040);
//   - `WHERE col IS NULL` over such a view crashed the process (SIGSEGV).
//
// The copy costs: 1M rows × 3 columns, group-by, 15 ms through the view vs
// 72 ms with the copy. Temp tables spill to the step's TempDir when memory
// runs short.
type Processor struct{}

var _ component.Transformer = Processor{}

// Transform runs the step's query over in.
func (Processor) Transform(ctx context.Context, req *component.Request, in component.Inputs) (array.RecordReader, error) {
	query := strings.TrimSpace(req.Config.String("query"))
	if query == "" {
		return nil, fmt.Errorf("step %q: duckdb.processor needs a query", req.StepID)
	}
	if err := checkInputNames(in); err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	if err := checkQuery(req, query); err != nil {
		return nil, err
	}
	rr, err := runProcessor(ctx, req, in, query)
	if err != nil {
		return nil, err
	}
	return Rebatch(rr, req.BatchRows, req.MaxBatchBytes(), req.Alloc), nil
}

func checkInputNames(in component.Inputs) error {
	seen := map[string]string{}
	for _, input := range in {
		for _, name := range input.Names {
			key := strings.ToLower(name)
			if other, dup := seen[key]; dup && other != input.Table.StepID() {
				return fmt.Errorf("input name %q is used by two inputs (%s and %s)", name, other, input.Table.StepID())
			}
			seen[key] = input.Table.StepID()
		}
	}
	return nil
}

// runProcessor sets up a fresh in-memory database with the inputs and runs
// query; the returned reader closes the database when released.
func runProcessor(ctx context.Context, req *component.Request, in component.Inputs, query string) (rr array.RecordReader, err error) {
	s, err := Open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	// Temp tables and large joins spill to the step's TempDir rather than
	// into the process's working directory; the query reads only the files
	// it names (or, when those are built at run time, the workspace's data).
	access := WorkspaceAccess(req)
	if a, err := AnalyzeQuery(query); err == nil && a.ReadsUnknown == "" {
		access = QueryAccess(req, a.Reads) // only what the query names
	}
	// An input read back from its parquet artifact is read by DuckDB's own
	// parquet reader (parallel, no detour through Arrow batches): the one
	// file is allowed besides what the query may read.
	for _, input := range in {
		if component.FromParquet(input.Table) {
			access.Paths = append(access.Paths, input.Table.ParquetPath())
		}
	}
	if err := s.Confine(ctx, access); err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	// DuckDB's share of the run's memory budget; it spills the rest to the
	// step's temp directory.
	if err := s.LimitMemory(ctx, req.WorkingMemoryNow()); err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	for _, input := range in {
		if err := checkInputTypes(input.Table.Schema()); err != nil {
			return nil, fmt.Errorf("step %q: input %s: %w", req.StepID, input.Table.StepID(), err)
		}
	}
	for i, input := range in {
		if component.FromParquet(input.Table) {
			// A view, not a copy: DuckDB reads only the columns and row
			// groups the query needs, as often as it needs them.
			if err := s.Exec(ctx, "CREATE TEMP VIEW "+copyName(i)+" AS SELECT * FROM read_parquet("+QuoteString(input.Table.ParquetPath())+")"); err != nil {
				return nil, fmt.Errorf("step %q: loading input %s into duckdb: %w", req.StepID, input.Table.StepID(), err)
			}
			component.DoneReading(input.Table)
			if err := nameInput(ctx, s, req, input, i); err != nil {
				return nil, err
			}
			continue
		}
		// Read once, into DuckDB's copy: the engine may hand the batches
		// over and free each as DuckDB has taken it.
		src, err := component.OpenOnce(ctx, input.Table)
		if err != nil {
			return nil, fmt.Errorf("step %q: opening input %s: %w", req.StepID, input.Table.StepID(), err)
		}
		// A handed-over input's budget is DuckDB's now.
		if err := s.LimitMemory(ctx, req.WorkingMemoryNow()); err != nil {
			src.Release()
			return nil, fmt.Errorf("step %q: %w", req.StepID, err)
		}
		if err := s.RegisterView(src, streamName(i)); err != nil {
			return nil, fmt.Errorf("step %q: input %s: %w", req.StepID, input.Table.StepID(), err)
		}
		if err := s.Exec(ctx, "CREATE TEMP TABLE "+copyName(i)+" AS SELECT * FROM "+streamName(i)); err != nil {
			return nil, fmt.Errorf("step %q: loading input %s into duckdb: %w", req.StepID, input.Table.StepID(), err)
		}
		// DuckDB holds the input now: its Arrow batches can go (the engine
		// keeps them if another consumer still needs them), and DuckDB's
		// share of the budget grows by what they leave.
		if err := s.DropView(ctx, streamName(i)); err != nil {
			return nil, fmt.Errorf("step %q: input %s: %w", req.StepID, input.Table.StepID(), err)
		}
		component.DoneReading(input.Table)
		if err := s.LimitMemory(ctx, req.WorkingMemoryNow()); err != nil {
			return nil, fmt.Errorf("step %q: %w", req.StepID, err)
		}
		if err := nameInput(ctx, s, req, input, i); err != nil {
			return nil, err
		}
	}
	res, err := s.Query(ctx, query)
	if err != nil {
		return nil, queryError(req.StepID, in, err)
	}
	if err := component.CheckSchemaColumnNames(res.Schema()); err != nil {
		res.Release()
		return nil, fmt.Errorf("step %q: the query's result: %w", req.StepID, err)
	}
	return &sessionReader{RecordReader: res, session: s}, nil
}

// nameInput makes input i's copy visible under every name the engine gives it.
func nameInput(ctx context.Context, s *Session, req *component.Request, input component.Input, i int) error {
	for _, name := range input.Names {
		if err := s.Exec(ctx, "CREATE OR REPLACE TEMP VIEW "+QuoteIdent(name)+" AS SELECT * FROM "+copyName(i)); err != nil {
			return fmt.Errorf("step %q: naming input %s %q: %w", req.StepID, input.Table.StepID(), name, err)
		}
	}
	return nil
}

func streamName(i int) string { return fmt.Sprintf("osiris_input_stream_%d", i) }
func copyName(i int) string   { return fmt.Sprintf("osiris_input_copy_%d", i) }

var missingTable = regexp.MustCompile(`Table with name ([^ ]+) does not exist`)

// UnknownTableError is a query naming a table that is not an input.
type UnknownTableError struct {
	StepID    string
	Table     string
	Available []string
	Err       error // DuckDB's own error
}

func (e *UnknownTableError) Error() string {
	return fmt.Sprintf("step %q: table %q is not an input; available: %s", e.StepID, e.Table, strings.Join(e.Available, ", "))
}

func (e *UnknownTableError) Unwrap() error { return e.Err }

// queryError rewrites DuckDB's "table does not exist" into the list of the
// step's inputs (DuckDB would suggest system tables instead); any other error
// keeps DuckDB's message, which includes its own "did you mean".
func queryError(stepID string, in component.Inputs, err error) error {
	if m := missingTable.FindStringSubmatch(err.Error()); m != nil {
		var names []string
		for _, input := range in {
			names = append(names, input.Names...)
		}
		if len(names) == 0 {
			names = []string{"(none: the step has no inputs)"}
		}
		return &UnknownTableError{StepID: stepID, Table: strings.Trim(m[1], `"`), Available: names, Err: err}
	}
	return fmt.Errorf("step %q: duckdb: %w", stepID, err)
}
