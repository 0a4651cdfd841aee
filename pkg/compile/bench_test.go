package compile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/pkg/compile"
)

// thousandSteps is a 1,000-step pipeline: one extractor, then DuckDB
// processors where every fifth step fans out from an earlier one and the
// rest chain on the previous step (explicit, implicit and inputs-based
// dependencies mixed).
func thousandSteps() []byte {
	var b strings.Builder
	b.WriteString("oml_version: \"0.1.0\"\nname: thousand\nparams:\n  n: {type: integer, default: 10}\nsteps:\n")
	b.WriteString("  - id: s0\n    component: mysql.extractor\n    mode: read\n    config:\n      query: SELECT * FROM t LIMIT ${params.n}\n")
	for i := 1; i < 1000; i++ {
		fmt.Fprintf(&b, "  - id: s%d\n    component: duckdb.processor\n    mode: transform\n", i)
		switch {
		case i%5 == 0:
			fmt.Fprintf(&b, "    needs: [s%d]\n", i/2)
		case i%7 == 0:
			fmt.Fprintf(&b, "    inputs:\n      a: \"${s%d.df}\"\n      b: \"${s%d.df}\"\n", i-1, i/3)
		}
		fmt.Fprintf(&b, "    config:\n      query: |\n        SELECT x, COUNT(*) AS c\n        FROM input_df WHERE x > ${params.n} GROUP BY x -- step %d\n", i)
	}
	return []byte(b.String())
}

func BenchmarkCompile1000Steps(b *testing.B) {
	src := thousandSteps()
	env := newFakeEnv(b.TempDir())
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		m, diags := compile.CompileSource(env, "pipelines/thousand.yaml", src, compile.Options{})
		if m == nil || len(m.Steps) != 1000 {
			b.Fatalf("compile failed:\n%s", render(diags))
		}
	}
}

// BenchmarkWriteBuild1000Steps measures writing (and verifying) build/.
func BenchmarkWriteBuild1000Steps(b *testing.B) {
	env := newFakeEnv(b.TempDir())
	m, diags := compile.CompileSource(env, "pipelines/thousand.yaml", thousandSteps(), compile.Options{})
	if m == nil {
		b.Fatal(render(diags))
	}
	root := b.TempDir()
	for b.Loop() {
		if _, _, err := compile.WriteBuild(root, "build", ".osiris", m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCompile1000StepsOrder checks the big pipeline's plan, so the
// benchmark measures a correct compile.
func TestCompile1000StepsOrder(t *testing.T) {
	env := newFakeEnv(t.TempDir())
	m, diags := compile.CompileSource(env, "pipelines/thousand.yaml", thousandSteps(), compile.Options{})
	if m == nil {
		t.Fatal(render(diags))
	}
	seen := map[string]bool{}
	for _, s := range m.Steps {
		for _, n := range s.Needs {
			if !seen[n] {
				t.Fatalf("step %s runs before its upstream %s", s.ID, n)
			}
		}
		seen[s.ID] = true
	}
	if s := m.Step("s14"); len(s.Inputs) != 2 || s.Needs[0] != "s4" || s.Needs[1] != "s13" {
		t.Errorf("s14: needs %v inputs %v", s.Needs, s.Inputs)
	}
	if s := m.Step("s11"); !s.ImplicitNeeds || s.Needs[0] != "s10" {
		t.Errorf("s11: needs %v implicit %v", s.Needs, s.ImplicitNeeds)
	}
}
