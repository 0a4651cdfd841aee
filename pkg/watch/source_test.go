package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// AddDir while the poll loop compares states: the map it iterates must not
// be written (the race detector, or the runtime's "concurrent map
// iteration and map write", stops the process otherwise).
func TestPollAddDirWhilePolling(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for i := 0; i < 50; i++ {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := t.TempDir()
	s := newPollSource(tree{root: root}, time.Millisecond)
	defer s.Close()
	go func() {
		for range s.Changes() {
		}
	}()
	for i := 0; i < 200; i++ {
		dir := filepath.Join(outside, fmt.Sprintf("d%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "in.csv"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.AddDir(dir)
		// Changes inside the tree keep the loop's diff busy.
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%d", i%50)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A directory added with AddDir takes its files' current state as the
// baseline: they are not reported as changed, a later change is.
func TestPollAddDirBaseline(t *testing.T) {
	t.Parallel()
	root, outside := t.TempDir(), t.TempDir()
	in := filepath.Join(outside, "in.csv")
	if err := os.WriteFile(in, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newPollSource(tree{root: root}, 10*time.Millisecond)
	defer s.Close()
	s.AddDir(outside)
	marker := filepath.Join(root, "marker")
	if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The marker's change comes in a scan after AddDir: nothing of the
	// added directory may come before it.
	for p := range s.Changes() {
		if p == marker {
			break
		}
		t.Fatalf("%s reported as changed after AddDir took it as the baseline", p)
	}
	if err := os.WriteFile(in, []byte("xy"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p := <-s.Changes(); p != in {
		t.Fatalf("change of %s, want %s", p, in)
	}
}
