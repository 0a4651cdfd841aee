package compile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/osiris-go/osiris/pkg/compile"
)

func TestSmoke(t *testing.T) {
	root := t.TempDir()
	src, _ := os.ReadFile("testdata/compat/seed.yaml")
	os.MkdirAll(filepath.Join(root, "pipelines"), 0o755)
	os.WriteFile(filepath.Join(root, "pipelines/seed.yaml"), src, 0o644)
	m, d := compile.Compile(newFakeEnv(root), "pipelines/seed.yaml", compile.Options{})
	t.Log(d)
	if m == nil {
		t.Fatal("nil")
	}
	dir, changed, err := compile.WriteBuild(root, "build", ".osiris", m)
	t.Log(dir, changed, err)
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.yaml"))
	t.Log(string(b))
	b, _ = os.ReadFile(filepath.Join(dir, "plan.json"))
	t.Log(string(b))
	b, _ = os.ReadFile(filepath.Join(dir, "cfg/write-director-stats.json"))
	t.Log(string(b))
}
