package compat

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

const dbAgree = "osiris_compat_agree"

// suitePipeline is one pipeline found in the repository's tests.
type suitePipeline struct {
	where string            // file, or file:line for one inside Go source or an archive
	src   string            // the pipeline text
	files map[string]string // other files of its txtar archive (data the pipeline reads)
}

// collectSuitePipelines finds every pipeline of the test suite: YAML files
// (testdata, templates, e2e fixtures), pipelines inside txtar script tests
// and raw string literals of Go tests that hold a whole pipeline.
func collectSuitePipelines(t *testing.T, root string) []suitePipeline {
	t.Helper()
	var out []suitePipeline
	isPipeline := func(s string) bool {
		return strings.Contains(s, "oml_version") && strings.Contains(s, "steps:")
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if n := d.Name(); n != "." && (strings.HasPrefix(n, ".") || n == "build" || n == "run_logs" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml"):
			b, err := os.ReadFile(p)
			if err == nil && isPipeline(string(b)) {
				out = append(out, suitePipeline{where: rel, src: string(b)})
			}
		case strings.HasSuffix(p, ".txtar"):
			a, err := txtar.ParseFile(p)
			if err != nil {
				return err
			}
			others := map[string]string{}
			for _, f := range a.Files {
				if !isPipeline(string(f.Data)) && f.Name != "osiris.toml" {
					others[f.Name] = string(f.Data)
				}
			}
			for _, f := range a.Files {
				if isPipeline(string(f.Data)) {
					out = append(out, suitePipeline{where: rel + ":" + f.Name, src: string(f.Data), files: others})
				}
			}
		case strings.HasSuffix(p, "_test.go"):
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err == nil && isPipeline(s) && strings.HasPrefix(strings.TrimSpace(s), "oml_version") || err == nil && isPipeline(s) && strings.Contains(s, "\noml_version") {
					out = append(out, suitePipeline{where: fmt.Sprintf("%s:%d", rel, fset.Position(lit.Pos()).Line), src: s})
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var connRef = regexp.MustCompile(`@([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)`)

// agreeTOML defines every connection a pipeline names (and a default per
// family) on this test's databases, so that only the pipeline itself can
// make a run fail before its first step.
func agreeTOML(src string) string {
	refs := map[string]map[string]bool{"mysql": {"src": true}, "supabase": {"main": true}, "postgres": {}, "duckdb": {"local": true}, "filesystem": {"local": true}}
	for _, m := range connRef.FindAllStringSubmatch(src, -1) {
		if refs[m[1]] != nil {
			refs[m[1]][m[2]] = true
		}
	}
	var b strings.Builder
	b.WriteString("[project]\nname = \"agree\"\n")
	families := make([]string, 0, len(refs))
	for f := range refs {
		families = append(families, f)
	}
	sort.Strings(families)
	for _, f := range families {
		aliases := make([]string, 0, len(refs[f]))
		for a := range refs[f] {
			aliases = append(aliases, a)
		}
		sort.Strings(aliases)
		for i, a := range aliases {
			fmt.Fprintf(&b, "\n[connections.%s.%s]\n", f, a)
			if i == 0 {
				b.WriteString("default = true\n")
			}
			switch f {
			case "mysql":
				b.WriteString("host = \"${AG_MYSQL_HOST}\"\nport = \"${AG_MYSQL_PORT}\"\ndatabase = \"" + dbAgree + "\"\nuser = \"${AG_MYSQL_USER}\"\npassword = \"${AG_MYSQL_PASSWORD:-}\"\n")
			case "supabase", "postgres":
				b.WriteString("dsn = \"${AG_PG_URL}\"\n")
			case "duckdb":
				b.WriteString("path = \"" + a + ".duckdb\"\n")
			case "filesystem":
				b.WriteString("base_dir = \".\"\n")
			}
		}
	}
	return b.String()
}

// TestValidateAndRunAgree feeds every pipeline of the test suite through
// validate and, when it validates, through run: no pipeline that validates
// may fail at run time before its first step starts (a configuration or
// graph error found only by run is a validator bug).
func TestValidateAndRunAgree(t *testing.T) {
	testenv.MySQLDSN(t, dbAgree)
	pgURL := testenv.PGConnString(t, dbAgree)
	env := []string{"AG_MYSQL_HOST=" + testenv.MySQLHost(), "AG_MYSQL_PORT=" + testenv.MySQLPort(),
		"AG_MYSQL_USER=" + testenv.MySQLUser(), "AG_MYSQL_PASSWORD=" + testenv.MySQLPassword(), "AG_PG_URL=" + pgURL}

	pipelines := collectSuitePipelines(t, e2e.RepoRoot())
	if len(pipelines) < 40 {
		t.Fatalf("found only %d pipelines in the test suite; the collector is broken", len(pipelines))
	}
	// Three at a time; a run is bounded by --timeout, which cancels it
	// long after its first step has started (all this test looks at).
	var mu sync.Mutex
	validated, ran := 0, 0
	work := make(chan suitePipeline)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				v, r := checkAgreement(t, p, env)
				mu.Lock()
				validated, ran = validated+v, ran+r
				mu.Unlock()
			}
		}()
	}
	for _, p := range pipelines {
		work <- p
	}
	close(work)
	wg.Wait()
	t.Logf("%d pipelines in the suite, %d validate, %d ran", len(pipelines), validated, ran)
	if validated < 20 {
		t.Errorf("only %d pipelines validate; the test checks too little", validated)
	}
}

// checkAgreement validates one pipeline and, when it validates, runs it;
// it returns 1, 1 for validated and ran.
func checkAgreement(t *testing.T, p suitePipeline, env []string) (validated, ran int) {
	files := map[string]string{"osiris.toml": agreeTOML(p.src), "pipelines/p.yaml": p.src}
	for k, v := range p.files {
		files[k] = v
	}
	w := e2e.NewWorkspace(t, files)
	w.Env = append(w.Env, env...)
	if v := w.Osiris("validate", "pipelines/p.yaml"); v.ExitCode != 0 {
		return 0, 0
	}
	t0 := time.Now()
	r := w.Osiris("--json", "run", "--timeout", "3s", "pipelines/p.yaml")
	if el := time.Since(t0); el > 2*time.Second {
		t.Logf("%s: run took %v", p.where, el)
	}
	if r.ExitCode == 2 {
		t.Errorf("%s: validates but run refuses it (exit 2):\n%s%s", p.where, r.Stdout, r.Stderr)
		return 1, 0
	}
	var out struct {
		RunDir string `json:"run_dir"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.RunDir == "" {
		t.Errorf("%s: run exit %d without a run directory:\n%s%s", p.where, r.ExitCode, r.Stdout, r.Stderr)
		return 1, 0
	}
	runDir := filepath.Join(w.Root, filepath.FromSlash(out.RunDir))
	st := e2e.ReadStatus(t, runDir)
	if st.Status == osexec.StatusSuccess {
		return 1, 1
	}
	if starts := e2e.EventsNamed(e2e.ReadEvents(t, runDir), osexec.EventStepStart, ""); len(starts) == 0 {
		t.Errorf("%s: validates, but run failed before its first step (step %q): %s", p.where, st.FailedStep, st.Error)
	}
	return 1, 1
}
