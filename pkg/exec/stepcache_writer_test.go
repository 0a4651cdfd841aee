package exec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/filehash"
	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// fileWriter writes its input's row count as one line to a workspace file:
// write_mode replace rewrites the file, append adds a line.
type fileWriter struct{}

func (fileWriter) Write(ctx context.Context, req *component.Request, in component.Table) (component.WriteResult, error) {
	countCall(req.Config.String("tag"), req.StepID)
	abs, err := req.Files.Resolve(req.Config.String("path"))
	if err != nil {
		return component.WriteResult{}, err
	}
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if req.Config.String("write_mode") == "append" {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(abs, flag, 0o644)
	if err != nil {
		return component.WriteResult{}, err
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%d\n", in.Rows()); err != nil {
		return component.WriteResult{}, err
	}
	return component.WriteResult{RowsWritten: in.Rows(), Files: []string{req.Config.String("path")}}, nil
}

func init() {
	tag := component.Field{Name: "tag", Type: component.TypeString}
	component.Register(component.Spec{Name: "test.filewriter", Role: component.RoleWrite, Modes: []string{"write"},
		Fields:      []component.Field{tag, {Name: "path", Type: component.TypeString}, component.WriteModeField("append", "replace")},
		WritesPaths: []string{"path"}}, fileWriter{})
	// test.clock is a cacheable extractor whose family's IO hook says its
	// output is not a function of its inputs (a query calling now()).
	component.Register(component.Spec{Name: "test.clock", Role: component.RoleExtract, Modes: []string{"read"},
		Fields: []component.Field{tag, {Name: "rows", Type: component.TypeInteger}}, Cacheable: true,
		IO: func(cfg component.Config, conn *workspace.Connection, io *component.StepIO) error {
			io.NonDeterministic = "the query calls now()"
			return nil
		}}, countingGen{})
}

func writerPipeline(tag string, rows int, mode string) *compile.Manifest {
	return testManifest(
		st("src", "test.dbgen", nil, map[string]any{"tag": tag, "rows": rows}),
		st("load", "test.filewriter", nt("src"), map[string]any{"tag": tag, "path": "out/target.txt", "write_mode": mode}),
	)
}

func (w *cacheWS) target() string {
	b, err := os.ReadFile(filepath.Join(w.root, "out", "target.txt"))
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

// Without ReuseWrites (osiris run, run --remote) every writer writes, even
// when its key and its target are unchanged.
func TestStepCacheWritersAlwaysWrite(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	os.MkdirAll(filepath.Join(w.root, "out"), 0o755)
	tag := t.Name()
	m := fingerprinted(t, writerPipeline(tag, 3, "append"))
	for i := 1; i <= 2; i++ {
		res, log, _ := w.run(m, w.cache)
		if s := res.Step("load"); s.Status != StatusSuccess || s.Cache != CacheMiss || s.RowsOut != 3 {
			t.Errorf("run %d: load %s cache %q rows %d, want success miss 3", i, s.Status, s.Cache, s.RowsOut)
		}
		if e, _ := log.forStep(EventStepComplete, "load"); !strings.Contains(fmt.Sprint(e.Fields["cache_reason"]), "writers always write") {
			t.Errorf("run %d: step_complete cache_reason %v", i, e.Fields["cache_reason"])
		}
	}
	if got := w.target(); got != "3\n3\n" {
		t.Errorf("append run twice left %q, want two lines", got)
	}
	if n := callsOf(tag, "load"); n != 2 {
		t.Errorf("writer executed %d times, want 2", n)
	}
}

// With ReuseWrites (osiris watch --reuse-writes) a replace writer is
// skipped only when the last write this workspace made to its target came
// from the same key and the file still has the written bytes; an append
// writer always writes.
func TestStepCacheReuseWrites(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	os.MkdirAll(filepath.Join(w.root, "out"), 0o755)
	tag := t.Name()
	w.cache.ReuseWrites = true
	one := fingerprinted(t, writerPipeline(tag, 1, "replace"))
	two := fingerprinted(t, writerPipeline(tag, 2, "replace"))

	first, _, _ := w.run(one, w.cache)
	second, log, _ := w.run(one, w.cache)
	s := second.Step("load")
	if s.Status != StatusSkipped || s.Cache != CacheHit || s.ReusedRun != first.RunID || s.RowsIn != 0 || s.RowsOut != 0 {
		t.Fatalf("unchanged replace writer: %+v, want skipped, hit, reused_run %s, 0 rows", *s, first.RunID)
	}
	if second.Status != StatusSuccess || second.RowsTotal != 0 {
		t.Errorf("run with a skipped writer: status %s rows_total %d, want success 0", second.Status, second.RowsTotal)
	}
	e, ok := log.forStep(EventStepSkipped, "load")
	if !ok || e.Fields["reason"] != "unchanged since "+first.RunID || e.Fields["reused_run"] != first.RunID {
		t.Errorf("step_skipped %v, want reason unchanged since %s", e.Fields, first.RunID)
	}
	if _, ok := log.forStep(EventStepComplete, "load"); ok {
		t.Error("a skipped writer also sent step_complete")
	}

	// params 1 → 2 → 1: the third run writes, the target holds its rows.
	w.run(two, w.cache)
	if w.target() != "2\n" {
		t.Fatalf("after params 2: %q", w.target())
	}
	third, _, _ := w.run(one, w.cache)
	if s := third.Step("load"); s.Status != StatusSuccess || s.Cache != CacheMiss {
		t.Errorf("params 1 after 2: load %s %s, want it written", s.Status, s.Cache)
	}
	if w.target() != "1\n" {
		t.Errorf("params 1→2→1 left %q, want the third run's 1", w.target())
	}

	// The file changed outside osiris: written again.
	os.WriteFile(filepath.Join(w.root, "out", "target.txt"), []byte("9\n"), 0o644)
	fourth, _, _ := w.run(one, w.cache)
	if s := fourth.Step("load"); s.Status != StatusSuccess || !strings.Contains(s.CacheReason, "changed since") {
		t.Errorf("edited target: load %s (%s), want written", s.Status, s.CacheReason)
	}
	if w.target() != "1\n" {
		t.Errorf("edited target left %q", w.target())
	}

	// --no-cache writes; append never skips.
	nc := *w.cache
	nc.NoReuse = true
	if res, _, _ := w.run(one, &nc); res.Step("load").Status != StatusSuccess {
		t.Error("--no-cache skipped a writer")
	}
	app := fingerprinted(t, writerPipeline(tag, 1, "append"))
	for i := 0; i < 2; i++ {
		if res, _, _ := w.run(app, w.cache); res.Step("load").Status != StatusSuccess || res.Step("load").RowsOut != 1 {
			t.Errorf("append run %d: %s rows %d, want written", i, res.Step("load").Status, res.Step("load").RowsOut)
		}
	}
	if w.target() != "1\n1\n1\n" {
		t.Errorf("append after replace left %q, want three lines", w.target())
	}
}

// A step whose IO hook says its output is not a function of its inputs is
// never reused nor recorded, and says so.
func TestStepCacheOffForNonDeterministic(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	tag := t.Name()
	m := fingerprinted(t, testManifest(st("clock", "test.clock", nil, map[string]any{"tag": tag, "rows": 4})))
	for i := 0; i < 2; i++ {
		res, log, _ := w.run(m, w.cache)
		s := res.Step("clock")
		if s.Cache != CacheOff || s.CacheReason != "the query calls now()" {
			t.Errorf("run %d: cache %q (%s), want off with the hook's reason", i, s.Cache, s.CacheReason)
		}
		e, _ := log.forStep(EventStepComplete, "clock")
		if e.Fields["cache"] != CacheOff || e.Fields["cache_reason"] != "the query calls now()" {
			t.Errorf("run %d: step_complete %v", i, e.Fields)
		}
	}
	if n := callsOf(tag, "clock"); n != 2 {
		t.Errorf("executed %d times, want 2", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(w.cache.Dir, "steps")); len(ents) != 0 {
		t.Errorf("%d entries recorded for a non-deterministic step", len(ents))
	}
}

// A connection's secret fields are part of its identity, keyed with the
// workspace's own key: another dsn is another key, and no stored file holds
// the secret or a plain hash of it.
func TestStepCacheConnectionIdentity(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	tag := t.Name()
	dsn := "postgres://u:s3cret-pw@db1/app"
	connect := func(ctx context.Context, ref, family string) (*workspace.Connection, error) {
		return &workspace.Connection{Family: "testdb", Alias: "main", Values: map[string]any{"dsn": dsn}}, nil
	}
	s := st("db", "test.conn", nil, map[string]any{"tag": tag})
	s.Cache = "1h"
	m := fingerprinted(t, testManifest(s))
	run := func() *Result {
		dir := filepath.Join(w.root, "run_logs", NewRunID())
		os.MkdirAll(dir, 0o755)
		res, err := (&Engine{}).Run(context.Background(), m, RunEnv{RunID: NewRunID(), RunDir: dir, Files: w.files, Sink: &eventLog{}, StepCache: w.cache, Connect: connect})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	run()
	if c := run().Step("db").Cache; c != CacheHit {
		t.Fatalf("same connection: cache %q, want hit", c)
	}
	dsn = "postgres://u:s3cret-pw@db2/app"
	if c := run().Step("db").Cache; c != CacheMiss {
		t.Errorf("another dsn: cache %q, want miss", c)
	}
	st, err := os.Stat(filepath.Join(w.state, identityKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity key: %v, mode %v; want 0600", err, st.Mode())
	}
	filepath.WalkDir(w.state, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "s3cret") {
			t.Errorf("%s holds the secret", p)
		}
		return nil
	})
	a, _ := w.cache.connectionIdentity(&workspace.Connection{Family: "f", Alias: "a", Values: map[string]any{"password": "x"}})
	b, _ := w.cache.connectionIdentity(&workspace.Connection{Family: "f", Alias: "b", Values: map[string]any{"password": "x"}})
	c, _ := w.cache.connectionIdentity(&workspace.Connection{Family: "f", Alias: "a", Values: map[string]any{"password": "y"}})
	if a != b || a == c || !strings.HasPrefix(a, "hmac-sha256:") {
		t.Errorf("identities %s %s %s: want equal across aliases, different across passwords", a, b, c)
	}
}

// The engine and the [run] settings that decide an artifact's bytes are
// part of the key.
func TestStepCacheKeyHasEngine(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	tag := t.Name()
	m := fingerprinted(t, threeSteps(tag, 1))
	os.MkdirAll(filepath.Join(w.root, "data"), 0o755)
	os.WriteFile(filepath.Join(w.root, "data", "in.txt"), []byte("abcdef"), 0o644)
	run := func(engine, codec string) string {
		c := *w.cache
		c.Engine = engine
		dir := filepath.Join(w.root, "run_logs", NewRunID())
		os.MkdirAll(dir, 0o755)
		res, err := (&Engine{Options: Options{Compression: codec}}).Run(context.Background(), m, RunEnv{RunID: NewRunID(), RunDir: dir, Files: w.files, Sink: &eventLog{}, StepCache: &c})
		if err != nil {
			t.Fatal(err)
		}
		return res.Step("mid").Cache
	}
	for i, tc := range []struct{ engine, codec, want string }{
		{"osiris 1.0 (abc); duckdb v1.4.1", "zstd", CacheMiss},
		{"osiris 1.0 (abc); duckdb v1.4.1", "", CacheHit}, // "" is zstd
		{"osiris 1.0 (abc); duckdb v1.4.2", "zstd", CacheMiss},
		{"osiris 1.1 (def); duckdb v1.4.2", "zstd", CacheMiss},
		{"osiris 1.1 (def); duckdb v1.4.2", "snappy", CacheMiss},
		{"osiris 1.1 (def); duckdb v1.4.2", "snappy", CacheHit},
	} {
		if got := run(tc.engine, tc.codec); got != tc.want {
			t.Errorf("%d: engine %q codec %q: cache %q, want %q", i, tc.engine, tc.codec, got, tc.want)
		}
	}
}

// A hit's artifact is the run's own copy: damaging one run's output
// changes no other run's.
func TestStepCacheArtifactsAreCopies(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	tag := t.Name()
	m := fingerprinted(t, testManifest(
		st("db", "test.dbgen", nil, map[string]any{"tag": tag, "rows": 50}),
		st("t", "test.cconcat", nt("db"), map[string]any{"tag": tag}),
	))
	first, _, dir1 := w.run(m, w.cache)
	second, _, dir2 := w.run(m, w.cache)
	if second.Step("t").Cache != CacheHit {
		t.Fatal("no hit")
	}
	p1 := filepath.Join(dir1, filepath.FromSlash(first.Step("t").Artifact.Path))
	p2 := filepath.Join(dir2, filepath.FromSlash(second.Step("t").Artifact.Path))
	b, _ := os.ReadFile(p1)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p1, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if sum, _ := filehash.File(p2); sum != second.Step("t").Artifact.SHA256 {
		t.Errorf("damaging run 1's artifact changed run 2's (sha %s)", sum)
	}
}

// A remote run writes targets without this cache: ForgetWrites (called
// before it) makes the next --reuse-writes run write again.
func TestForgetWrites(t *testing.T) {
	t.Parallel()
	w := newCacheWS(t)
	os.MkdirAll(filepath.Join(w.root, "out"), 0o755)
	tag := t.Name()
	w.cache.ReuseWrites = true
	m := fingerprinted(t, writerPipeline(tag, 1, "replace"))
	w.run(m, w.cache)
	if res, _, _ := w.run(m, w.cache); res.Step("load").Status != StatusSkipped {
		t.Fatal("the unchanged writer was not skipped")
	}
	if err := ForgetWrites(w.root, w.state); err != nil {
		t.Fatal(err)
	}
	res, _, _ := w.run(m, w.cache)
	if s := res.Step("load"); s.Status != StatusSuccess || s.RowsOut != 1 {
		t.Errorf("after ForgetWrites: load %s, %d rows; want written", s.Status, s.RowsOut)
	}
}
