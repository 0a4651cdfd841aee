package compile_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
)

// FuzzValidate: parsing and validating any bytes never panics, finishes
// quickly, and any manifest it produces can be written and read back.
// Seeds are every pipeline under testdata; crashers found by
// `go test -fuzz FuzzValidate` stay in testdata/fuzz/FuzzValidate.
func FuzzValidate(f *testing.F) {
	for _, pattern := range []string{"testdata/bad/*.yaml", "testdata/compat/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(paramsPipeline))
	root := f.TempDir()
	env := newFakeEnv(root)
	f.Fuzz(func(t *testing.T, src []byte) {
		// Run the compile aside so a hang fails the input (and the fuzzer
		// keeps it) instead of stalling the fuzzer silently.
		type result struct {
			m     *compile.Manifest
			diags diag.List
		}
		done := make(chan result, 1)
		go func() {
			m, diags := compile.CompileSource(env, "pipelines/fuzz.yaml", src, compile.Options{})
			done <- result{m, diags}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("validation of %d bytes did not finish in 5s: %q", len(src), src)
		}
		m, diags := r.m, r.diags
		if (m == nil) != diags.HasErrors() {
			t.Fatalf("manifest=%v with errors=%v", m != nil, diags.HasErrors())
		}
		for _, d := range diags {
			if d.Code == "" || d.Message == "" || d.Code == "internal" {
				t.Fatalf("bad diagnostic: %s", d)
			}
		}
		if m == nil {
			return
		}
		dir, _, err := compile.WriteBuild(t.TempDir(), "build", ".osiris", m)
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		if _, err := compile.LoadManifest(dir); err != nil {
			t.Fatalf("read back: %v", err)
		}
	})
}
