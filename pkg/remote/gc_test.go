package remote

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

// 200 runs, each with a changed input, against one sandbox: the store
// stays under max_store (here 1 MiB with 128 KiB inputs, the same logic
// as 2 GiB with 50 MB inputs), and no run tree or partial upload stays.
func TestStoreStaysUnderItsBound(t *testing.T) {
	ws, m, plan := inprocWorkspace(t, nil)
	in := filepath.Join(ws.Root, "data", "in.csv")
	sbDir := t.TempDir()
	const maxStore = 1 << 20
	row := strings.Repeat("x", 120)
	for i := 0; i < 200; i++ {
		var b strings.Builder
		b.WriteString("id,v\n")
		for j := 0; b.Len() < 128<<10; j++ {
			fmt.Fprintf(&b, "%d,%s%d\n", j, row, i)
		}
		if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Run(context.Background(), ClientOptions{
			Sandbox: pipeSandbox{dir: sbDir}, Binary: "unused", BinarySHA256: "unused", Version: "test", Plan: plan, Manifest: m,
			Engine: exec.Options{MemoryBudget: -1, MaxParallel: 1}, RunID: exec.NewRunID(), RunDir: t.TempDir(),
			Sink: &eventLog{}, Masker: ws.Masker, Bound: &GCRequest{MaxStore: maxStore, KeepRuns: 2},
		})
		if err != nil || res.Status != exec.StatusSuccess {
			t.Fatalf("run %d: %v", i, err)
		}
		if n := dirBytes(filepath.Join(sbDir, "cas")); n > maxStore {
			t.Fatalf("after run %d the store holds %d bytes, over its bound of %d", i, n, maxStore)
		}
	}
	for _, d := range []string{"runs", "tmp"} {
		if left, _ := os.ReadDir(filepath.Join(sbDir, d)); len(left) != 0 {
			t.Errorf("%s/ holds %d entries after the runs ended", d, len(left))
		}
	}
	if refs, _ := os.ReadDir(filepath.Join(sbDir, "refs")); len(refs) != 2 {
		t.Errorf("refs/ holds %d run records, want keep_runs = 2", len(refs))
	}
}

// What a dead worker left (its run tree, its partial uploads, loose temp
// files of an older worker) goes when the next worker starts; what a live
// worker holds stays.
func TestDeadWorkersLeftoversGoAtStart(t *testing.T) {
	dir := t.TempDir()
	write := func(p string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte("leftover"), 0o644)
	}
	write("runs/01DEAD/ws/data/in.csv")
	write("runs/01DEAD.lock")
	write("runs/01NOLOCK/run/artifacts/x.parquet")
	write("tmp/deadworker/blob-1")
	write("tmp/deadworker.lock")
	write("tmp/blob-123456")
	// Without a lock (an older osiris): removed once older than looseAge.
	old := time.Now().Add(-2 * looseAge)
	os.Chtimes(filepath.Join(dir, "runs", "01NOLOCK"), old, old)
	os.Chtimes(filepath.Join(dir, "tmp", "blob-123456"), old, old)
	write("runs/01FRESH/ws/in.csv")
	write("runs/01LIVE/ws/in.csv")
	live, err := os.OpenFile(filepath.Join(dir, "runs", "01LIVE.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if err := syscall.Flock(int(live.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), inR, outW, WorkerOptions{Dir: dir, Version: "test"}) }()
	enc, dec := NewEncoder(inW), NewDecoder(outR)
	enc.Encode(NewFrame(TypeHello, 1, 0, Hello{Protocol: ProtocolVersion}))
	if f, err := dec.Decode(); err != nil || f.Type != TypeHello {
		t.Fatalf("hello: %v %v", f, err)
	}
	for _, gone := range []string{"runs/01DEAD", "runs/01DEAD.lock", "runs/01NOLOCK", "tmp/deadworker", "tmp/deadworker.lock", "tmp/blob-123456"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); err == nil {
			t.Errorf("%s is still there after a worker started", gone)
		}
	}
	for _, kept := range []string{"runs/01LIVE/ws/in.csv", "runs/01FRESH/ws/in.csv"} {
		if _, err := os.Stat(filepath.Join(dir, kept)); err != nil {
			t.Errorf("%s (a live worker's) was removed: %v", kept, err)
		}
	}
	enc.Encode(NewFrame(TypeBye, 2, 0, nil))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Prune removes unreferenced blobs least recently used first, keeps the
// pinned ones (the last keep_runs runs) and, while another worker runs,
// those used recently.
func TestPruneLeastRecentlyUsedFirst(t *testing.T) {
	s, _ := OpenStore(t.TempDir())
	var hs []string
	for i := 0; i < 4; i++ {
		data := []byte(strings.Repeat(string(rune('a'+i)), 100))
		h := sum(data)
		w, _ := s.Writer(h, int64(len(data)))
		w.Write(data)
		if err := w.Commit("x"); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	// Used in the order 2, 0, 3, 1 (oldest first).
	base := time.Now().Add(-time.Hour)
	for i, h := range []string{hs[2], hs[0], hs[3], hs[1]} {
		at := base.Add(time.Duration(i) * time.Minute)
		os.Chtimes(s.Path(h), at, at)
	}
	res := s.Prune(250, map[string]bool{hs[2]: true}, 0)
	// 400 bytes, bound 250: two go; 2 is pinned, so 0 then 3.
	if res.BlobsRemoved != 2 || s.Has(hs[0]) || s.Has(hs[3]) || !s.Has(hs[2]) || !s.Has(hs[1]) {
		t.Errorf("prune removed %d; left 0:%v 1:%v 2:%v 3:%v, want 0 and 3 gone", res.BlobsRemoved, s.Has(hs[0]), s.Has(hs[1]), s.Has(hs[2]), s.Has(hs[3]))
	}
	if res := s.Prune(1, nil, base.Add(-time.Second).UnixNano()); res.BlobsRemoved != 0 || !res.OverBound {
		t.Errorf("recently used blobs were removed while another worker runs: %+v", res)
	}
}
