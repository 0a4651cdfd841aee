package exec

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/compile"
)

// streamPipeline: a paced extractor read by a writer and by a one-input
// transform feeding a second writer, next to the two-input equivalence
// pipeline.
func streamPipeline(tag string) *compile.Manifest {
	return testManifest(
		st("p", "test.gen", nil, map[string]any{"tag": tag, "rows": 3000, "batch": 100, "pace": "10ms"}),
		st("w", "test.sink", nt("p"), map[string]any{"tag": tag}),
		st("c", "test.concat", nt("p"), map[string]any{"tag": tag}),
		st("wc", "test.sink", nt("c"), map[string]any{"tag": tag}),
		st("a", "test.gen", nil, map[string]any{"tag": tag, "rows": 5000, "batch": 700}),
		st("b", "test.gen", nil, map[string]any{"tag": tag, "rows": 3000, "batch": 1000, "reverse": true, "offset": 10000}),
		st("ab", "test.concat", nt("a", "b"), map[string]any{"tag": tag}),
		st("wab", "test.sink", nt("ab"), map[string]any{"tag": tag}),
	)
}

func inputSourcesOf(t *testing.T, log *eventLog, step string) string {
	t.Helper()
	e, ok := log.forStep(EventInputsResolved, step)
	if !ok {
		t.Fatalf("no inputs_resolved for %s", step)
	}
	var out []string
	for _, in := range e.Fields["inputs"].([]map[string]any) {
		out = append(out, in["step"].(string)+":"+in["source"].(string))
	}
	return strings.Join(out, ",")
}

// Streaming on and off, at budgets 0, 64 MiB and unlimited, give the same
// digests and rows everywhere; with streaming the writer of the paced
// extractor reads its stream (at budget 0 only while its first batches
// wait, so there either), and no Arrow buffer leaks.
func TestStreamingEquivalence(t *testing.T) {
	t.Parallel()
	var want map[string]string
	for _, streaming := range []bool{false, true} {
		for _, budget := range []int64{0, 64 << 20, -1} {
			name := fmt.Sprintf("streaming=%v/budget=%d", streaming, budget)
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			env, log := runEnv(t)
			env.Alloc = mem
			tag := t.Name() + name + NewRunID()
			res, err := (&Engine{Options: Options{MemoryBudget: budget, MaxParallel: 6, BatchRows: 1024, Streaming: streaming}}).Run(context.Background(), streamPipeline(tag), env)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := map[string]string{}
			for _, s := range res.Steps {
				d := ""
				if s.Artifact != nil {
					d = s.Artifact.TableDigest
				}
				got[s.ID] = fmt.Sprintf("%s in=%d out=%d %s", s.Status, s.RowsIn, s.RowsOut, d)
			}
			tr := trackerFor(tag)
			tr.mu.Lock()
			got["sunk"] = fmt.Sprint(tr.rows["w"], tr.rows["wc"], tr.rows["wab"])
			tr.mu.Unlock()
			if want == nil {
				want = got
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %s = %q, want %q (streaming off, budget 0)", name, k, got[k], v)
				}
			}
			if streaming && budget != 0 {
				if src := inputSourcesOf(t, log, "w"); src != "p:stream" {
					t.Errorf("%s: writer w read %s, want p:stream", name, src)
				}
				if src := inputSourcesOf(t, log, "c"); src != "p:stream" {
					t.Errorf("%s: transform c read %s, want p:stream", name, src)
				}
			} else if src := inputSourcesOf(t, log, "w"); !streaming && strings.Contains(src, "stream") {
				t.Errorf("%s: streaming off, writer read %s", name, src)
			}
			checkSeq(t, log.all())
			mem.AssertSize(t, 0)
		}
	}
}

// An upstream failing mid-stream fails its streaming consumers: the
// writer never sees a clean end of its input (so never commits), and every
// step has its final status in the record.
func TestStreamUpstreamFailsMidStream(t *testing.T) {
	t.Parallel()
	for _, budget := range []int64{0, -1} {
		tag := fmt.Sprintf("%s/%d/%s", t.Name(), budget, NewRunID())
		env, log := runEnv(t)
		m := testManifest(
			st("p", "test.gen", nil, map[string]any{"tag": tag, "rows": 3000, "batch": 100, "pace": "25ms", "fail_at": 1500}),
			st("w", "test.sink", nt("p"), map[string]any{"tag": tag}),
		)
		res, err := (&Engine{Options: Options{MemoryBudget: budget, MaxParallel: 2, BatchRows: 100, Streaming: true}}).Run(context.Background(), m, env)
		if err == nil || res.Status != StatusFailed || res.FailedStep != "p" {
			t.Fatalf("budget %d: run %v, status %s, failed step %q; want p failed", budget, err, res.Status, res.FailedStep)
		}
		if src := inputSourcesOf(t, log, "w"); src != "p:stream" {
			t.Fatalf("budget %d: writer read %s, want p:stream", budget, src)
		}
		if w := res.Step("w"); w.Status != StatusFailed && w.Status != StatusCancelled {
			t.Errorf("budget %d: writer status %s, want failed or cancelled", budget, w.Status)
		}
		tr := trackerFor(tag)
		tr.mu.Lock()
		sunk := tr.rows["w"]
		tr.mu.Unlock()
		if sunk != 0 {
			t.Errorf("budget %d: the writer committed %d rows of a failed input", budget, sunk)
		}
		if _, ok := log.forStep(EventStepError, "w"); !ok {
			t.Errorf("budget %d: no step_error for the writer", budget)
		}
		checkSeq(t, log.all())
	}
}

// With streaming, a batch every consumer has taken is let go: the
// extractor's peak held memory stays a few batches, where without
// streaming its whole output waits in memory for the writer.
func TestStreamFreesTakenBatches(t *testing.T) {
	t.Parallel()
	peak := map[bool]int64{}
	var total int64
	for _, streaming := range []bool{false, true} {
		tag := fmt.Sprintf("%s/%v/%s", t.Name(), streaming, NewRunID())
		env, _ := runEnv(t)
		m := testManifest(
			st("p", "test.gen", nil, map[string]any{"tag": tag, "rows": 6000, "batch": 100, "pace": "5ms"}),
			st("w", "test.sink", nt("p"), map[string]any{"tag": tag}),
		)
		res, err := (&Engine{Options: Options{MemoryBudget: -1, MaxParallel: 2, BatchRows: 100, Streaming: streaming}}).Run(context.Background(), m, env)
		if err != nil {
			t.Fatal(err)
		}
		peak[streaming] = res.Step("p").PeakMemoryBytes
		if !streaming {
			total = peak[false]
		}
	}
	if total == 0 {
		t.Fatal("without streaming the output was not held in memory")
	}
	if peak[true] > total/5 {
		t.Errorf("streaming peak %d bytes, want well under the table's %d (taken batches freed)", peak[true], total)
	}
}

// A subscriber that takes nothing until its upstream has finished (a
// writer's TRUNCATE waiting for the lock of the extract reading the same
// table) does not deadlock the run: the producer detaches it after a
// while, and it reads the committed artifact, every row.
func TestStreamStalledSubscriberReadsParquet(t *testing.T) {
	t.Parallel()
	for _, budget := range []int64{64 << 20, -1} {
		tag := fmt.Sprintf("%s/%d/%s", t.Name(), budget, NewRunID())
		env, log := runEnv(t)
		m := testManifest(
			st("p", "test.gen", nil, map[string]any{"tag": tag, "rows": 2000, "batch": 100, "pace": "10ms"}),
			st("w", "test.sink", nt("p"), map[string]any{"tag": tag, "wait_artifact": true}),
		)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := (&Engine{Options: Options{MemoryBudget: budget, MaxParallel: 2, BatchRows: 100, Streaming: true}}).Run(ctx, m, env)
		cancel()
		if err != nil {
			t.Fatalf("budget %d: %v", budget, err)
		}
		if src := inputSourcesOf(t, log, "w"); src != "p:stream" {
			t.Fatalf("budget %d: writer read %s, want p:stream", budget, src)
		}
		tr := trackerFor(tag)
		tr.mu.Lock()
		sunk := tr.rows["w"]
		tr.mu.Unlock()
		if w := res.Step("w"); sunk != 2000 || w.RowsIn != 2000 || w.RowsOut != 2000 {
			t.Errorf("budget %d: writer sank %d rows, rows in/out %d/%d; want 2000", budget, sunk, w.RowsIn, w.RowsOut)
		}
	}
}
