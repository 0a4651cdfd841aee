package exec

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/workspace"
)

// recordedRun runs m with a Recorder in a fresh workspace and returns the
// recorder, the result and the run error.
type recordedRun struct {
	ws     string
	state  string
	rec    *Recorder
	res    *Result
	runErr error
}

func runRecorded(t *testing.T, ctx context.Context, m *compile.Manifest, opts Options, masker *workspace.Masker) recordedRun {
	t.Helper()
	ws := t.TempDir()
	state := filepath.Join(ws, ".osiris")
	rec, err := StartRecorder(RecorderOptions{
		RunLogsDir: filepath.Join(ws, "run_logs"),
		StateDir:   state,
		Manifest:   m,
		RunID:      NewRunID(),
		Started:    time.Now(),
		Where:      "local",
		Masker:     masker,
	})
	if err != nil {
		t.Fatalf("StartRecorder: %v", err)
	}
	res, runErr := (&Engine{Options: opts}).Run(ctx, m, RunEnv{
		RunID: rec.RunID(), RunDir: rec.Dir(), Sink: rec.Sink(), Masker: masker, Log: rec.Logger(),
	})
	if err := rec.Finish(res, runErr); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return recordedRun{ws: ws, state: state, rec: rec, res: res, runErr: runErr}
}

func readEvents(t *testing.T, dir string) []Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Event
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("events.jsonl line %d: %v: %s", i+1, err, line)
		}
		out = append(out, e)
	}
	return out
}

func readStatus(t *testing.T, dir string) statusFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s statusFile
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("status.json: %v", err)
	}
	return s
}

func TestRecorderSuccessfulRun(t *testing.T) {
	t.Parallel()
	m := testManifest(
		st("extract", "test.gen", nil, map[string]any{"rows": 1234, "batch": 500}),
		st("load", "test.sink", nt("extract"), nil),
	)
	rr := runRecorded(t, context.Background(), m, Options{MemoryBudget: -1}, nil)
	dir := rr.rec.Dir()
	name := filepath.Base(dir)
	if !regexp.MustCompile(`^\d{8}T\d{6}Z_[0-9A-Z]{26}-0123456$`).MatchString(name) {
		t.Errorf("run dir name %q", name)
	}
	if got := filepath.ToSlash(strings.TrimPrefix(dir, rr.ws)); !strings.HasPrefix(got, "/run_logs/dev/test_pipe/") {
		t.Errorf("run dir %s not under run_logs/<profile>/<slug>", got)
	}
	for _, f := range []string{"manifest.yaml", "cfg/extract.json", "cfg/load.json", "events.jsonl", "metrics.jsonl", "osiris.log", "status.json", "artifacts/extract/output.parquet"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".tmp left behind: %v", err)
	}
	events := readEvents(t, dir)
	checkSeq(t, events)
	var names []string
	for _, e := range events {
		names = append(names, e.Event)
	}
	want := "run_start,connections_resolved,step_start,artifact_written,step_complete,step_start,inputs_resolved,step_complete,run_complete"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
	s := readStatus(t, dir)
	if s.Status != StatusSuccess || s.RowsTotal != 1234 || len(s.Steps) != 2 || s.Steps[0].Artifact == nil || s.Steps[0].Artifact.TableDigest == "" {
		t.Errorf("status.json %+v", s)
	}
	if s.ManifestHash != m.ManifestHash || s.Where != "local" || s.Pipeline != "pipelines/test_pipe.yaml" {
		t.Errorf("status.json header %+v", s)
	}
	// metrics.jsonl: {ts, step, name, value, unit}
	mb, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	seen := map[string]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace(mb), []byte("\n")) {
		var mt map[string]any
		if err := json.Unmarshal(line, &mt); err != nil {
			t.Fatalf("metrics line %s: %v", line, err)
		}
		for _, k := range []string{"ts", "step", "name", "value", "unit"} {
			if _, ok := mt[k]; !ok {
				t.Errorf("metric %s has no %s", line, k)
			}
		}
		seen[fmt.Sprint(mt["step"], "/", mt["name"])] = true
	}
	for _, k := range []string{"extract/rows_written", "extract/bytes_written", "extract/peak_memory_bytes", "load/rows_read", "load/duration_ms", "/duration_ms", "/rows_total"} {
		if !seen[k] {
			t.Errorf("metric %s missing", k)
		}
	}
	lb, _ := os.ReadFile(filepath.Join(dir, "osiris.log"))
	if !bytes.Contains(lb, []byte("step_complete")) || bytes.Contains(lb, []byte("\x1b[")) {
		t.Errorf("osiris.log:\n%s", lb)
	}
	runs, err := ReadIndex(rr.state)
	if err != nil || len(runs) != 1 {
		t.Fatalf("index %v %v", runs, err)
	}
	if r := runs[0]; r.Status != StatusSuccess || r.Rows != 1234 || r.RunDir != rr.rec.RelDir() || !strings.HasPrefix(r.RunDir, "run_logs/") || r.ManifestHash != m.ManifestHash {
		t.Errorf("index entry %+v", r)
	}
}

func TestRecorderFailedAndCancelledRuns(t *testing.T) {
	t.Parallel()
	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		m := testManifest(st("bad", "test.fail", nil, map[string]any{"after": 5}), st("load", "test.sink", nt("bad"), nil))
		rr := runRecorded(t, context.Background(), m, Options{}, nil)
		s := readStatus(t, rr.rec.Dir())
		if s.Status != StatusFailed || s.FailedStep != "bad" || !strings.Contains(s.Error, "connection refused") {
			t.Errorf("status.json %+v", s)
		}
		events := readEvents(t, rr.rec.Dir())
		checkSeq(t, events)
		if events[len(events)-1].Event != EventRunError {
			t.Errorf("last event %s", events[len(events)-1].Event)
		}
		runs, _ := ReadIndex(rr.state)
		if len(runs) != 1 || runs[0].Status != StatusFailed || runs[0].FailedStep != "bad" {
			t.Errorf("index %+v", runs)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		tag := t.Name()
		m := testManifest(st("slow", "test.slow", nil, map[string]any{"tag": tag}), st("load", "test.sink", nt("slow"), nil))
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for trackerFor(tag).calls("slow") == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
		}()
		rr := runRecorded(t, ctx, m, Options{}, nil)
		s := readStatus(t, rr.rec.Dir())
		if s.Status != StatusCancelled || len(s.Steps) != 2 || s.Steps[1].Status != StatusSkipped {
			t.Errorf("status.json %+v", s)
		}
		events := readEvents(t, rr.rec.Dir())
		checkSeq(t, events)
		if events[len(events)-1].Event != EventRunCancelled {
			t.Errorf("last event %s", events[len(events)-1].Event)
		}
		runs, _ := ReadIndex(rr.state)
		if len(runs) != 1 || runs[0].Status != StatusCancelled {
			t.Errorf("index %+v", runs)
		}
	})
	t.Run("config error before the engine", func(t *testing.T) {
		t.Parallel()
		ws := t.TempDir()
		m := testManifest(st("x", "test.gen", nil, nil))
		rec, err := StartRecorder(RecorderOptions{RunLogsDir: filepath.Join(ws, "run_logs"), StateDir: filepath.Join(ws, ".osiris"), Manifest: m})
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Finish(nil, &StepError{Step: "x", Msg: "missing variable X_PASSWORD"}); err != nil {
			t.Fatal(err)
		}
		s := readStatus(t, rec.Dir())
		if s.Status != StatusFailed || s.FailedStep != "x" || !strings.Contains(s.Error, "X_PASSWORD") {
			t.Errorf("status.json %+v", s)
		}
		events := readEvents(t, rec.Dir())
		checkSeq(t, events)
		if events[0].Event != EventRunError {
			t.Errorf("events %+v", events)
		}
		runs, _ := ReadIndex(filepath.Join(ws, ".osiris"))
		if len(runs) != 1 || runs[0].Status != StatusFailed {
			t.Errorf("index %+v", runs)
		}
		if err := rec.Finish(nil, nil); err == nil {
			t.Error("second Finish accepted")
		}
	})
}

func TestSecretsMaskedEverywhere(t *testing.T) {
	t.Parallel()
	const secret = "Canary-Pw-7f3a9c"
	const dsn = "mysql://app:" + secret + "@db.internal:3306/shop"
	masker := workspace.NewMasker()
	masker.Add(secret)
	m := testManifest(
		st("ok", "test.gen", nil, map[string]any{"rows": 3}),
		st("bad", "test.fail", nt("ok"), map[string]any{"after": 2, "echo": dsn}),
	)
	rr := runRecorded(t, context.Background(), m, Options{}, masker)
	if rr.res.Status != StatusFailed {
		t.Fatalf("status %s", rr.res.Status)
	}
	if strings.Contains(rr.runErr.Error(), secret) || strings.Contains(rr.res.Error, secret) {
		t.Errorf("secret in the returned error/result: %v", rr.runErr)
	}
	hits := 0
	filepath.Walk(rr.ws, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(secret)) {
			hits++
			t.Errorf("secret found in %s", p)
		}
		return nil
	})
	if hits != 0 {
		return
	}
	for _, f := range []string{"events.jsonl", "status.json", "osiris.log", "cfg/bad.json"} {
		b, _ := os.ReadFile(filepath.Join(rr.rec.Dir(), f))
		if !bytes.Contains(b, []byte("***")) {
			t.Errorf("%s has no masked value; was the error recorded?\n%s", f, b)
		}
	}
}

func TestManifestDirCopied(t *testing.T) {
	t.Parallel()
	const secret = "sk_live_canary_42"
	build := t.TempDir()
	os.MkdirAll(filepath.Join(build, "cfg"), 0o755)
	os.WriteFile(filepath.Join(build, "manifest.yaml"), []byte("manifest_format: osiris.manifest/v1\n# note "+secret+"\n"), 0o644)
	os.WriteFile(filepath.Join(build, "cfg", "x.json"), []byte(`{"query": "select 1", "password": "literal-pw", "note": "`+secret+`"}`), 0o644)
	masker := workspace.NewMasker()
	masker.Add(secret)
	ws := t.TempDir()
	rec, err := StartRecorder(RecorderOptions{RunLogsDir: filepath.Join(ws, "run_logs"), StateDir: filepath.Join(ws, ".osiris"),
		Manifest: testManifest(st("x", "test.gen", nil, nil)), ManifestDir: build, Masker: masker})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Finish(nil, nil)
	mb, _ := os.ReadFile(filepath.Join(rec.Dir(), "manifest.yaml"))
	cb, _ := os.ReadFile(filepath.Join(rec.Dir(), "cfg", "x.json"))
	if !bytes.HasPrefix(mb, []byte("manifest_format")) || bytes.Contains(mb, []byte(secret)) {
		t.Errorf("manifest.yaml:\n%s", mb)
	}
	var cfg map[string]any
	if err := json.Unmarshal(cb, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["query"] != "select 1" || cfg["password"] != "***" || cfg["note"] != "***" {
		t.Errorf("cfg %v", cfg)
	}
}

// Index concurrency: goroutines and processes append at once.

const indexHelperEnv = "OSIRIS_EXEC_INDEX_HELPER"

// recordRuns makes n complete runs (start + end lines) in state.
func recordRuns(ws, state, who string, n int) error {
	for i := 0; i < n; i++ {
		m := testManifest(st("x", "test.gen", nil, nil))
		m.Pipeline.Slug = "p_" + who
		rec, err := StartRecorder(RecorderOptions{RunLogsDir: filepath.Join(ws, "run_logs"), StateDir: state, Manifest: m, Where: who})
		if err != nil {
			return err
		}
		rec.Sink().Emit(Event{V: EventVersion, Seq: 1, TS: time.Now(), RunID: rec.RunID(), Event: EventRunStart})
		res := &Result{RunID: rec.RunID(), Status: StatusSuccess, RowsTotal: int64(i), Ended: time.Now()}
		if err := rec.Finish(res, nil); err != nil {
			return err
		}
	}
	return nil
}

// TestIndexHelperProcess is not a test: it is the child of
// TestIndexConcurrentWriters, run through the test binary.
func TestIndexHelperProcess(t *testing.T) {
	spec := os.Getenv(indexHelperEnv)
	if spec == "" {
		t.Skip("helper process only")
	}
	parts := strings.SplitN(spec, "|", 4)
	n, _ := strconv.Atoi(parts[3])
	if err := recordRuns(parts[0], parts[1], parts[2], n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
}

func TestIndexConcurrentWriters(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	state := filepath.Join(ws, ".osiris")
	const goroutines, perGoroutine, procs, perProc = 8, 5, 2, 15
	var wg sync.WaitGroup
	errs := make(chan error, goroutines+procs)
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			cmd := osexec.Command(os.Args[0], "-test.run=^TestIndexHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|proc%d|%d", indexHelperEnv, ws, state, p, perProc))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("helper process %d: %v\n%s", p, err, out)
			}
		}(p)
	}
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			if err := recordRuns(ws, state, fmt.Sprintf("g%d", g), perGoroutine); err != nil {
				errs <- err
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f, err := os.Open(IndexPath(state))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kinds := map[string]string{}
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines++
		var l IndexedRun
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("index line %d does not parse: %v: %q", lines, err, sc.Text())
		}
		kinds[l.RunID] += l.Kind + ";"
	}
	want := goroutines*perGoroutine + procs*perProc
	if len(kinds) != want || lines != 2*want {
		t.Fatalf("%d runs in %d lines, want %d runs in %d lines", len(kinds), lines, want, 2*want)
	}
	for id, k := range kinds {
		if k != "start;end;" {
			t.Errorf("run %s has lines %s", id, k)
		}
	}
	runs, err := ReadIndex(state)
	if err != nil || len(runs) != want {
		t.Fatalf("ReadIndex: %d runs, %v", len(runs), err)
	}
	for _, r := range runs {
		if r.Status != StatusSuccess || r.RunDir == "" || r.Started == "" || r.Ended == "" {
			t.Errorf("merged run %+v", r)
		}
	}
}

func TestReadIndexIncompleteAndTorn(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	state := filepath.Join(ws, ".osiris")
	rec, err := StartRecorder(RecorderOptions{RunLogsDir: filepath.Join(ws, "run_logs"), StateDir: state, Manifest: testManifest()})
	if err != nil {
		t.Fatal(err)
	}
	_ = rec // killed: never finished
	f, _ := os.OpenFile(IndexPath(state), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"start","run_id":"torn`) // a torn last line
	f.Close()
	runs, err := ReadIndex(state)
	if err != nil || len(runs) != 1 || runs[0].Status != StatusIncomplete || runs[0].RunID != rec.RunID() {
		t.Fatalf("runs %+v err %v", runs, err)
	}
	if runs, err := ReadIndex(filepath.Join(ws, "nothing")); err != nil || runs != nil {
		t.Errorf("missing index: %v %v", runs, err)
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	e := Event{V: 1, Seq: 7, TS: time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC), RunID: "R", Event: EventStepComplete, Step: "s",
		Fields: map[string]any{"rows_out": 10, "duration_ms": 5, "cache": "miss", "seq": 99}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"seq":7,"ts":"2025-01-02T03:04:05.678Z","run_id":"R","event":"step_complete","step":"s","cache":"miss","duration_ms":5,"rows_out":10}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Seq != 7 || back.Step != "s" || !back.TS.Equal(e.TS) || fmt.Sprint(back.Fields["rows_out"]) != "10" {
		t.Errorf("round trip %+v", back)
	}
}

// A run is readable while it lives: status.json says running with every
// step pending and zeros written, run.lock is held; at the end status.json
// is replaced, the lock is gone and the index end line writes its zeros.
func TestRecorderRunningThenFinal(t *testing.T) {
	t.Parallel()
	m := testManifest(st("extract", "test.gen", nil, map[string]any{"rows": 0}))
	ws := t.TempDir()
	state := filepath.Join(ws, ".osiris")
	rec, err := StartRecorder(RecorderOptions{RunLogsDir: filepath.Join(ws, "run_logs"), StateDir: state, Manifest: m})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(rec.Dir(), "status.json"))
	for _, want := range []string{`"format": 1`, `"status": "running"`, `"status": "pending"`, `"rows_in": 0`, `"duration_ms": 0`, `"pid": `, `"host": `, `"osiris_version": `} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("running status.json lacks %s:\n%s", want, raw)
		}
	}
	if !RunLive(rec.Dir()) {
		t.Error("RunLive = false for a run that is recording")
	}
	res, runErr := (&Engine{}).Run(context.Background(), m, RunEnv{RunID: rec.RunID(), RunDir: rec.Dir(), Sink: rec.Sink(), Log: rec.Logger()})
	if err := rec.Finish(res, runErr); err != nil {
		t.Fatal(err)
	}
	if RunLive(rec.Dir()) {
		t.Error("RunLive = true after Finish")
	}
	if _, err := os.Stat(filepath.Join(rec.Dir(), RunLockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run.lock left behind: %v", err)
	}
	s := readStatus(t, rec.Dir())
	if s.Status != StatusSuccess || s.Format != RecordFormat || s.Kind != RecordKindRun || s.PID != os.Getpid() {
		t.Errorf("final status.json %+v", s)
	}
	idx, _ := os.ReadFile(IndexPath(state))
	lines := strings.Split(strings.TrimSpace(string(idx)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"format":1`) || !strings.Contains(lines[0], `"record":"run"`) ||
		!strings.Contains(lines[1], `"rows":0`) || !strings.Contains(lines[1], `"duration_ms":`) {
		t.Errorf("index lines:\n%s", idx)
	}
	ev := readEvents(t, rec.Dir())
	if ev[0].Event != EventRunStart || ev[0].Fields["host"] == nil || ev[0].Fields["pid"] == nil || ev[0].Fields["osiris_version"] == nil {
		t.Errorf("run_start %+v", ev[0])
	}
}

// A record completed without the engine's result (a second Ctrl-C abandons
// the run) still says what each step did: a finished step succeeded with its
// rows, the running one was cancelled, the rest never started.
func TestRecorderAbandonedRunKeepsStepStates(t *testing.T) {
	t.Parallel()
	tag := t.Name()
	m := testManifest(st("gen", "test.gen", nil, nil), st("slow", "test.slow", nt("gen"), map[string]any{"tag": tag}), st("load", "test.sink", nt("slow"), nil))
	ws := t.TempDir()
	rec, err := StartRecorder(RecorderOptions{RunLogsDir: filepath.Join(ws, "run_logs"), StateDir: filepath.Join(ws, ".osiris"), Manifest: m, RunID: NewRunID(), Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&Engine{}).Run(ctx, m, RunEnv{RunID: rec.RunID(), RunDir: rec.Dir(), Sink: rec.Sink(), Log: rec.Logger()})
	}()
	for trackerFor(tag).calls("slow") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := rec.Finish(nil, fmt.Errorf("%w: stopped at once by a second interrupt", ErrCancelled)); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	s := readStatus(t, rec.Dir())
	if s.Status != StatusCancelled || len(s.Steps) != 3 {
		t.Fatalf("status.json %+v", s)
	}
	want := []string{StatusSuccess, StatusCancelled, StatusSkipped}
	for i, sr := range s.Steps {
		if sr.Status != want[i] {
			t.Errorf("step %s: status %s, want %s", sr.ID, sr.Status, want[i])
		}
	}
	if s.Steps[0].RowsOut == 0 {
		t.Errorf("the finished step lost its rows: %+v", s.Steps[0])
	}
}
