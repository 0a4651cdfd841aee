package exec

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/component"
)

// TestDoneReadingReleasesTheLastCopy: an input's memory copy goes as soon
// as every consumer is done with it, whether the consumer said so early
// (component.DoneReading) or the engine did when the step ended, and no
// consumer is counted twice.
func TestDoneReadingReleasesTheLastCopy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := newHybridCache(1 << 30)
	o := &stepOutput{cache: c, stepID: "up", holding: true, consumersLeft: 2, schema: genSchema}
	rec := genBatch(mem, 0, 1000, 0, false, 1000)
	o.hold(rec, 4096)
	rec.Release()
	o.complete = true
	a := &inputTable{out: o, source: SourceMemory, consumer: "a"}
	b := &inputTable{out: o, source: SourceMemory, consumer: "b"}

	component.DoneReading(a)
	o.consumerFinished("a") // the engine, when step a ends: not counted again
	if held, n := o.inMemoryBytes(); !held || n != 4096 {
		t.Fatalf("released while b still needs it: holding=%v bytes=%d", held, n)
	}
	if got := c.used.Load(); got != 4096 {
		t.Fatalf("budget used %d", got)
	}
	component.DoneReading(b)
	if held, n := o.inMemoryBytes(); held || n != 0 {
		t.Fatalf("not released after the last consumer: holding=%v bytes=%d", held, n)
	}
	if got := c.used.Load(); got != 0 {
		t.Fatalf("budget still used: %d", got)
	}
	o.consumerFinished("b")
	if o.consumersLeft != 0 {
		t.Fatalf("consumersLeft %d", o.consumersLeft)
	}
}

func TestWorkingMemory(t *testing.T) {
	tests := []struct {
		budget, used, want int64
	}{
		{-1, 0, 0},                // unlimited: no limit
		{0, 0, 0},                 // "0": nothing held, no limit given
		{512 << 20, 0, 512 << 20}, // all of it
		{512 << 20, 200 << 20, 312 << 20},
		{512 << 20, 500 << 20, 128 << 20}, // a quarter at least
		{64 << 20, 64 << 20, 64 << 20},    // minWorkingMemory at least
	}
	for _, tt := range tests {
		c := newHybridCache(tt.budget)
		c.used.Store(tt.used)
		if got := c.workingMemory(); got != tt.want {
			t.Errorf("budget %d used %d: %d, want %d", tt.budget, tt.used, got, tt.want)
		}
	}
}

// TestOpenOnceHandsOver: the last consumer's OpenOnce takes the batches
// over, gives their budget to the consumer's engine and frees each batch as
// it moves past it; while another
// consumer still needs the copy, OpenOnce is a plain Open.
func TestOpenOnceHandsOver(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := newHybridCache(1 << 30)
	o := &stepOutput{cache: c, stepID: "up", holding: true, consumersLeft: 2, schema: genSchema}
	for i := int64(0); i < 4; i++ {
		rec := genBatch(mem, i*100, (i+1)*100, 0, false, 400)
		o.hold(rec, 1000)
		rec.Release()
	}
	o.rows, o.complete = 400, true
	a := &inputTable{out: o, source: SourceMemory, consumer: "a"}
	b := &inputTable{out: o, source: SourceMemory, consumer: "b"}
	ctx := context.Background()

	// a is not the last consumer: a plain reader, the copy stays.
	ra, err := component.OpenOnce(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for ra.Next() {
		rows += ra.RecordBatch().NumRows()
	}
	ra.Release()
	component.DoneReading(a)
	if held, n := o.inMemoryBytes(); rows != 400 || !held || n != 4000 {
		t.Fatalf("a read %d rows; holding=%v bytes=%d", rows, held, n)
	}

	// b is the last: the batches go as it reads.
	rb, err := component.OpenOnce(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if held, _ := o.inMemoryBytes(); held {
		t.Fatal("the cache still holds the handed-over copy")
	}
	if used := c.used.Load(); used != 0 {
		t.Fatalf("budget still used after the handover: %d", used)
	}
	rows = 0
	live := mem.CurrentAlloc()
	for i := 0; rb.Next(); i++ {
		rows += rb.RecordBatch().NumRows()
		if i > 0 && mem.CurrentAlloc() >= live {
			t.Fatalf("batch %d: nothing freed (%d bytes allocated, %d before)", i, mem.CurrentAlloc(), live)
		}
		live = mem.CurrentAlloc()
	}
	rb.Release()
	if rows != 400 || c.used.Load() != 0 {
		t.Fatalf("read %d rows; budget used %d", rows, c.used.Load())
	}
	o.consumerFinished("b") // the engine at the end of b: not counted twice
	if o.consumersLeft != 0 {
		t.Fatalf("consumersLeft %d", o.consumersLeft)
	}
	// Open after the handover reads parquet; a test without a file gets a
	// clear error, not the freed batches.
	if _, err := b.Open(ctx); err == nil {
		t.Fatal("Open after the handover returned memory")
	}
}
