package duckdb

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
)

// doneTable records component.DoneReading.
type doneTable struct {
	*componenttest.MemTable
	done atomic.Int32
}

func (d *doneTable) DoneReading() { d.done.Add(1) }

// TestProcessorSharesTheBudget: the processor gives DuckDB the budget's
// working memory as memory_limit, spills into the step's temp directory,
// and hands each input back (DoneReading) once DuckDB holds its copy,
// before the query runs, so the engine can free the Arrow batches.
func TestProcessorSharesTheBudget(t *testing.T) {
	root := t.TempDir()
	in := &doneTable{MemTable: idValueTable(t, "up", 5000, 1000)}
	req := componenttest.Request(t, component.Config{"query": "SELECT current_setting('memory_limit') AS m, current_setting('temp_directory') AS d, count(*) AS n FROM input_df"}, nil, root)
	req.TempDir = t.TempDir()
	var asked atomic.Int32
	req.WorkingMemory = func() int64 {
		if asked.Add(1) == 1 {
			return 100 << 20 // before the inputs are copied
		}
		return 300 << 20 // after: the input's batches are gone
	}
	rr, err := Processor{}.Transform(context.Background(), req, component.Inputs{{Names: []string{"input_df"}, Table: in}})
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := componenttest.Drain(t, rr)
	defer release(recs)
	if in.done.Load() != 1 {
		t.Fatalf("DoneReading called %d times", in.done.Load())
	}
	m := recs[0].Column(0).(*array.String).Value(0)
	d := recs[0].Column(1).(*array.String).Value(0)
	if m != "300.0 MiB" {
		t.Errorf("memory_limit %q, want 300.0 MiB", m)
	}
	if !strings.HasPrefix(d, req.TempDir) {
		t.Errorf("temp_directory %q is not in the step's temp dir %s", d, req.TempDir)
	}
	if n := recs[0].Column(2).(*array.Int64).Value(0); n != 5000 {
		t.Errorf("count %d", n)
	}
}
