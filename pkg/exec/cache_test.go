package exec

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestCacheBudgetAndRelease(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rec := genBatch(mem, 0, 100, 0, false, 100)
	size := recordBytes(rec)

	for _, tc := range []struct {
		name     string
		budget   int64
		batches  int
		wantHeld bool
	}{
		{"zero budget holds nothing", 0, 1, false},
		{"unlimited holds all", -1, 5, true},
		{"fits exactly", 3 * size, 3, true},
		{"one batch too many spills everything", 3 * size, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newHybridCache(tc.budget)
			o := &stepOutput{cache: c, stepID: "s", holding: tc.budget != 0, consumersLeft: 2}
			for i := 0; i < tc.batches; i++ {
				o.hold(rec, size)
			}
			o.complete = true
			held, bytes := o.inMemory()
			if held != tc.wantHeld {
				t.Fatalf("held = %v, want %v", held, tc.wantHeld)
			}
			if held && (bytes != int64(tc.batches)*size || c.used.Load() != bytes) {
				t.Errorf("held %d bytes, cache used %d", bytes, c.used.Load())
			}
			if !held && c.used.Load() != 0 {
				t.Errorf("spilled step still accounts %d bytes", c.used.Load())
			}
			o.consumerDone()
			if held2, _ := o.inMemory(); held2 != held {
				t.Error("memory released before the last consumer finished")
			}
			o.consumerDone()
			if held3, _ := o.inMemory(); held3 || c.used.Load() != 0 {
				t.Errorf("after the last consumer: held %v, used %d", held3, c.used.Load())
			}
		})
	}
	rec.Release()
}
