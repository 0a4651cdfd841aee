package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

func TestDAGOrderAndParallelism(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		maxParallel int
		wantMax     int
	}{
		{"one at a time", 1, 1},
		{"two branches overlap", 2, 2},
		{"never more than max", 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tag := t.Name()
			cfg := func() map[string]any { return map[string]any{"tag": tag, "rows": 50, "sleep": "300ms"} }
			// Four independent extractors, each followed by a writer.
			m := testManifest(
				st("a", "test.gen", nil, cfg()),
				st("b", "test.gen", nil, cfg()),
				st("c", "test.gen", nil, cfg()),
				st("d", "test.gen", nil, cfg()),
				st("wa", "test.sink", nt("a"), map[string]any{"tag": tag}),
				st("wb", "test.sink", nt("b"), map[string]any{"tag": tag}),
			)
			env, log := runEnv(t)
			res, err := (&Engine{Options: Options{MaxParallel: tc.maxParallel, MemoryBudget: -1}}).Run(context.Background(), m, env)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if res.Status != StatusSuccess {
				t.Fatalf("status %s", res.Status)
			}
			if got := trackerFor(tag).max(); got != tc.wantMax {
				t.Errorf("max concurrent steps = %d, want %d", got, tc.wantMax)
			}
			checkSeq(t, log.all())
			// A consumer starts only after its need completed.
			pos := map[string]int64{}
			for _, e := range log.all() {
				pos[e.Event+"/"+e.Step] = e.Seq
			}
			for _, p := range [][2]string{{"a", "wa"}, {"b", "wb"}} {
				if pos["step_complete/"+p[0]] == 0 || pos["step_start/"+p[1]] < pos["step_complete/"+p[0]] {
					t.Errorf("%s started (seq %d) before %s completed (seq %d)", p[1], pos["step_start/"+p[1]], p[0], pos["step_complete/"+p[0]])
				}
			}
			// Ties start in manifest order.
			var starts []string
			for _, e := range log.named(EventStepStart) {
				starts = append(starts, e.Step)
			}
			if strings.Join(starts[:4], ",") != "a,b,c,d" {
				t.Errorf("start order %v, want a,b,c,d first", starts)
			}
			if res.RowsTotal != 50*4 { // wa, wb, c, d are the DAG's sinks
				t.Errorf("rows_total = %d, want 200", res.RowsTotal)
			}
		})
	}
}

func TestFailFast(t *testing.T) {
	t.Parallel()
	tag := t.Name()
	m := testManifest(
		st("slow", "test.slow", nil, map[string]any{"tag": tag}),
		st("bad", "test.fail", nil, map[string]any{"tag": tag, "after": 25}),
		st("after_bad", "test.concat", nt("bad"), map[string]any{"tag": tag}),
		st("write", "test.sink", nt("after_bad"), map[string]any{"tag": tag}),
		// Independent of the failure, but not started yet when it happens
		// (slow and bad fill both slots): it must not start afterwards.
		st("later", "test.gen", nil, map[string]any{"tag": tag}),
	)
	env, log := runEnv(t)
	res, err := (&Engine{Options: Options{MaxParallel: 2, MemoryBudget: -1}}).Run(context.Background(), m, env)
	var se *StepError
	if !errors.As(err, &se) || se.Step != "bad" {
		t.Fatalf("err = %v, want a StepError for step bad", err)
	}
	if res.Status != StatusFailed || res.FailedStep != "bad" || !strings.Contains(res.Error, "connection refused") {
		t.Fatalf("result %s failed_step=%q error=%q", res.Status, res.FailedStep, res.Error)
	}
	want := map[string]string{"slow": StatusCancelled, "bad": StatusFailed, "after_bad": StatusSkipped, "write": StatusSkipped, "later": StatusSkipped}
	for id, status := range want {
		if got := res.Step(id).Status; got != status {
			t.Errorf("step %s status %s, want %s", id, got, status)
		}
	}
	if n := trackerFor(tag).calls("write"); n != 0 {
		t.Errorf("writer started %d times after an upstream failure", n)
	}
	if _, ok := log.forStep(EventStepStart, "write"); ok {
		t.Error("step_start for the writer")
	}
	for _, id := range []string{"after_bad", "write"} {
		if _, ok := log.forStep(EventStepSkipped, id); !ok {
			t.Errorf("no step_skipped for %s", id)
		}
	}
	events := log.all()
	checkSeq(t, events)
	if last := events[len(events)-1]; last.Event != EventRunError || last.Fields["failed_step"] != "bad" {
		t.Errorf("last event %s %v", last.Event, last.Fields)
	}
	// The failed step's half artifact never appears under the final name.
	if _, err := os.Stat(filepath.Join(env.RunDir, "artifacts", "bad", "output.parquet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed step left an artifact: %v", err)
	}
	if _, err := os.Stat(filepath.Join(env.RunDir, "artifacts", "bad", "output.parquet.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed step left its temp artifact: %v", err)
	}
}

func TestCancelViaContext(t *testing.T) {
	t.Parallel()
	tag := t.Name()
	m := testManifest(
		st("slow", "test.slow", nil, map[string]any{"tag": tag}),
		st("next", "test.concat", nt("slow"), map[string]any{"tag": tag}),
	)
	env, log := runEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for trackerFor(tag).calls("slow") == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	res, err := (&Engine{Options: Options{MaxParallel: 2}}).Run(ctx, m, env)
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("err = %v, want ErrCancelled", err)
	}
	if res.Status != StatusCancelled || res.Step("slow").Status != StatusCancelled || res.Step("next").Status != StatusSkipped {
		t.Fatalf("status %s, steps %s/%s", res.Status, res.Step("slow").Status, res.Step("next").Status)
	}
	events := log.all()
	checkSeq(t, events)
	if events[len(events)-1].Event != EventRunCancelled {
		t.Errorf("last event %s, want run_cancelled", events[len(events)-1].Event)
	}
}

func TestStepTimeout(t *testing.T) {
	t.Parallel()
	s := st("slow", "test.slow", nil, map[string]any{"tag": t.Name()})
	s.Timeout = "150ms"
	env, log := runEnv(t)
	start := time.Now()
	res, err := (&Engine{}).Run(context.Background(), testManifest(s), env)
	if err == nil || res.Status != StatusFailed {
		t.Fatalf("status %s err %v", res.Status, err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("timeout took %v", el)
	}
	if got := res.Step("slow").Error; !strings.Contains(got, "timed out after 150ms") {
		t.Errorf("error %q does not say it timed out", got)
	}
	if e, ok := log.forStep(EventStepError, "slow"); !ok || !strings.Contains(e.Fields["error"].(string), "timed out after 150ms") {
		t.Errorf("step_error %v", e.Fields)
	}
}

// TestRunDeadline: a deadline on the run's context (osiris run --timeout)
// fails the running step and the run, unlike a cancel, and skips the rest.
func TestRunDeadline(t *testing.T) {
	t.Parallel()
	tag := t.Name()
	m := testManifest(
		st("slow", "test.slow", nil, map[string]any{"tag": tag}),
		st("next", "test.concat", nt("slow"), map[string]any{"tag": tag}),
	)
	env, log := runEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	res, err := (&Engine{}).Run(ctx, m, env)
	if err == nil || errors.Is(err, ErrCancelled) {
		t.Fatalf("err = %v, want a step failure", err)
	}
	if res.Status != StatusFailed || res.FailedStep != "slow" || res.Step("slow").Status != StatusFailed || res.Step("next").Status != StatusSkipped {
		t.Fatalf("status %s (failed step %q), steps %s/%s", res.Status, res.FailedStep, res.Step("slow").Status, res.Step("next").Status)
	}
	if !strings.Contains(res.Error, ErrRunTimedOut.Error()) {
		t.Errorf("error %q does not say the time limit was reached", res.Error)
	}
	events := log.all()
	checkSeq(t, events)
	if last := events[len(events)-1]; last.Event != EventRunError {
		t.Errorf("last event %s, want run_error", last.Event)
	}
}

// equivalencePipeline: two extractors (one in reverse order, different
// batch sizes), a concat of both, and a writer.
func equivalencePipeline(tag string) *compile.Manifest {
	return testManifest(
		st("a", "test.gen", nil, map[string]any{"tag": tag, "rows": 5000, "batch": 700}),
		st("b", "test.gen", nil, map[string]any{"tag": tag, "rows": 3000, "batch": 1000, "reverse": true, "offset": 10000}),
		st("ab", "test.concat", nt("a", "b"), map[string]any{"tag": tag}),
		st("w", "test.sink", nt("ab"), map[string]any{"tag": tag}),
	)
}

func TestBudgetEquivalence(t *testing.T) {
	t.Parallel()
	type outcome struct {
		res *Result
		log *eventLog
	}
	run := func(budget int64) outcome {
		env, log := runEnv(t)
		res, err := (&Engine{Options: Options{MemoryBudget: budget, MaxParallel: 2, BatchRows: 1024}}).Run(context.Background(), equivalencePipeline(t.Name()), env)
		if err != nil {
			t.Fatalf("budget %d: %v", budget, err)
		}
		return outcome{res, log}
	}
	parquetRun, memoryRun := run(0), run(-1)
	for _, id := range []string{"a", "b", "ab"} {
		pa, ma := parquetRun.res.Step(id).Artifact, memoryRun.res.Step(id).Artifact
		if pa == nil || ma == nil {
			t.Fatalf("step %s has no artifact", id)
		}
		if pa.TableDigest != ma.TableDigest || pa.Rows != ma.Rows {
			t.Errorf("step %s: parquet path %s/%d rows, memory path %s/%d rows", id, pa.TableDigest, pa.Rows, ma.TableDigest, ma.Rows)
		}
	}
	if got := parquetRun.res.Step("ab").RowsOut; got != 8000 {
		t.Errorf("concat rows = %d, want 8000", got)
	}
	if w := parquetRun.res.Step("w"); w.RowsIn != 8000 || w.RowsOut != 8000 {
		t.Errorf("writer rows_in %d rows_out %d", w.RowsIn, w.RowsOut)
	}
	// The concat's digest equals the digest of its inputs' rows: order and
	// batch boundaries do not matter, so a+b == ab.
	sources := func(o outcome, step string) []string {
		e, ok := o.log.forStep(EventInputsResolved, step)
		if !ok {
			t.Fatalf("no inputs_resolved for %s", step)
		}
		var out []string
		for _, in := range e.Fields["inputs"].([]map[string]any) {
			out = append(out, in["step"].(string)+":"+in["source"].(string))
		}
		return out
	}
	if got := strings.Join(sources(parquetRun, "ab"), ","); got != "a:parquet,b:parquet" {
		t.Errorf("budget 0 sources %s", got)
	}
	if got := strings.Join(sources(memoryRun, "ab"), ","); got != "a:memory,b:memory" {
		t.Errorf("unlimited budget sources %s", got)
	}
	if got := strings.Join(sources(memoryRun, "w"), ","); got != "ab:memory" {
		t.Errorf("unlimited budget writer source %s", got)
	}
	if memoryRun.res.Step("a").PeakMemoryBytes == 0 || parquetRun.res.Step("a").PeakMemoryBytes != 0 {
		t.Errorf("peak memory: unlimited %d, zero budget %d", memoryRun.res.Step("a").PeakMemoryBytes, parquetRun.res.Step("a").PeakMemoryBytes)
	}
	checkSeq(t, parquetRun.log.all())
	checkSeq(t, memoryRun.log.all())
}

func TestBudgetBetween(t *testing.T) {
	t.Parallel()
	m := func() *compile.Manifest {
		return testManifest(
			st("small", "test.gen", nil, map[string]any{"tag": t.Name(), "rows": 1000}),
			st("large", "test.gen", nil, map[string]any{"tag": t.Name(), "rows": 20000, "batch": 1000}),
			st("both", "test.concat", nt("small", "large"), map[string]any{"tag": t.Name()}),
		)
	}
	env, _ := runEnv(t)
	unlimited, err := (&Engine{Options: Options{MemoryBudget: -1, MaxParallel: 1}}).Run(context.Background(), m(), env)
	if err != nil {
		t.Fatal(err)
	}
	small := unlimited.Step("small").PeakMemoryBytes
	if small == 0 {
		t.Fatal("no memory measured for small")
	}
	// small fits, with room for two batches of large (same batch size), not more.
	budget := small*3 + small/2
	env, log := runEnv(t)
	res, err := (&Engine{Options: Options{MemoryBudget: budget, MaxParallel: 1}}).Run(context.Background(), m(), env)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := log.forStep(EventInputsResolved, "both")
	var got []string
	for _, in := range e.Fields["inputs"].([]map[string]any) {
		got = append(got, in["step"].(string)+":"+in["source"].(string))
	}
	if strings.Join(got, ",") != "small:memory,large:parquet" {
		t.Errorf("sources %v, want small in memory and large from parquet", got)
	}
	if res.Step("large").PeakMemoryBytes == 0 || res.Step("large").PeakMemoryBytes > budget {
		t.Errorf("large peak %d (budget %d): it should have held some batches, then spilled", res.Step("large").PeakMemoryBytes, budget)
	}
	if a, b := res.Step("both").Artifact.TableDigest, unlimited.Step("both").Artifact.TableDigest; a != b {
		t.Errorf("mixed sources digest %s != all-memory digest %s", a, b)
	}
}

func TestMissingArtifact(t *testing.T) {
	t.Parallel()
	tag := t.Name()
	env, log := runEnv(t)
	victim := filepath.Join(env.RunDir, "artifacts", "src", "output.parquet")
	tr := trackerFor(tag)
	tr.mu.Lock()
	tr.hooks["delete"] = func(ctx context.Context, req *component.Request) error { return os.Remove(victim) }
	tr.mu.Unlock()
	m := testManifest(
		st("src", "test.gen", nil, map[string]any{"tag": tag, "rows": 10}),
		st("delete", "test.hook", nt("src"), map[string]any{"tag": tag}),
		st("consumer", "test.concat", nt("src"), map[string]any{"tag": tag}),
	)
	res, err := (&Engine{Options: Options{MemoryBudget: 0, MaxParallel: 1}}).Run(context.Background(), m, env)
	if err == nil {
		t.Fatal("run succeeded without its input")
	}
	if res.FailedStep != "consumer" {
		t.Fatalf("failed step %q, want consumer", res.FailedStep)
	}
	msg := res.Step("consumer").Error
	if !strings.Contains(msg, `step "src"`) || !strings.Contains(msg, victim) {
		t.Errorf("error %q should name the upstream step and the missing path", msg)
	}
	if n := tr.calls("consumer"); n != 0 {
		t.Errorf("consumer driver called %d times with a missing input", n)
	}
	checkSeq(t, log.all())
}

func TestWriterRowsMismatch(t *testing.T) {
	t.Parallel()
	m := testManifest(
		st("src", "test.gen", nil, map[string]any{"tag": t.Name(), "rows": 1000}),
		st("w", "test.sink", nt("src"), map[string]any{"tag": t.Name(), "lie": 1}),
	)
	env, _ := runEnv(t)
	res, err := (&Engine{}).Run(context.Background(), m, env)
	if err == nil || res.FailedStep != "w" {
		t.Fatalf("err %v failed %q", err, res.FailedStep)
	}
	if got := res.Step("w").Error; !strings.Contains(got, "rows written 1001 != rows received 1000") {
		t.Errorf("error %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		m        *compile.Manifest
		connect  func(ctx context.Context, ref, family string) (*workspace.Connection, error)
		failStep string
		want     string
	}{
		{"unknown component", testManifest(st("x", "test.gen", nil, nil), st("y", "nope.nothing", nil, nil)), nil, "y", `unknown component "nope.nothing"`},
		{"no driver", testManifest(st("x", "test.nodriver", nil, nil)), nil, "x", "has no driver"},
		{"bad timeout", testManifest(func() compile.Step { s := st("x", "test.gen", nil, nil); s.Timeout = "soon"; return s }()), nil, "x", `timeout "soon"`},
		{"connection fails", testManifest(st("x", "test.conn", nil, nil)),
			func(ctx context.Context, ref, family string) (*workspace.Connection, error) {
				return nil, errors.New("environment variable TESTDB_PASSWORD is not set")
			}, "x", "TESTDB_PASSWORD"},
		{"writer without input", testManifest(st("w", "test.sink", nil, nil)), nil, "w", "exactly one input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, log := runEnv(t)
			env.Connect = tc.connect
			res, err := (&Engine{}).Run(context.Background(), tc.m, env)
			if err == nil || res.Status != StatusFailed || res.FailedStep != tc.failStep || !strings.Contains(res.Error, tc.want) {
				t.Fatalf("err %v status %s failed %q error %q", err, res.Status, res.FailedStep, res.Error)
			}
			if n := len(log.named(EventStepStart)); n != 0 {
				t.Errorf("%d steps started despite a config error", n)
			}
			checkSeq(t, log.all())
		})
	}
}

func TestConnectionsResolvedOnce(t *testing.T) {
	t.Parallel()
	calls := 0
	env, log := runEnv(t)
	env.Connect = func(ctx context.Context, ref, family string) (*workspace.Connection, error) {
		calls++
		if ref != "" || family != "testdb" {
			t.Errorf("Connect(%q, %q)", ref, family)
		}
		return &workspace.Connection{Family: "testdb", Alias: "main", Values: map[string]any{"password": "hunter2-secret"}}, nil
	}
	m := testManifest(st("x", "test.conn", nil, nil), st("y", "test.conn", nil, map[string]any{"offset": 5}))
	res, err := (&Engine{}).Run(context.Background(), m, env)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("Connect called %d times, want 1", calls)
	}
	e := log.named(EventConnectionsResolved)
	if len(e) != 1 || strings.Join(e[0].Fields["connections"].([]string), ",") != "@testdb.main" {
		t.Errorf("connections_resolved %v", e)
	}
	if res.Step("x").RowsOut != 3 {
		t.Errorf("rows %d", res.Step("x").RowsOut)
	}
}

func TestDriverPanicIsAStepError(t *testing.T) {
	t.Parallel()
	env, log := runEnv(t)
	res, err := (&Engine{}).Run(context.Background(), testManifest(st("p", "test.panic", nil, nil)), env)
	if err == nil || res.FailedStep != "p" || !strings.Contains(res.Step("p").Error, "driver panicked") {
		t.Fatalf("err %v result %+v", err, res.Step("p"))
	}
	checkSeq(t, log.all())
}

func TestArtifactMatchesStream(t *testing.T) {
	t.Parallel()
	env, log := runEnv(t)
	res, err := (&Engine{Options: Options{Compression: "snappy"}}).Run(context.Background(),
		testManifest(st("g", "test.gen", nil, map[string]any{"rows": 2500, "batch": 999})), env)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Step("g").Artifact
	path := filepath.Join(env.RunDir, filepath.FromSlash(a.Path))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != a.Bytes || sha256Hex(data) != a.SHA256 {
		t.Errorf("artifact bytes/sha256 do not match the file")
	}
	rdr, err := openParquet(context.Background(), "g", path, nil, 1024, 0, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	d, rows, err := TableDigest(context.Background(), rdr)
	if err != nil {
		t.Fatal(err)
	}
	// The generated table digested directly, in one batch.
	rec := genBatch(memory.DefaultAllocator, 0, 2500, 0, false, 2500)
	defer rec.Release()
	db := NewDigestBuilder(rec.Schema())
	if err := db.Add(rec); err != nil {
		t.Fatal(err)
	}
	if rows != 2500 || d != a.TableDigest || db.Sum() != a.TableDigest {
		t.Errorf("digests: file %s, artifact %s, direct %s (rows %d)", d, a.TableDigest, db.Sum(), rows)
	}
	if len(a.Schema) != genSchema.NumFields() || a.Schema[6].Type != "decimal(10, 2)" || a.Schema[8].Type != "timestamp[us, tz=UTC]" {
		t.Errorf("schema %+v", a.Schema)
	}
	if e, ok := log.forStep(EventArtifactWritten, "g"); !ok || e.Fields["table_digest"] != a.TableDigest || e.Fields["path"] != "artifacts/g/output.parquet" {
		t.Errorf("artifact_written %v", e.Fields)
	}
}

// Every batch the engine retains (memory cache, digest, readers) is released
// by the end of the run, on the memory path and the parquet path alike.
func TestNoLeakedBuffers(t *testing.T) {
	t.Parallel()
	for _, budget := range []int64{-1, 0, 200_000} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			t.Parallel()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			env, _ := runEnv(t)
			env.Alloc = mem
			res, err := (&Engine{Options: Options{MemoryBudget: budget, MaxParallel: 2, BatchRows: 1000}}).Run(context.Background(), equivalencePipeline(t.Name()), env)
			if err != nil || res.Status != StatusSuccess {
				t.Fatalf("run: %v", err)
			}
			mem.AssertSize(t, 0)
		})
	}
}

func TestAlreadyCancelledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env, log := runEnv(t)
	res, err := (&Engine{}).Run(ctx, testManifest(st("a", "test.gen", nil, nil), st("b", "test.sink", nt("a"), nil)), env)
	if !errors.Is(err, ErrCancelled) || res.Status != StatusCancelled {
		t.Fatalf("err %v status %s", err, res.Status)
	}
	if n := len(log.named(EventStepStart)); n != 0 {
		t.Errorf("%d steps started on a cancelled context", n)
	}
	if len(log.named(EventStepSkipped)) != 2 {
		t.Errorf("steps not skipped: %+v", res.Steps)
	}
	checkSeq(t, log.all())
}
