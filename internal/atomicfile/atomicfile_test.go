package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		o    Options
		mode os.FileMode
	}{
		{"default mode", "a.json", Options{}, 0o644},
		{"private, synced", "key", Options{Perm: 0o600, Sync: true}, 0o600},
		{"parents made", "x/y/z.txt", Options{MkdirAll: true}, 0o644},
	} {
		p := filepath.Join(dir, filepath.FromSlash(tc.path))
		for _, data := range []string{"first", "second"} {
			if err := Write(p, []byte(data), tc.o); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			b, err := os.ReadFile(p)
			if err != nil || string(b) != data {
				t.Errorf("%s: read %q (%v), want %q", tc.name, b, err, data)
			}
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.name, st.Mode().Perm(), tc.mode)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name()[0] == '.' {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	if err := Write(filepath.Join(dir, "no", "parent"), nil, Options{}); err == nil {
		t.Error("a missing parent without MkdirAll did not fail")
	}
}
