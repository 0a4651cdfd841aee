package remote

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestStoreVerifiesOnWrite(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("id,name\n1,a\n")
	h := sum(data)

	// A blob whose content does not match its name is refused and not kept.
	w, err := s.Writer(h, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), data...)
	bad[3] ^= 1
	w.Write(bad)
	var hm *HashMismatchError
	if err := w.Commit("upload of x"); !errors.As(err, &hm) {
		t.Fatalf("commit of a corrupted blob: %v, want a HashMismatchError", err)
	}
	if s.Has(h) {
		t.Fatal("a corrupted blob was stored under the name it claimed")
	}
	if left, _ := os.ReadDir(s.tmp); len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}

	// More bytes than announced are refused.
	w, _ = s.Writer(h, 2)
	if _, err := w.Write(data); err == nil {
		t.Error("wrote more than the announced size")
	}
	w.Abort()

	// The right content is stored, read-only, at cas/sha256/ab/abcd….
	w, _ = s.Writer(h, int64(len(data)))
	w.Write(data)
	if err := w.Commit("upload of x"); err != nil {
		t.Fatal(err)
	}
	p := s.Path(h)
	if !strings.HasSuffix(filepath.ToSlash(p), "cas/sha256/"+h[:2]+"/"+h) {
		t.Errorf("blob at %s", p)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o444 {
		t.Errorf("stored blob: %v, mode %v; want read-only", err, st.Mode())
	}

	// It persists: a new Store on the same directory has it.
	s2, _ := OpenStore(filepath.Dir(filepath.Dir(s.dir)))
	if !s2.Has(h) {
		t.Error("the blob did not persist")
	}
}

func TestMaterializeLinksAndCopies(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenStore(dir)
	src := filepath.Join(dir, "src.csv")
	os.WriteFile(src, []byte("a,b\n"), 0o644)
	h, _, err := s.AddFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "tree")
	files := map[string]string{"ws/data/in.csv": h, "ws/warehouse.duckdb": h}
	if err := s.Materialize(tree, files, map[string]bool{"ws/warehouse.duckdb": true}); err != nil {
		t.Fatal(err)
	}
	blob, _ := os.Stat(s.Path(h))
	linked, _ := os.Stat(filepath.Join(tree, "ws", "data", "in.csv"))
	copied, _ := os.Stat(filepath.Join(tree, "ws", "warehouse.duckdb"))
	if !os.SameFile(blob, linked) {
		t.Error("a read-only input was not hard-linked from the store")
	}
	if os.SameFile(blob, copied) {
		t.Error("a file a step writes in place was hard-linked: writing it would change the store")
	}

	for _, bad := range []string{"../x", "ws/../../x", "/etc/passwd", "ws", "other/x", "ws/./x"} {
		if err := s.Materialize(tree, map[string]string{bad: h}, nil); err == nil {
			t.Errorf("tree path %q was accepted", bad)
		}
	}
	if err := s.Materialize(tree, map[string]string{"ws/y": strings.Repeat("0", 64)}, nil); err == nil {
		t.Error("a blob the store lacks was materialised")
	}
}

// A blob changed on the sandbox's disk (the worker runs as root there:
// mode 0444 protects nothing) or planted at a hash path is never served:
// Verify removes it and the run's layout refuses it.
func TestStoreVerifiesWhatItServes(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("region,amount\nnorth,10\n")
	h := sum(data)
	w, _ := s.Writer(h, int64(len(data)))
	w.Write(data)
	if err := w.Commit("upload"); err != nil {
		t.Fatal(err)
	}
	if !s.Verify(h) {
		t.Fatal("a stored blob did not verify")
	}

	// Edited in place, same size.
	p := s.Path(h)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("region,amount\nnorth,99\n"), 0o444)
	if s.Verify(h) {
		t.Fatal("an edited blob verified")
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("the edited blob was left in the store")
	}
	if got := s.Corrupted(); len(got) != 1 || got[0] != h {
		t.Errorf("Corrupted = %v, want [%s]", got, short(h))
	}

	// Planted read-only at a new input's hash path: not present.
	other := []byte("id\n1\n")
	ho := sum(other)
	os.MkdirAll(filepath.Dir(s.Path(ho)), 0o755)
	os.WriteFile(s.Path(ho), []byte("id\n2\n"), 0o444)
	if s.Verify(ho) {
		t.Error("a planted blob counts as present")
	}

	// Changed after it was verified, before it is linked into a run: the
	// layout hashes it again and refuses it.
	w, _ = s.Writer(h, int64(len(data)))
	w.Write(data)
	if err := w.Commit("upload"); err != nil {
		t.Fatal(err)
	}
	if !s.Verify(h) {
		t.Fatal("re-uploaded blob did not verify")
	}
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("region,amount\nsouth,10\n"), 0o444)
	for _, writable := range []bool{false, true} {
		if writable { // the copy path hashes while copying
			w, _ = s.Writer(h, int64(len(data)))
			w.Write(data)
			w.Commit("upload")
			os.Chmod(p, 0o644)
			os.WriteFile(p, []byte("region,amount\nsouth,10\n"), 0o444)
		}
		tree := t.TempDir()
		err := s.Materialize(tree, map[string]string{"ws/data/in.csv": h}, map[string]bool{"ws/data/in.csv": writable})
		var cb *CorruptBlobsError
		if !errors.As(err, &cb) || len(cb.Hashes) != 1 || cb.Hashes[0] != h {
			t.Fatalf("writable=%v: Materialize of a changed blob: %v, want a CorruptBlobsError naming it", writable, err)
		}
		if _, err := os.Stat(filepath.Join(tree, "ws", "data", "in.csv")); err == nil {
			t.Errorf("writable=%v: the changed blob was laid out in the run", writable)
		}
		if s.Has(h) {
			t.Errorf("writable=%v: the changed blob stays in the store", writable)
		}
	}
}
