package exec

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Streaming ([run] streaming, doc.go "Streaming"): a step's output is
// published batch by batch while its tee runs, and consumers that started
// while it runs subscribe to it. The parquet artifact is written exactly as
// without streaming; the stream ends (io.EOF for its readers) only after the
// producing step has completed successfully, artifact committed and digest
// computed, so no writer can commit a table its upstream did not finish.

// streamWindow is how many batches a stream keeps ahead of its slowest
// subscriber once it holds nothing for consumers that have not started:
// the producer waits (back-pressure) for a subscriber with one input, and
// detaches a subscriber with several inputs, which then reads the parquet
// artifact once it is committed (it could be waiting on another input, so
// waiting for it could deadlock).
const streamWindow = 4

// stallDetach is how long a producer waits for a subscriber that takes
// nothing before it detaches it (the subscriber then reads the committed
// parquet): a writer may itself wait for its upstream to finish, e.g. a
// TRUNCATE waiting for the lock of the extract that reads the same table.
const stallDetach = 2 * time.Second

// streamEntry is one published batch.
type streamEntry struct {
	rec      arrow.RecordBatch
	size     int64
	reserved bool // counted in the run's budget
}

// subscriber is one consumer reading a stream.
type subscriber struct {
	pos      int   // absolute index of the next batch to take
	rows     int64 // rows taken so far
	blocking bool  // the producer waits for it (a consumer with one input)
	detached bool  // it reads the committed parquet instead
}

// notifyLocked wakes everyone waiting on the stream.
func (o *stepOutput) notifyLocked() {
	if o.changed != nil {
		close(o.changed)
	}
	o.changed = make(chan struct{})
}

// openStream publishes the output's schema: from now on consumers may
// subscribe. It reports whether the output streams.
func (o *stepOutput) openStream(schema *arrow.Schema) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.schema = schema
	if !o.streaming {
		return false
	}
	o.open = true
	o.notifyLocked()
	return true
}

// canSubscribe reports whether a consumer starting now gets every batch
// from the stream.
func (o *stepOutput) canSubscribe() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.canSubscribeLocked()
}

func (o *stepOutput) canSubscribeLocked() bool {
	return o.streaming && o.open && !o.ended && !o.gap
}

// subscribe adds consumer to a running stream, or reports false when the
// stream cannot give it every batch (it then waits for the step's end).
func (o *stepOutput) subscribe(consumer string, blocking bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.subs[consumer]; ok {
		return true // subscribed when the scheduler started it
	}
	if !o.canSubscribeLocked() || o.finished[consumer] {
		return false
	}
	if o.subs == nil {
		o.subs = map[string]*subscriber{}
	}
	o.subs[consumer] = &subscriber{pos: o.base, blocking: blocking}
	o.reconsiderLocked()
	return true
}

// reconsiderLocked stops holding batches for consumers that have not
// started once every consumer has subscribed (or finished), and drops what
// every subscriber has taken.
func (o *stepOutput) reconsiderLocked() {
	if !o.ended && o.consumersLeft-len(o.subs) <= 0 {
		o.holding = false
	}
	o.trimLocked()
	o.notifyLocked()
}

// trimLocked drops the batches that no live subscriber needs any more,
// unless the stream still holds the whole table for a later consumer.
func (o *stepOutput) trimLocked() {
	if o.holding && !o.ended {
		return
	}
	limit := o.base + len(o.entries)
	for _, s := range o.subs {
		if !s.detached && s.pos < limit {
			limit = s.pos
		}
	}
	n := limit - o.base
	if n <= 0 {
		return
	}
	for _, e := range o.entries[:n] {
		o.dropEntry(e)
	}
	o.entries = append(o.entries[:0:0], o.entries[n:]...)
	o.base = limit
	o.gap = true
}

func (o *stepOutput) dropEntry(e streamEntry) {
	if e.reserved {
		o.cache.unreserve(e.size)
		o.streamHeld -= e.size
	}
	e.rec.Release()
}

func (o *stepOutput) liveSubsLocked() int {
	n := 0
	for _, s := range o.subs {
		if !s.detached {
			n++
		}
	}
	return n
}

// publish hands rec to the stream (called by the tee for every batch). It
// waits while a one-input subscriber is streamWindow batches behind.
func (o *stepOutput) publish(ctx context.Context, rec arrow.RecordBatch, size int64) error {
	o.mu.Lock()
	for {
		if !o.holding && o.liveSubsLocked() == 0 {
			if !o.gap && len(o.entries) < streamWindow {
				// The first batches wait for a consumer about to start.
				o.appendLocked(rec, size, o.cache.reserve(size))
				break
			}
			// Nobody wants it from memory: later consumers read parquet.
			o.gap = true
			for _, e := range o.entries {
				o.dropEntry(e)
			}
			o.base += len(o.entries)
			o.entries = nil
			o.mu.Unlock()
			return nil
		}
		if o.holding {
			if o.cache.reserve(size) {
				o.appendLocked(rec, size, true)
				break
			}
			// The whole table no longer fits: later consumers read
			// parquet; the subscribers keep streaming.
			o.holding = false
			o.trimLocked()
			o.gap = true
			continue
		}
		if len(o.entries) < streamWindow {
			o.appendLocked(rec, size, o.cache.reserve(size))
			break
		}
		detached := false
		for _, s := range o.subs {
			if !s.detached && !s.blocking && s.pos < o.base+len(o.entries) {
				s.detached = true
				detached = true
			}
		}
		if detached {
			o.trimLocked()
			o.notifyLocked()
			continue
		}
		ch := o.changed
		o.mu.Unlock()
		stall := time.NewTimer(stallDetach)
		select {
		case <-ch:
			stall.Stop()
		case <-stall.C:
			// Nobody took a batch for that long: the ones holding up the
			// front read parquet from here on.
			o.mu.Lock()
			for _, s := range o.subs {
				if !s.detached && s.pos == o.base {
					s.detached = true
				}
			}
			o.trimLocked()
			o.notifyLocked()
			o.mu.Unlock()
		case <-ctx.Done():
			stall.Stop()
			return ctx.Err()
		}
		o.mu.Lock()
	}
	o.notifyLocked()
	o.mu.Unlock()
	return nil
}

func (o *stepOutput) appendLocked(rec arrow.RecordBatch, size int64, reserved bool) {
	rec.Retain()
	o.entries = append(o.entries, streamEntry{rec: rec, size: size, reserved: reserved})
	if reserved {
		o.streamHeld += size
		if o.streamHeld > o.peak {
			o.peak = o.streamHeld
		}
	}
}

// endStream ends the stream: err == nil once the step has completed
// successfully (its artifact committed), otherwise its failure, which every
// subscriber's reader returns. When the stream still holds the whole table
// it becomes the output's memory copy, as a step without streaming leaves
// it.
func (o *stepOutput) endStream(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.streaming || o.ended {
		return
	}
	o.ended = true
	if err != nil {
		o.failErr = err
		for _, e := range o.entries {
			o.dropEntry(e)
		}
		o.entries = nil
	} else if o.holding && !o.gap && o.base == 0 {
		// Hand the reservation over to the memory copy; the entries keep
		// their own references for the subscribers still reading them.
		for i := range o.entries {
			e := &o.entries[i]
			e.rec.Retain()
			o.batches = append(o.batches, e.rec)
			o.held += e.size
			e.reserved = false
		}
		o.streamHeld = 0
	} else if o.holding {
		o.holding = false
	}
	o.trimLocked()
	if o.endedCh != nil {
		close(o.endedCh)
	}
	o.notifyLocked()
}

// waitEnded waits for the producing step to end and returns its failure.
func (o *stepOutput) waitEnded(ctx context.Context) error {
	o.mu.Lock()
	ch := o.endedCh
	o.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failErr != nil {
		return fmt.Errorf("input from step %q failed: %w", o.stepID, o.failErr)
	}
	return nil
}

// unsubscribeLocked forgets consumer's subscription (it finished).
func (o *stepOutput) unsubscribeLocked(consumer string) {
	if _, ok := o.subs[consumer]; !ok {
		return
	}
	delete(o.subs, consumer)
	o.reconsiderLocked()
}

// releaseStream drops every batch the stream holds (end of run).
func (o *stepOutput) releaseStream() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.entries {
		o.dropEntry(e)
	}
	o.entries = nil
}

// streamReader is a subscriber's reader: batches as they are published,
// each let go as the reader moves past it; after a detach, the committed
// parquet artifact from the first row not yet read.
type streamReader struct {
	ctx        context.Context
	t          *inputTable
	sub        *subscriber
	cur        arrow.RecordBatch
	err        error
	fallback   array.RecordReader
	skip       int64
	refs       int64
	batchRows  int
	batchBytes int64
}

func (s *streamReader) Schema() *arrow.Schema          { return s.t.out.schema }
func (s *streamReader) Err() error                     { return s.err }
func (s *streamReader) RecordBatch() arrow.RecordBatch { return s.cur }
func (s *streamReader) Record() arrow.RecordBatch      { return s.cur }
func (s *streamReader) Retain()                        { s.refs++ }

func (s *streamReader) Release() {
	if s.refs--; s.refs > 0 {
		return
	}
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	if s.fallback != nil {
		s.fallback.Release()
		s.fallback = nil
	}
}

func (s *streamReader) Next() bool {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	if s.err != nil {
		return false
	}
	if s.fallback != nil {
		return s.nextFallback()
	}
	o := s.t.out
	o.mu.Lock()
	for {
		if o.failErr != nil {
			s.err = fmt.Errorf("input from step %q failed: %w", o.stepID, o.failErr)
			o.mu.Unlock()
			return false
		}
		if s.sub.detached {
			o.mu.Unlock()
			return s.startFallback()
		}
		if i := s.sub.pos - o.base; i < len(o.entries) {
			rec := o.entries[i].rec
			rec.Retain()
			s.sub.pos++
			s.sub.rows += rec.NumRows()
			o.trimLocked()
			o.notifyLocked()
			o.mu.Unlock()
			s.cur = rec
			if s.t.delivered != nil {
				s.t.delivered.Add(rec.NumRows())
			}
			return true
		}
		if o.ended {
			o.mu.Unlock()
			return false
		}
		ch := o.changed
		o.mu.Unlock()
		select {
		case <-ch:
		case <-s.ctx.Done():
			s.err = s.ctx.Err()
			return false
		}
		o.mu.Lock()
	}
}

// startFallback waits for the artifact and reads it from the first row
// the stream did not deliver.
func (s *streamReader) startFallback() bool {
	o := s.t.out
	if err := o.waitEnded(s.ctx); err != nil {
		s.err = err
		return false
	}
	o.mu.Lock()
	s.skip = s.sub.rows
	o.mu.Unlock()
	rdr, err := openParquet(s.ctx, o.stepID, o.path, o.schema, s.batchRows, s.batchBytes, s.t.alloc)
	if err != nil {
		s.err = err
		return false
	}
	s.fallback = rdr
	return s.nextFallback()
}

func (s *streamReader) nextFallback() bool {
	for s.fallback.Next() {
		rec := s.fallback.RecordBatch()
		n := rec.NumRows()
		if s.skip >= n {
			s.skip -= n
			continue
		}
		if s.skip > 0 {
			s.cur = rec.NewSlice(s.skip, n)
			s.skip = 0
		} else {
			rec.Retain()
			s.cur = rec
		}
		if s.t.delivered != nil {
			s.t.delivered.Add(s.cur.NumRows())
		}
		return true
	}
	if err := s.fallback.Err(); err != nil {
		s.err = err
	}
	return false
}

// openStreamed is Open for an input resolved as a stream: the first
// reader is the subscription; any later one reads the committed artifact.
func (t *inputTable) openStreamed(ctx context.Context) (array.RecordReader, error) {
	o := t.out
	o.mu.Lock()
	sub := o.subs[t.consumer]
	first := !t.opened && sub != nil
	t.opened = true
	o.mu.Unlock()
	r := &streamReader{ctx: ctx, t: t, refs: 1, batchRows: t.batchRows, batchBytes: t.batchBytes}
	if first {
		r.sub = sub
		return r, nil
	}
	// A second reader: from the committed artifact.
	r.sub = &subscriber{detached: true}
	return r, nil
}
