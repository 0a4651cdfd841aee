package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
)

// Test-only components. They are registered under names no real driver
// uses; the engine only ever sees them through the registry.

// tracker records what the test drivers did, per test tag.
type tracker struct {
	mu        sync.Mutex
	active    int
	maxActive int
	started   map[string]int // step id → Extract/Transform/Write calls
	rows      map[string]int64
	hooks     map[string]func(ctx context.Context, req *component.Request) error
}

var trackers sync.Map // tag → *tracker

func trackerFor(tag string) *tracker {
	t, _ := trackers.LoadOrStore(tag, &tracker{started: map[string]int{}, rows: map[string]int64{}, hooks: map[string]func(context.Context, *component.Request) error{}})
	return t.(*tracker)
}

func (t *tracker) enter(step string) func() {
	t.mu.Lock()
	t.active++
	t.started[step]++
	if t.active > t.maxActive {
		t.maxActive = t.active
	}
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		t.active--
		t.mu.Unlock()
	}
}

func (t *tracker) calls(step string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.started[step]
}

func (t *tracker) max() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.maxActive
}

func init() {
	tag := component.Field{Name: "tag", Type: component.TypeString}
	component.Register(component.Spec{Name: "test.gen", Role: component.RoleExtract, Modes: []string{"read"},
		Fields: []component.Field{tag, {Name: "rows", Type: component.TypeInteger}, {Name: "batch", Type: component.TypeInteger},
			{Name: "reverse", Type: component.TypeBoolean}, {Name: "sleep", Type: component.TypeDuration}, {Name: "offset", Type: component.TypeInteger},
			{Name: "pace", Type: component.TypeDuration}, {Name: "fail_at", Type: component.TypeInteger}}},
		genDriver{})
	component.Register(component.Spec{Name: "test.fail", Role: component.RoleExtract, Modes: []string{"read"},
		Fields: []component.Field{tag, {Name: "after", Type: component.TypeInteger}, {Name: "echo", Type: component.TypeString}}},
		failDriver{})
	component.Register(component.Spec{Name: "test.slow", Role: component.RoleExtract, Modes: []string{"read"},
		Fields: []component.Field{tag}}, slowDriver{})
	component.Register(component.Spec{Name: "test.hook", Role: component.RoleTransform, Modes: []string{"transform"},
		Fields: []component.Field{tag}}, hookDriver{})
	component.Register(component.Spec{Name: "test.panic", Role: component.RoleExtract, Modes: []string{"read"}}, panicDriver{})
	component.Register(component.Spec{Name: "test.concat", Role: component.RoleTransform, Modes: []string{"transform"},
		Fields: []component.Field{tag}}, concatDriver{})
	component.Register(component.Spec{Name: "test.sink", Role: component.RoleWrite, Modes: []string{"write"},
		Fields: []component.Field{tag, {Name: "lie", Type: component.TypeInteger}, {Name: "wait_artifact", Type: component.TypeBoolean}}}, sinkDriver{})
	component.Register(component.Spec{Name: "test.conn", Role: component.RoleExtract, Modes: []string{"read"},
		Families: []string{"testdb"}, ConnectionRequired: true, Fields: []component.Field{tag}}, connDriver{})
	component.Register(component.Spec{Name: "test.nodriver", Role: component.RoleExtract, Modes: []string{"read"}}, nil)
}

// genSchema has one column of most logical kinds.
var genSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "small", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "big", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "ratio", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32},
	{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "blob", Type: arrow.BinaryTypes.Binary, Nullable: true},
}, nil)

// genBatch builds rows [from, to) of the generated table (row i has id i+offset).
func genBatch(mem memory.Allocator, from, to, offset int64, reverse bool, total int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, genSchema)
	defer b.Release()
	for k := from; k < to; k++ {
		i := k
		if reverse {
			i = total - 1 - k
		}
		i += offset
		b.Field(0).(*array.Int64Builder).Append(i)
		if i%7 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Int32Builder).Append(int32(i % 1000))
		}
		b.Field(2).(*array.Uint64Builder).Append(^uint64(0) - uint64(i))
		if i%11 == 0 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Float64Builder).Append(float64(i) / 3)
		}
		switch i % 5 {
		case 0:
			b.Field(4).AppendNull()
		case 1:
			b.Field(4).(*array.StringBuilder).Append("")
		default:
			b.Field(4).(*array.StringBuilder).Append(fmt.Sprintf("name-%d-é🙂", i))
		}
		b.Field(5).(*array.BooleanBuilder).Append(i%2 == 0)
		if i%13 == 0 {
			b.Field(6).AppendNull()
		} else {
			b.Field(6).(*array.Decimal128Builder).Append(decimal128.FromI64(i*101 - 5000))
		}
		b.Field(7).(*array.Date32Builder).Append(arrow.Date32(int32(i % 40000)))
		b.Field(8).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000 + i*1_000_003))
		if i%3 == 0 {
			b.Field(9).AppendNull()
		} else {
			b.Field(9).(*array.BinaryBuilder).Append([]byte{byte(i), byte(i >> 8), 0})
		}
	}
	return b.NewRecordBatch()
}

// genReader produces the generated table lazily, batch by batch.
type genReader struct {
	refs    atomic.Int64
	ctx     context.Context
	mem     memory.Allocator
	total   int64
	batch   int64
	offset  int64
	reverse bool
	next    int64
	cur     arrow.RecordBatch
	err     error
	onRows  func(int64)
	failAt  int64 // produce an error once this many rows were produced (0 = never)
	failErr error
	pace    time.Duration // wait before each batch
}

func (g *genReader) Retain()               { g.refs.Add(1) }
func (g *genReader) Schema() *arrow.Schema { return genSchema }
func (g *genReader) Err() error            { return g.err }
func (g *genReader) RecordBatch() arrow.RecordBatch {
	return g.cur
}
func (g *genReader) Record() arrow.RecordBatch { return g.cur }
func (g *genReader) Release() {
	if g.refs.Add(-1) < 0 && g.cur != nil {
		g.cur.Release()
		g.cur = nil
	}
}
func (g *genReader) Next() bool {
	if g.cur != nil {
		g.cur.Release()
		g.cur = nil
	}
	if g.err != nil {
		return false
	}
	if err := g.ctx.Err(); err != nil {
		g.err = err
		return false
	}
	if g.pace > 0 && g.next < g.total {
		select {
		case <-time.After(g.pace):
		case <-g.ctx.Done():
			g.err = g.ctx.Err()
			return false
		}
	}
	if g.failAt > 0 && g.next >= g.failAt {
		g.err = g.failErr
		return false
	}
	if g.next >= g.total {
		return false
	}
	end := min(g.next+g.batch, g.total)
	if g.failAt > 0 {
		end = min(end, g.failAt)
	}
	g.cur = genBatch(g.mem, g.next, end, g.offset, g.reverse, g.total)
	g.next = end
	return true
}

type genDriver struct{}

func (genDriver) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	tr := trackerFor(req.Config.String("tag"))
	leave := tr.enter(req.StepID)
	defer leave()
	if d := req.Config.Duration("sleep", 0); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	batch := req.Config.Int("batch", int64(req.BatchRows))
	return &genReader{ctx: ctx, mem: req.Alloc, total: req.Config.Int("rows", 100), batch: batch,
		offset: req.Config.Int("offset", 0), reverse: req.Config.Bool("reverse", false),
		pace: req.Config.Duration("pace", 0), failAt: req.Config.Int("fail_at", 0), failErr: errors.New("source connection lost")}, nil
}

type failDriver struct{}

func (failDriver) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	trackerFor(req.Config.String("tag")).enter(req.StepID)()
	msg := "connection refused"
	if e := req.Config.String("echo"); e != "" {
		// Drivers often echo DSNs in their errors and logs.
		req.Log.Error().Msgf("dialing %s failed", e)
		msg = "dial " + e + ": connection refused"
	}
	after := req.Config.Int("after", 0)
	if after == 0 {
		return nil, errors.New(msg)
	}
	return &genReader{ctx: ctx, mem: req.Alloc, total: after * 10, batch: 10, failAt: after, failErr: errors.New(msg)}, nil
}

type slowDriver struct{}

func (slowDriver) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	tr := trackerFor(req.Config.String("tag"))
	defer tr.enter(req.StepID)()
	<-ctx.Done()
	return nil, fmt.Errorf("slow step stopped: %w", ctx.Err())
}

type panicDriver struct{}

func (panicDriver) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	var m map[string]int
	m["boom"]++ // a driver bug
	return nil, nil
}

// hookDriver runs the test's hook for the step, then outputs nothing.
type hookDriver struct{}

func (hookDriver) Transform(ctx context.Context, req *component.Request, in component.Inputs) (array.RecordReader, error) {
	tr := trackerFor(req.Config.String("tag"))
	tr.mu.Lock()
	h := tr.hooks[req.StepID]
	tr.mu.Unlock()
	if h != nil {
		if err := h(ctx, req); err != nil {
			return nil, err
		}
	}
	return array.NewRecordReader(genSchema, nil)
}

// concatDriver outputs all rows of all inputs (same schema), reading them
// through Table.Open like a real transform.
type concatDriver struct{}

func (concatDriver) Transform(ctx context.Context, req *component.Request, in component.Inputs) (array.RecordReader, error) {
	trackerFor(req.Config.String("tag")).enter(req.StepID)()
	if len(in) == 0 {
		return nil, errors.New("concat needs inputs")
	}
	schema := in[0].Table.Schema()
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, input := range in {
		rdr, err := input.Table.Open(ctx)
		if err != nil {
			return nil, err
		}
		for rdr.Next() {
			rec := rdr.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
		}
		err = rdr.Err()
		rdr.Release()
		if err != nil {
			return nil, err
		}
	}
	return array.NewRecordReader(schema, recs)
}

type sinkDriver struct{}

func (sinkDriver) Write(ctx context.Context, req *component.Request, in component.Table) (component.WriteResult, error) {
	tr := trackerFor(req.Config.String("tag"))
	defer tr.enter(req.StepID)()
	if req.Config.Bool("wait_artifact", false) {
		// Like a TRUNCATE waiting for the lock of the extract that reads
		// the same table: nothing is read until the upstream finished.
		for {
			if _, err := os.Stat(in.ParquetPath()); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return component.WriteResult{}, ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	rdr, err := in.Open(ctx)
	if err != nil {
		return component.WriteResult{}, err
	}
	defer rdr.Release()
	var n int64
	for rdr.Next() {
		n += rdr.RecordBatch().NumRows()
	}
	if err := rdr.Err(); err != nil {
		return component.WriteResult{}, err
	}
	// A writer commits here: its input must be complete, artifact and all.
	if _, err := os.Stat(in.ParquetPath()); err != nil {
		return component.WriteResult{}, fmt.Errorf("input ended before its artifact was committed: %w", err)
	}
	tr.mu.Lock()
	tr.rows[req.StepID] += n
	tr.mu.Unlock()
	return component.WriteResult{RowsWritten: n + req.Config.Int("lie", 0), Files: []string{"out/" + req.StepID + ".csv"}}, nil
}

type connDriver struct{}

func (connDriver) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	if req.Conn == nil {
		return nil, errors.New("no connection")
	}
	return &genReader{ctx: ctx, mem: req.Alloc, total: 3, batch: 3, offset: req.Config.Int("offset", 0)}, nil
}

// Manifest helpers.

func testManifest(steps ...compile.Step) *compile.Manifest {
	return &compile.Manifest{
		Format:       compile.ManifestFormat,
		Pipeline:     compile.ManifestPipeline{Name: "Test pipeline", Slug: "test_pipe", File: "pipelines/test_pipe.yaml"},
		Profile:      "dev",
		Steps:        steps,
		ManifestHash: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	}
}

func st(id, comp string, needs []string, cfg map[string]any) compile.Step {
	if cfg == nil {
		cfg = map[string]any{}
	}
	if needs == nil {
		needs = []string{}
	}
	return compile.Step{ID: id, Component: comp, Mode: "read", Needs: needs, Config: cfg, Cache: "auto", CfgPath: "cfg/" + id + ".json"}
}

func nt(ids ...string) []string { return ids }

// eventLog collects events for assertions.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) Emit(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

func (l *eventLog) named(name string) []Event {
	var out []Event
	for _, e := range l.all() {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

func (l *eventLog) forStep(name, step string) (Event, bool) {
	for _, e := range l.all() {
		if e.Event == name && e.Step == step {
			return e, true
		}
	}
	return Event{}, false
}

// checkSeq asserts seq 1..n without gaps and a terminal event last.
func checkSeq(t *testing.T, events []Event) {
	t.Helper()
	if len(events) == 0 {
		t.Fatal("no events")
	}
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d (%s) has seq %d, want %d", i, e.Event, e.Seq, i+1)
		}
		if e.V != EventVersion || e.RunID == "" || e.TS.IsZero() {
			t.Fatalf("event %d envelope incomplete: %+v", i, e)
		}
	}
	if !events[len(events)-1].IsTerminal() {
		t.Fatalf("last event is %s, want a terminal event", events[len(events)-1].Event)
	}
	for _, e := range events[:len(events)-1] {
		if e.IsTerminal() {
			t.Fatalf("terminal event %s before the end", e.Event)
		}
	}
}

// runEnv returns an environment writing to a fresh run dir, plus its log.
func runEnv(t *testing.T) (RunEnv, *eventLog) {
	t.Helper()
	log := &eventLog{}
	return RunEnv{RunID: NewRunID(), RunDir: t.TempDir(), Sink: log}, log
}
