package runlog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

// gcNow is the fixed clock of the gc fixtures.
var gcNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// synthRun writes a run directory as the recorder leaves it (status.json,
// events, an artifact) and returns its index entry.
func synthRun(t testing.TB, s *Store, slug string, started time.Time, status string, seq int) exec.IndexedRun {
	t.Helper()
	id := fmt.Sprintf("01SYNTH%s%06d%s", strings.ToUpper(slug[:1]), seq, strings.Repeat("0", 26-7-1-6))[:26]
	name := fmt.Sprintf("%s_%s-abcdef0", started.UTC().Format("20060102T150405Z"), id)
	dir := filepath.Join(s.RunLogsDir, "dev", slug, name)
	if err := os.MkdirAll(filepath.Join(dir, "artifacts", "extract"), 0o755); err != nil {
		t.Fatal(err)
	}
	ended := started.Add(1500 * time.Millisecond)
	st := map[string]any{
		"format": 1, "kind": "run", "status": status, "run_id": id, "pipeline": "pipelines/" + slug + ".yaml", "slug": slug,
		"profile": "dev", "manifest_hash": "sha256:abcdef0", "where": "local", "started": started.UTC().Format(tsLayout),
		"ended": ended.UTC().Format(tsLayout), "duration_ms": 1500, "rows_total": int64(seq),
		"steps": []map[string]any{{"id": "extract", "component": "filesystem.csv_extractor", "status": status, "rows_in": 0, "rows_out": seq, "duration_ms": 1500}},
	}
	b, _ := json.Marshal(st)
	for p, c := range map[string][]byte{
		"status.json":                      b,
		"events.jsonl":                     []byte(`{"v":1,"seq":1,"ts":"` + started.UTC().Format(tsLayout) + `","run_id":"` + id + `","event":"run_start"}` + "\n"),
		"artifacts/extract/output.parquet": []byte(strings.Repeat("x", 4096)),
	} {
		if err := os.WriteFile(filepath.Join(dir, p), c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ir := exec.IndexedRun{Format: 1, Record: "run", RunID: id, Pipeline: "pipelines/" + slug + ".yaml", Slug: slug, Profile: "dev",
		ManifestHash: "sha256:abcdef0", Started: started.UTC().Format(tsLayout), Where: "local", RunDir: relOrAbs(s.Root, dir)}
	if status != exec.StatusRunning {
		ir.Status, ir.Ended, ir.DurationMs, ir.Rows = status, ended.UTC().Format(tsLayout), 1500, int64(seq)
	}
	return ir
}

// gcFixture: 300 runs over 3 pipelines. daily: one a day for 100 days;
// hourly: one every 3 hours (all within 14 days); sparse: one every 2 days.
// The oldest daily run was killed (no end).
func gcFixture(t testing.TB) *Store {
	t.Helper()
	root := t.TempDir()
	s := &Store{Root: root, RunLogsDir: filepath.Join(root, "run_logs"), StateDir: filepath.Join(root, ".osiris"), Now: func() time.Time { return gcNow }}
	var runs []exec.IndexedRun
	for i := 0; i < 100; i++ {
		status := exec.StatusSuccess
		if i == 99 {
			status = exec.StatusRunning // killed: no end line, status.json still running
		} else if i%10 == 3 {
			status = exec.StatusFailed
		}
		runs = append(runs,
			synthRun(t, s, "daily", gcNow.Add(-time.Duration(i)*24*time.Hour-time.Hour), status, i),
			synthRun(t, s, "hourly", gcNow.Add(-time.Duration(i)*3*time.Hour-time.Minute), exec.StatusSuccess, i),
			synthRun(t, s, "sparse", gcNow.Add(-time.Duration(i)*48*time.Hour-time.Hour), exec.StatusSuccess, i))
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Started < runs[j].Started })
	if err := exec.WriteIndex(s.StateDir, "test", runs); err != nil {
		t.Fatal(err)
	}
	// build/ is never touched.
	if err := os.MkdirAll(filepath.Join(root, "build", "pipelines"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "build", "pipelines", "keep.yaml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

var gcRetention = Retention{Days: 14, KeepPerPipeline: 20}

// What [retention] days=14, keep=20 keeps of the fixture: daily, the newest
// 20 (only 14 are within 14 days); hourly, all 100 (all within 14 days);
// sparse, the newest 20 (7 within 14 days).
func checkKept(t *testing.T, s *Store) {
	t.Helper()
	runs, _, err := s.List(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	oldest := map[string]string{}
	for _, r := range runs {
		count[r.Slug]++
		oldest[r.Slug] = r.Started
	}
	if count["daily"] != 20 || count["hourly"] != 100 || count["sparse"] != 20 {
		t.Errorf("kept %v; want daily 20, hourly 100, sparse 20", count)
	}
	if want := gcNow.Add(-19*24*time.Hour - time.Hour).UTC().Format(tsLayout); oldest["daily"] != want {
		t.Errorf("oldest daily run kept %s, want %s (the 20th newest)", oldest["daily"], want)
	}
	ix, err := readIndexFile(exec.IndexPath(s.StateDir))
	if err != nil || len(ix.runs) != 140 || ix.problem != "" {
		t.Errorf("index after gc: %d runs, problem %q, %v", len(ix.runs), ix.problem, err)
	}
	left, _ := filepath.Glob(filepath.Join(s.RunLogsDir, "*", "*", ".*"))
	if len(left) != 0 {
		t.Errorf("directories left aside: %v", left)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "build", "pipelines", "keep.yaml")); err != nil {
		t.Errorf("build/ was touched: %v", err)
	}
}

func TestGCKeepsWhatRetentionSays(t *testing.T) {
	s := gcFixture(t)
	dry, _, err := s.GC(context.Background(), GCOptions{Retention: gcRetention, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Removed) != 160 || dry.Kept != 140 || dry.Bytes < 160*4096 {
		t.Errorf("dry run: would remove %d (%d bytes), keep %d", len(dry.Removed), dry.Bytes, dry.Kept)
	}
	if runs, _, _ := s.List(Filter{}); len(runs) != 300 {
		t.Fatalf("a dry run removed runs: %d left", len(runs))
	}
	res, _, err := s.GC(context.Background(), GCOptions{Retention: gcRetention})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 160 || res.Kept != 140 {
		t.Errorf("removed %d, kept %d", len(res.Removed), res.Kept)
	}
	checkKept(t, s)
	// A second gc has nothing to do.
	if res, _, err := s.GC(context.Background(), GCOptions{Retention: gcRetention}); err != nil || len(res.Removed) != 0 {
		t.Errorf("second gc removed %d, %v", len(res.Removed), err)
	}
}

// gcHelper is the helper process of TestGCKilledMidway: it collects the
// fixture in RUNLOG_TEST_GC=root:stage:n and SIGKILLs itself after the n-th
// directory of that stage.
func gcHelper(spec string) {
	parts := strings.Split(spec, ":")
	n, _ := strconv.Atoi(parts[2])
	root := parts[0]
	s := &Store{Root: root, RunLogsDir: filepath.Join(root, "run_logs"), StateDir: filepath.Join(root, ".osiris"), Now: func() time.Time { return gcNow }}
	_, _, err := s.GC(context.Background(), GCOptions{Retention: gcRetention, afterStep: func(stage string, i int) {
		if stage == parts[1] && i == n {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	}})
	fmt.Fprintln(os.Stderr, "gc helper was not killed:", err)
	os.Exit(5)
}

// A gc killed midway (while setting directories aside, or while deleting
// them) leaves a list in which every run is whole; the next gc finishes.
func TestGCKilledMidway(t *testing.T) {
	for _, kill := range []string{"aside:50", "delete:80"} {
		t.Run(kill, func(t *testing.T) {
			s := gcFixture(t)
			cmd := osexec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "RUNLOG_TEST_GC="+s.Root+":"+kill)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*osexec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("gc helper was not killed: %v\n%s", err, out)
			}
			runs, _, err := s.List(Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) < 140 || len(runs) >= 300 {
				t.Errorf("after the kill %d runs are listed; want some removed and at least the 140 kept", len(runs))
			}
			for _, r := range runs {
				d, err := s.Show(r)
				if err != nil || len(d.Steps) != 1 {
					t.Errorf("listed run %s is not whole: %v", r.RunID, err)
				}
				if _, err := os.Stat(filepath.Join(s.Dir(r), "artifacts", "extract", "output.parquet")); err != nil {
					t.Errorf("listed run %s lost its artifact: %v", r.RunID, err)
				}
			}
			// A rebuild from the directories agrees with the index.
			rebuilt, err := s.Rebuild()
			if err != nil || len(rebuilt) != len(runs) {
				t.Errorf("rebuilt index has %d runs, the list %d (%v)", len(rebuilt), len(runs), err)
			}
			res, _, err := s.GC(context.Background(), GCOptions{Retention: gcRetention})
			if err != nil {
				t.Fatal(err)
			}
			if kill == "delete:80" && res.Leftovers == 0 {
				t.Error("the next gc did not finish the directories set aside")
			}
			checkKept(t, s)
		})
	}
}
