package runlog

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

// BenchmarkList10000 is `osiris logs list` over 10,000 recorded runs (3
// pipelines, a tenth failed): the index read, every run dir checked, the
// list sorted newest first and written as JSON. Target: < 200 ms.
func BenchmarkList10000(b *testing.B) {
	root := b.TempDir()
	s := &Store{Root: root, RunLogsDir: filepath.Join(root, "run_logs"), StateDir: filepath.Join(root, ".osiris")}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	runs := make([]exec.IndexedRun, 0, 10000)
	for i := 0; i < 10000; i++ {
		slug := []string{"orders", "customers", "movies"}[i%3]
		started := start.Add(time.Duration(i) * 17 * time.Minute)
		id := fmt.Sprintf("01BENCH%019d", i)
		dir := filepath.Join(s.RunLogsDir, "dev", slug, started.Format("20060102T150405Z")+"_"+id+"-abcdef0")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		status := exec.StatusSuccess
		if i%10 == 7 {
			status = exec.StatusFailed
		}
		ended := started.Add(time.Duration(i%5000) * time.Millisecond)
		st, _ := json.Marshal(map[string]any{"format": 1, "kind": "run", "status": status, "run_id": id, "started": started.Format(tsLayout)})
		if err := os.WriteFile(filepath.Join(dir, "status.json"), st, 0o644); err != nil {
			b.Fatal(err)
		}
		runs = append(runs, exec.IndexedRun{Format: 1, Record: "run", RunID: id, Pipeline: "pipelines/" + slug + ".yaml", Slug: slug,
			Profile: "dev", ManifestHash: "sha256:abcdef0123", Started: started.Format(tsLayout), Where: "local", RunDir: relOrAbs(root, dir),
			Status: status, Ended: ended.Format(tsLayout), DurationMs: int64(i % 5000), Rows: int64(i * 3)})
	}
	if err := exec.WriteIndex(s.StateDir, "bench", runs); err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	n := 0
	b.ResetTimer()
	for b.Loop() {
		n++
		list, notice, err := s.List(Filter{})
		if err != nil || notice != "" || len(list) != 10000 {
			b.Fatalf("%d runs, %q, %v", len(list), notice, err)
		}
		if err := json.NewEncoder(io.Discard).Encode(list); err != nil {
			b.Fatal(err)
		}
	}
	// The machine is shared: CPU time per list says what the wall time
	// would be on an idle core.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(max(n, 1)), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
