package filehash

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := File(p)
		if err != nil || got != tc.want {
			t.Errorf("File(%q) = %s, %v; want %s", tc.content, got, err, tc.want)
		}
		hex, n, err := FileHex(p)
		if err != nil || Prefix+hex != tc.want || n != int64(len(tc.content)) {
			t.Errorf("FileHex(%q) = %s, %d, %v", tc.content, hex, n, err)
		}
	}
	if _, err := File(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v, want not-exist", err)
	}
}
