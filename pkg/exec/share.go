package exec

import (
	"context"
	"runtime/debug"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// How one memory budget is shared (see doc.go, "Memory"): the held step
// outputs take what they need first; a step's own engine (DuckDB) gets the
// rest, never less than a floor; a consumer that copied its input into its
// own engine hands the input back so the budget is not spent twice.

// minWorkingMemory is the least a step's own engine is given, however much
// of the budget the held outputs use: DuckDB spills beyond it to the step's
// temp directory, and below a few dozen MiB it spills for nothing.
const minWorkingMemory = 64 << 20

// workingMemory is what a step's own engine may use now: the budget less
// what held outputs use, at least a quarter of the budget (and
// minWorkingMemory). 0 means no limit: an unlimited budget, or "0" (keep
// nothing in memory), where the budget says nothing about engines.
func (c *hybridCache) workingMemory() int64 {
	if c.budget <= 0 {
		return 0
	}
	free := c.budget - c.used.Load()
	return max(free, c.budget/4, minWorkingMemory)
}

// consumerFinished marks consumer as done with o, once: the engine calls
// it when the consumer step ends, and the consumer itself may call it
// earlier (DoneReading). The memory copy goes when every consumer is done.
func (o *stepOutput) consumerFinished(consumer string) {
	o.mu.Lock()
	if o.finished == nil {
		o.finished = map[string]bool{}
	}
	if o.finished[consumer] {
		o.mu.Unlock()
		return
	}
	o.finished[consumer] = true
	o.mu.Unlock()
	o.consumerDone()
	if o.streaming {
		o.mu.Lock()
		o.unsubscribeLocked(consumer)
		o.mu.Unlock()
	}
}

// DoneReading releases the input's memory copy early when no other
// consumer needs it (component.DoneReading). Open afterwards reads the
// parquet artifact.
func (t *inputTable) DoneReading() {
	if t.consumer != "" {
		t.out.consumerFinished(t.consumer)
	}
}

// OpenOnce is Open for a consumer that reads the input once, to the end,
// and never again (component.OpenOnce). When no other consumer needs the
// memory copy, it is handed over: its budget is given back at once (the
// consumer's engine takes it over, see WorkingMemory) and each batch is
// freed as the reader moves past it, so a consumer that copies its input
// (DuckDB) never holds it twice. Otherwise it is Open.
func (t *inputTable) OpenOnce(ctx context.Context) (array.RecordReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := t.out
	if t.source == SourceStream {
		// A stream reader already lets each batch go as it moves on.
		return t.openStreamed(ctx)
	}
	if t.source != SourceMemory || t.consumer == "" {
		return t.Open(ctx)
	}
	o.mu.Lock()
	if !o.holding || !o.complete || o.consumersLeft != 1 || o.finished[t.consumer] {
		o.mu.Unlock()
		return t.Open(ctx)
	}
	// The budget is given back at once: as the consumer's engine takes the
	// batches its memory grows while theirs shrinks, so from now on the
	// table counts against the engine's share (WorkingMemory), not twice.
	h := &handover{schema: o.schema, batches: o.batches, held: o.held, rows: o.rows}
	h.refs.Store(1)
	o.cache.unreserve(o.held)
	o.batches, o.held, o.holding = nil, 0, false
	if o.finished == nil {
		o.finished = map[string]bool{}
	}
	o.finished[t.consumer] = true
	o.consumersLeft--
	o.mu.Unlock()
	if t.delivered != nil {
		return &countingReader{RecordReader: h, n: t.delivered}, nil
	}
	return h, nil
}

// handover reads batches it owns and lets each go once the reader has
// moved past it.
type handover struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	held    int64 // bytes of the batches not yet released
	rows    int64 // rows in batches not yet released
	cur     arrow.RecordBatch
	refs    atomic.Int64
	freed   int64 // bytes released since memory was last returned
	started bool
}

func (h *handover) Schema() *arrow.Schema          { return h.schema }
func (h *handover) Err() error                     { return nil }
func (h *handover) RecordBatch() arrow.RecordBatch { return h.cur }
func (h *handover) Record() arrow.RecordBatch      { return h.cur }
func (h *handover) Retain()                        { h.refs.Add(1) }

// drop releases rec, counting its share of the bytes held.
func (h *handover) drop(rec arrow.RecordBatch) {
	share := h.held
	if n := rec.NumRows(); h.rows > n {
		share = h.held * n / h.rows
	}
	h.rows -= rec.NumRows()
	h.held -= share
	h.freed += share
	rec.Release()
}

func (h *handover) Next() bool {
	if !h.started {
		// The producer's garbage (builders, encoders) is still mapped: give
		// it back before the consumer's engine starts allocating.
		h.started = true
		debug.FreeOSMemory()
	}
	if h.cur != nil {
		h.drop(h.cur)
		h.cur = nil
	}
	if h.freed >= returnEvery {
		h.returnMemory()
	}
	if len(h.batches) == 0 {
		if h.freed > 0 {
			h.returnMemory()
		}
		return false
	}
	h.cur, h.batches = h.batches[0], h.batches[1:]
	return true
}

// returnEvery is how many bytes of released batches make the handover
// hand memory back to the operating system.
const returnEvery = 64 << 20

// returnMemory hands what released batches occupied back to the operating
// system: the consumer's engine allocates outside Go's heap, and pages the
// Go runtime keeps for later would count twice. The live heap is small by
// then, so the forced collection is cheap.
func (h *handover) returnMemory() {
	h.freed = 0
	debug.FreeOSMemory()
}

func (h *handover) Release() {
	if h.refs.Add(-1) != 0 {
		return
	}
	if h.cur != nil {
		h.drop(h.cur)
		h.cur = nil
	}
	for _, b := range h.batches {
		h.drop(b)
	}
	h.batches = nil
}
