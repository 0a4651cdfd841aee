package exec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/osiris-go/osiris/internal/filehash"
	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// fileGen is a cacheable extractor that reads a workspace file (its rows
// count is the file's length) and counts its executions per tag.
type fileGen struct{}

var fileGenCalls sync.Map // tag+step → *atomic.Int64

func countCall(tag, step string) {
	v, _ := fileGenCalls.LoadOrStore(tag+"/"+step, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func callsOf(tag, step string) int {
	v, ok := fileGenCalls.Load(tag + "/" + step)
	if !ok {
		return 0
	}
	return int(v.(*atomic.Int64).Load())
}

func (fileGen) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	countCall(req.Config.String("tag"), req.StepID)
	abs, err := req.Files.Resolve(req.Config.String("path"))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		return nil, err
	}
	return &genReader{ctx: ctx, mem: req.Alloc, total: int64(len(b)), batch: 7}, nil
}

// countingConcat is a cacheable transform that counts its executions.
type countingConcat struct{ concatDriver }

func (c countingConcat) Transform(ctx context.Context, req *component.Request, in component.Inputs) (array.RecordReader, error) {
	countCall(req.Config.String("tag"), req.StepID)
	return c.concatDriver.Transform(ctx, req, in)
}

type countingGen struct{ genDriver }

func (g countingGen) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	countCall(req.Config.String("tag"), req.StepID)
	return g.genDriver.Extract(ctx, req)
}

type countingSink struct{ sinkDriver }

func (s countingSink) Write(ctx context.Context, req *component.Request, in component.Table) (component.WriteResult, error) {
	countCall(req.Config.String("tag"), req.StepID)
	res, err := s.sinkDriver.Write(ctx, req, in)
	res.Files = nil
	return res, err
}

func init() {
	tag := component.Field{Name: "tag", Type: component.TypeString}
	component.Register(component.Spec{Name: "test.filegen", Role: component.RoleExtract, Modes: []string{"read"},
		Fields: []component.Field{tag, {Name: "path", Type: component.TypeString}}, ReadsPaths: []string{"path"}, Cacheable: true}, fileGen{})
	component.Register(component.Spec{Name: "test.dbgen", Role: component.RoleExtract, Modes: []string{"read"},
		Fields: []component.Field{tag, {Name: "rows", Type: component.TypeInteger}}}, countingGen{})
	component.Register(component.Spec{Name: "test.cconcat", Role: component.RoleTransform, Modes: []string{"transform"},
		Fields: []component.Field{tag, {Name: "v", Type: component.TypeInteger}}, Cacheable: true}, countingConcat{})
	component.Register(component.Spec{Name: "test.csink", Role: component.RoleWrite, Modes: []string{"write"},
		Fields: []component.Field{tag}}, countingSink{})
}

// fingerprinted fills step_fp the way the compiler does: config and
// upstream fingerprints.
func fingerprinted(t *testing.T, m *compile.Manifest) *compile.Manifest {
	t.Helper()
	fps := map[string]string{}
	for i := range m.Steps {
		s := &m.Steps[i]
		var ups []string
		for _, n := range s.Needs {
			ups = append(ups, fps[n])
		}
		fp, err := compile.Fingerprint(map[string]any{"c": s.Component, "cfg": s.Config, "up": ups})
		if err != nil {
			t.Fatal(err)
		}
		s.Fingerprint, fps[s.ID] = fp, fp
	}
	return m
}

type cacheWS struct {
	t     *testing.T
	root  string
	state string
	files *workspace.Files
	cache *StepCache
}

func newCacheWS(t *testing.T) *cacheWS {
	root := t.TempDir()
	files, err := workspace.NewFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, ".osiris")
	return &cacheWS{t: t, root: root, state: state, files: files, cache: NewStepCache(root, state)}
}

// run executes m in a new run directory under run_logs/ and returns the
// result, the events and osiris.log's warnings as events.
func (w *cacheWS) run(m *compile.Manifest, cache *StepCache) (*Result, *eventLog, string) {
	w.t.Helper()
	dir := filepath.Join(w.root, "run_logs", NewRunID())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	log := &eventLog{}
	res, err := (&Engine{Options: Options{MemoryBudget: -1}}).Run(context.Background(), m, RunEnv{
		RunID: NewRunID(), RunDir: dir, Files: w.files, Sink: log, StepCache: cache,
	})
	if err != nil {
		w.t.Fatalf("run: %v", err)
	}
	return res, log, dir
}

func cacheOf(res *Result) map[string]string {
	out := map[string]string{}
	for _, s := range res.Steps {
		out[s.ID] = s.Cache
	}
	return out
}

func digests(res *Result) map[string]string {
	out := map[string]string{}
	for _, s := range res.Steps {
		if s.Artifact != nil {
			out[s.ID] = s.Artifact.TableDigest
		}
	}
	return out
}

func threeSteps(tag string, v int) *compile.Manifest {
	return testManifest(
		st("src", "test.filegen", nil, map[string]any{"tag": tag, "path": "data/in.txt"}),
		st("mid", "test.cconcat", nt("src"), map[string]any{"tag": tag, "v": 1}),
		st("last", "test.cconcat", nt("mid"), map[string]any{"tag": tag, "v": v}),
		st("out", "test.csink", nt("last"), map[string]any{"tag": tag}),
	)
}

func TestStepCacheReuse(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	tag := t.Name()
	if err := os.MkdirAll(filepath.Join(w.root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(w.root, "data", "in.txt"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Repeat("x", 40))
	m := fingerprinted(t, threeSteps(tag, 1))

	first, _, _ := w.run(m, w.cache)
	for id, c := range cacheOf(first) {
		if c != "miss" {
			t.Errorf("first run: step %s cache %q, want miss", id, c)
		}
	}

	// The same manifest and file: every step but the writer is a hit and
	// does not execute; the writer writes again (writers are never reused
	// without ReuseWrites). The artifacts are copies in the new run
	// directory with the same hashes.
	second, log, dir := w.run(m, w.cache)
	want := map[string]string{"src": "hit", "mid": "hit", "last": "hit", "out": "miss"}
	for id, c := range cacheOf(second) {
		if c != want[id] {
			t.Errorf("second run: step %s cache %q, want %q", id, c, want[id])
		}
	}
	for step, n := range map[string]int{"src": 1, "mid": 1, "last": 1, "out": 2} {
		if got := callsOf(tag, step); got != n {
			t.Errorf("step %s executed %d times, want %d", step, got, n)
		}
	}
	for _, s := range second.Steps {
		if s.Artifact == nil {
			continue
		}
		sum, err := filehash.File(filepath.Join(dir, filepath.FromSlash(s.Artifact.Path)))
		if err != nil || sum != s.Artifact.SHA256 || sum != first.Step(s.ID).Artifact.SHA256 {
			t.Errorf("step %s: copied artifact sha %s (%v), want %s", s.ID, sum, err, first.Step(s.ID).Artifact.SHA256)
		}
		if s.ReusedRun != first.RunID {
			t.Errorf("step %s: reused_run %q, want the first run %s", s.ID, s.ReusedRun, first.RunID)
		}
	}
	if e, ok := log.forStep(EventStepComplete, "last"); !ok || e.Fields["cache"] != "hit" {
		t.Errorf("step_complete of last: %v", e.Fields)
	}
	if second.RowsTotal != first.RowsTotal || second.Step("out").RowsOut != 40 {
		t.Errorf("rows_total %d, writer rows %d; want %d, 40", second.RowsTotal, second.Step("out").RowsOut, first.RowsTotal)
	}

	// Editing the last transform reruns it and its writer only.
	edited := fingerprinted(t, threeSteps(tag, 2))
	third, _, _ := w.run(edited, w.cache)
	want = map[string]string{"src": "hit", "mid": "hit", "last": "miss", "out": "miss"}
	for id, c := range cacheOf(third) {
		if c != want[id] {
			t.Errorf("after editing last: step %s cache %q, want %q", id, c, want[id])
		}
	}
	full, _, _ := w.run(edited, &StepCache{Dir: w.cache.Dir, StateDir: w.state, WorkspaceRoot: w.root, NoReuse: true}) // --no-cache
	for id, c := range cacheOf(full) {
		if c != "miss" {
			t.Errorf("--no-cache: step %s cache %q", id, c)
		}
	}
	if a, b := digests(third), digests(full); len(a) != 3 || a["last"] != b["last"] || a["src"] != b["src"] || a["mid"] != b["mid"] {
		t.Errorf("cached run digests %v != --no-cache run %v", a, b)
	}

	// A change to the file the extractor reads reruns everything downstream.
	write(strings.Repeat("y", 41))
	fourth, _, _ := w.run(edited, w.cache)
	for id, c := range cacheOf(fourth) {
		if c != "miss" {
			t.Errorf("after changing the input file: step %s cache %q, want miss", id, c)
		}
	}
	if fourth.Step("out").RowsOut != 41 {
		t.Errorf("writer wrote %d rows, want 41", fourth.Step("out").RowsOut)
	}
}

func TestStepCacheDatabaseExtractors(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	tag := t.Name()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	w.cache.Now = func() time.Time { return now }
	manifest := func(cache string) *compile.Manifest {
		s := st("db", "test.dbgen", nil, map[string]any{"tag": tag, "rows": 10})
		s.Cache = cache
		return fingerprinted(t, testManifest(s))
	}
	for _, tc := range []struct {
		name    string
		cache   string
		advance time.Duration
		reuse   bool // ReuseExtracts
		want    string
	}{
		{"auto never reuses a database extractor", "auto", 0, false, "miss"},
		{"auto again", "auto", time.Minute, false, "miss"},
		{"10m, entry just made", "10m", 0, false, "hit"},
		{"10m, entry 11m old", "10m", 11 * time.Minute, false, "miss"},
		{"--cache-extracts reuses whatever the age", "auto", 24 * time.Hour, true, "hit"},
		{"off never reuses, even with --cache-extracts", "off", 0, true, "off"},
	} {
		now = now.Add(tc.advance)
		c := *w.cache
		c.ReuseExtracts = tc.reuse
		res, _, _ := w.run(manifest(tc.cache), &c)
		if got := res.Step("db").Cache; got != tc.want {
			t.Errorf("%s: cache %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestStepCacheIgnoresBadArtifacts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, path string)
		want  string
	}{
		{"corrupted", func(t *testing.T, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "changed or corrupted"},
		{"missing", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}, "is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newCacheWS(t)
			tag := t.Name()
			m := fingerprinted(t, testManifest(
				st("db", "test.dbgen", nil, map[string]any{"tag": tag, "rows": 100}),
				st("t", "test.cconcat", nt("db"), map[string]any{"tag": tag}),
			))
			first, _, dir := w.run(m, w.cache)
			tc.spoil(t, filepath.Join(dir, filepath.FromSlash(first.Step("t").Artifact.Path)))

			second, log, _ := w.run(m, w.cache)
			if got := second.Step("t").Cache; got != "miss" {
				t.Fatalf("step t cache %q after its artifact was %s, want miss", got, tc.name)
			}
			if callsOf(tag, "t") != 2 {
				t.Errorf("step t executed %d times, want 2", callsOf(tag, "t"))
			}
			if second.Step("t").Artifact.TableDigest != first.Step("t").Artifact.TableDigest {
				t.Error("rerun produced another table")
			}
			ev, ok := log.forStep(EventStepWarning, "t")
			if !ok || ev.Fields["code"] != "step-cache-ignored" || !strings.Contains(ev.Fields["message"].(string), tc.want) {
				t.Errorf("warning %v, want step-cache-ignored mentioning %q", ev.Fields, tc.want)
			}
			// The rerun recorded a good entry again.
			third, _, _ := w.run(m, w.cache)
			if got := third.Step("t").Cache; got != "hit" {
				t.Errorf("third run: cache %q, want hit", got)
			}
		})
	}
}

func TestPruneStepCache(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	tag := t.Name()
	m := fingerprinted(t, testManifest(
		st("db", "test.dbgen", nil, map[string]any{"tag": tag, "rows": 5}),
		st("t", "test.cconcat", nt("db"), map[string]any{"tag": tag}),
	))
	_, _, dir := w.run(m, w.cache)
	rel := relSlash(w.root, dir)
	n, _, err := PruneStepCache(w.state, func(runDir string) bool { return true })
	if err != nil || n != 0 {
		t.Fatalf("prune keeping everything removed %d (%v)", n, err)
	}
	n, bytes, err := PruneStepCache(w.state, func(runDir string) bool { return runDir != rel })
	if err != nil || n != 2 || bytes <= 0 {
		t.Fatalf("prune of the run: removed %d entries, %d bytes (%v), want 2", n, bytes, err)
	}
	res, _, _ := w.run(m, w.cache)
	if res.Step("t").Cache != "miss" {
		t.Error("a pruned entry was reused")
	}
}

// Files a step reads are not read again while their size, mtime, ctime and
// inode stay (and they were not modified just before being hashed); any
// change hashes them again, and so does NoReuse (--no-cache).
func TestHashFileMemo(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	p := filepath.Join(w.root, "big.csv")
	old := time.Now().Add(-time.Hour)
	set := func(content string, mtime time.Time) {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	set("aaaa", old)
	first, err := w.cache.hashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filehash.File(p)
	if first != want {
		t.Fatalf("hashFile %s, want %s", first, want)
	}
	// Unchanged: the memo answers (the file is not read). Seen by planting
	// another hash in the memo.
	plantMemo(t, w.cache, p, "sha256:planted")
	if got, _ := w.cache.hashFile(p); got != "sha256:planted" {
		t.Errorf("unchanged file: %s, want the memo's", got)
	}
	// --no-cache reads the file and records the fresh hash.
	noReuse := &StepCache{Dir: w.cache.Dir, NoReuse: true}
	if got, _ := noReuse.hashFile(p); got != first {
		t.Errorf("--no-cache trusted the memo: %s, want %s", got, first)
	}
	if got, _ := w.cache.hashFile(p); got != first {
		t.Errorf("after --no-cache: %s, want the fresh hash %s", got, first)
	}
	// Same size, the old mtime restored (touch -d): ctime moved, hashed again.
	set("bbbb", old)
	if got, _ := w.cache.hashFile(p); got == first {
		t.Error("a same-size edit with the old mtime restored was served from the memo")
	}
	// A new mtime: hashed again.
	set("bbbb", old.Add(time.Second))
	if got, _ := w.cache.hashFile(p); got == first {
		t.Error("a new mtime did not rehash the file")
	}
	// Modified right before hashing: never trusted, even with the same mtime.
	now := time.Now()
	set("cccc", now)
	a, _ := w.cache.hashFile(p)
	set("dddd", now)
	if b, _ := w.cache.hashFile(p); a == b {
		t.Error("a memo taken within the racy window was trusted")
	}
}

// Runs of one workspace at the same time share the index safely: every run
// succeeds, whatever it reused, and the entries they leave are whole.
func TestStepCacheConcurrentRuns(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	tag := t.Name()
	m := fingerprinted(t, testManifest(
		st("db", "test.dbgen", nil, map[string]any{"tag": tag, "rows": 1000}),
		st("t", "test.cconcat", nt("db"), map[string]any{"tag": tag}),
		st("u", "test.cconcat", nt("t"), map[string]any{"tag": tag, "v": 2}),
		st("out", "test.csink", nt("u"), map[string]any{"tag": tag}),
	))
	m.Steps[0].Cache = "1h"
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := filepath.Join(w.root, "run_logs", NewRunID())
			if err := os.MkdirAll(dir, 0o755); err != nil {
				errs <- err
				return
			}
			res, err := (&Engine{Options: Options{MemoryBudget: -1}}).Run(context.Background(), m, RunEnv{
				RunID: NewRunID(), RunDir: dir, Files: w.files, Sink: &eventLog{}, StepCache: w.cache,
			})
			if err == nil && res.Step("out").RowsOut != 1000 {
				err = fmt.Errorf("writer wrote %d rows", res.Step("out").RowsOut)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	res, log, _ := w.run(m, w.cache)
	for id, c := range cacheOf(res) {
		if want := map[bool]string{true: "miss", false: "hit"}[id == "out"]; c != want {
			t.Errorf("after the concurrent runs: step %s cache %q, want %s", id, c, want)
		}
	}
	if ws := log.named(EventStepWarning); len(ws) > 0 {
		t.Errorf("entries left by concurrent runs were not whole: %v", ws[0].Fields)
	}
}

// plantMemo replaces the memo's hash of p, keeping its stamp and dating it
// well after any change (outside the racy window).
func plantMemo(t *testing.T, c *StepCache, p, sum string) {
	t.Helper()
	name := sha256.Sum256([]byte(p))
	memoPath := filepath.Join(c.Dir, "files", hex.EncodeToString(name[:16])+".json")
	b, err := os.ReadFile(memoPath)
	if err != nil {
		t.Fatal(err)
	}
	var m fileMemo
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.SHA256, m.HashedNs = sum, time.Now().Add(time.Hour).UnixNano()
	b, _ = json.Marshal(m)
	if err := os.WriteFile(memoPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
