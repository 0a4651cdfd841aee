package compile_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCompile(t testing.TB, env compile.Env, file string, opts compile.Options) *compile.Manifest {
	t.Helper()
	m, diags := compile.Compile(env, file, opts)
	if m == nil {
		t.Fatalf("compile %s failed:\n%s", file, render(diags))
	}
	return m
}

// TestCompatPipelines: pipelines written the way Osiris-Python users write
// them validate without a single diagnostic and compile to what they mean.
func TestCompatPipelines(t *testing.T) {
	files := map[string][]byte{}
	for _, n := range []string{"seed.yaml", "multi_input_duckdb.yaml", "mysql_to_csv.yaml"} {
		files["pipelines/"+n] = readTestdata(t, "compat/"+n)
	}
	root := workspaceWith(t, files)
	env := newFakeEnv(root)

	for name := range files {
		if d := compile.Validate(env, name, compile.Options{}); len(d) != 0 {
			t.Errorf("%s: want no diagnostics, got\n%s", name, render(d))
		}
	}

	t.Run("seed", func(t *testing.T) {
		m := mustCompile(t, env, "pipelines/seed.yaml", compile.Options{})
		ids := stepIDs(m)
		if want := []string{"extract-movies", "compute-director-stats", "write-director-stats"}; !reflect.DeepEqual(ids, want) {
			t.Errorf("order %v, want %v", ids, want)
		}
		q := m.Step("compute-director-stats").Config["query"].(string)
		if !strings.Contains(q, "HAVING COUNT(*) >= 1\n") {
			t.Errorf("param not resolved into the query: %q", q)
		}
		w := m.Step("write-director-stats")
		if w.Connection != "@supabase.main" || w.Config["schema"] != "public" || w.Config["write_mode"] != "replace" {
			t.Errorf("writer: connection %q, config %v", w.Connection, w.Config)
		}
		if m.Params["min_movies"] != int64(1) {
			t.Errorf("params %v", m.Params)
		}
		if m.Pipeline.Slug != "seed" || m.Pipeline.File != "pipelines/seed.yaml" || m.Profile != "dev" {
			t.Errorf("pipeline %+v profile %q", m.Pipeline, m.Profile)
		}
	})

	t.Run("multi-input", func(t *testing.T) {
		m := mustCompile(t, env, "pipelines/multi_input_duckdb.yaml", compile.Options{Profile: "prod"})
		j := m.Step("join-all")
		if want := []string{"extract-movies", "extract-directors", "extract-reviews"}; !reflect.DeepEqual(j.Needs, want) {
			t.Errorf("needs %v, want %v (from inputs, declaration order)", j.Needs, want)
		}
		wantInputs := []compile.NamedInput{{Name: "directors", Step: "extract-directors"}, {Name: "movies", Step: "extract-movies"}, {Name: "reviews", Step: "extract-reviews"}}
		if !reflect.DeepEqual(j.Inputs, wantInputs) || j.ImplicitNeeds {
			t.Errorf("inputs %v implicit %v", j.Inputs, j.ImplicitNeeds)
		}
		if q := j.Config["query"].(string); !strings.Contains(q, ">= 25") {
			t.Errorf("profile prod did not set min_reviews: %q", q)
		}
		if q := m.Step("extract-movies").Config["query"].(string); !strings.Contains(q, "genre = 'Drama'") {
			t.Errorf("string param not formatted: %q", q)
		}
		if cols := m.Step("extract-directors").Config["columns"]; !reflect.DeepEqual(cols, []any{"director_id", "name"}) {
			t.Errorf("columns %#v", cols)
		}
		if m.Profile != "prod" || m.Params["min_reviews"] != int64(25) {
			t.Errorf("profile %q params %v", m.Profile, m.Params)
		}
	})

	t.Run("mysql-to-csv", func(t *testing.T) {
		m := mustCompile(t, env, "pipelines/mysql_to_csv.yaml", compile.Options{})
		w := m.Step("write-directors-csv")
		if !w.ImplicitNeeds || !reflect.DeepEqual(w.Needs, []string{"extract-directors"}) {
			t.Errorf("previous-step rule: needs %v implicit %v", w.Needs, w.ImplicitNeeds)
		}
		e := m.Step("extract-directors")
		if e.Connection != "@mysql.db_movies" || e.Config["connection"] != "@mysql.db_movies" {
			t.Errorf("default connection not filled: %q %v", e.Connection, e.Config)
		}
		if w.Config["quoting"] != "minimal" || w.Config["header"] != true || w.Config["newline"] != "crlf" {
			t.Errorf("defaults/values: %v", w.Config)
		}
		if got := m.Step("write-actors-csv"); got.ImplicitNeeds {
			t.Error("explicit needs marked implicit")
		}
	})
}

func stepIDs(m *compile.Manifest) []string {
	var ids []string
	for _, s := range m.Steps {
		ids = append(ids, s.ID)
	}
	return ids
}

// readTree returns every file under dir (relative name → content).
func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compatWorkspace(t testing.TB) string {
	files := map[string][]byte{}
	for _, n := range []string{"seed.yaml", "multi_input_duckdb.yaml", "mysql_to_csv.yaml"} {
		files["pipelines/"+n] = readTestdata(t, "compat/"+n)
	}
	return workspaceWith(t, files)
}

func compileAll(t testing.TB, root string, env compile.Env) {
	t.Helper()
	for _, n := range []string{"seed.yaml", "multi_input_duckdb.yaml", "mysql_to_csv.yaml"} {
		m := mustCompile(t, env, "pipelines/"+n, compile.Options{})
		if _, _, err := compile.WriteBuild(root, "build", ".osiris", m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeterminism: two workspaces at different absolute paths, compiled
// from different working directories, time zones, environments and
// seconds of the clock, produce byte-identical build/ trees.
func TestDeterminism(t *testing.T) {
	rootA, rootB := compatWorkspace(t), compatWorkspace(t)

	t.Chdir(rootA)
	t.Setenv("TZ", "UTC")
	t.Setenv("LANG", "C")
	compileAll(t, rootA, newFakeEnv(rootA))

	time.Sleep(1100 * time.Millisecond) // a different second on the clock
	t.Chdir(os.TempDir())
	t.Setenv("TZ", "Pacific/Kiritimati")
	t.Setenv("LANG", "de_DE.UTF-8")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("USER", "someone-else")
	compileAll(t, rootB, newFakeEnv(rootB))

	a, b := readTree(t, filepath.Join(rootA, "build")), readTree(t, filepath.Join(rootB, "build"))
	if len(a) == 0 {
		t.Fatal("nothing written")
	}
	if !reflect.DeepEqual(keys(a), keys(b)) {
		t.Fatalf("different file sets:\n%v\n%v", keys(a), keys(b))
	}
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between the two compiles", name)
		}
		for _, leak := range []string{rootA, rootB, os.TempDir(), "Kiritimati", "someone-else"} {
			if bytes.Contains(a[name], []byte(leak)) {
				t.Errorf("%s contains %q", name, leak)
			}
		}
	}
	if la, lb := readTree(t, filepath.Join(rootA, ".osiris")), readTree(t, filepath.Join(rootB, ".osiris")); !reflect.DeepEqual(la, lb) {
		t.Errorf("last_compile differs: %q vs %q", la, lb)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestRecompileRewritesNothing: compiling an unchanged pipeline again
// leaves every file's mtime alone.
func TestRecompileRewritesNothing(t *testing.T) {
	root := compatWorkspace(t)
	env := newFakeEnv(root)
	m := mustCompile(t, env, "pipelines/seed.yaml", compile.Options{})
	dir, changed, err := compile.WriteBuild(root, "build", ".osiris", m)
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	var paths []string
	for _, base := range []string{filepath.Join(root, "build"), filepath.Join(root, ".osiris")} {
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				paths = append(paths, p)
				os.Chtimes(p, past, past)
			}
			return nil
		})
	}
	if len(paths) != 8 { // manifest, 3 cfg, plan, fingerprints, LATEST, last_compile
		t.Errorf("wrote %d files: %v", len(paths), paths)
	}
	m2 := mustCompile(t, env, "pipelines/seed.yaml", compile.Options{})
	dir2, changed, err := compile.WriteBuild(root, "build", ".osiris", m2)
	if err != nil || changed || dir2 != dir {
		t.Fatalf("recompile: changed=%v err=%v dir %s vs %s", changed, err, dir2, dir)
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.ModTime().Equal(past) {
			t.Errorf("%s was rewritten", p)
		}
	}

	// A real change writes a new manifest directory and moves LATEST.
	m3 := mustCompile(t, env, "pipelines/seed.yaml", compile.Options{Params: map[string]string{"min_movies": "5"}})
	dir3, changed, err := compile.WriteBuild(root, "build", ".osiris", m3)
	if err != nil || !changed || dir3 == dir {
		t.Fatalf("changed params: changed=%v err=%v", changed, err)
	}
	latest, _ := os.ReadFile(filepath.Join(filepath.Dir(dir3), "LATEST"))
	if string(latest) != filepath.Base(dir3)+"\n" {
		t.Errorf("LATEST = %q, want %q", latest, filepath.Base(dir3))
	}
	last, err := compile.LastCompile(root, "build", ".osiris")
	if err != nil || last != dir3 {
		t.Errorf("LastCompile = %q, %v; want %q", last, err, dir3)
	}
	if !strings.HasPrefix(filepath.Base(dir3), m3.ShortHash()+"-"+m3.ShortHash()) {
		t.Errorf("dir name %q is not <short>-<hash>", filepath.Base(dir3))
	}
}

// TestLoadManifest: manifest.yaml reads back to the same manifest, and an
// edited one is refused.
func TestLoadManifest(t *testing.T) {
	root := compatWorkspace(t)
	m := mustCompile(t, newFakeEnv(root), "pipelines/multi_input_duckdb.yaml", compile.Options{})
	dir, _, err := compile.WriteBuild(root, "build", ".osiris", m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := compile.LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("round trip differs:\n%#v\n%#v", back, m)
	}
	p := filepath.Join(dir, "manifest.yaml")
	src, _ := os.ReadFile(p)
	edited := bytes.Replace(src, []byte("./output/movie_scores.parquet"), []byte("/tmp/elsewhere.parquet"), 1)
	if bytes.Equal(edited, src) {
		t.Fatal("test did not edit the manifest")
	}
	os.WriteFile(p, edited, 0o644)
	if _, err := compile.LoadManifest(dir); err == nil || !strings.Contains(err.Error(), "manifest_hash does not match") {
		t.Errorf("edited manifest: err = %v", err)
	}
}

// TestManifestYAMLRoundTrip pushes awkward values through manifest.yaml.
func TestManifestYAMLRoundTrip(t *testing.T) {
	values := []any{"", " lead", "trail ", "0.1.0", "yes", "no", "null", "~", "1e3", "0123", "@mysql.x", "${X}", "a: b", "#c",
		"line1\nline2\n", "line1\nline2", "\tindented\n", "x\n\n", "é\t", "emoji 🎬", "\u2028", "\x00\x7f", "- item", "[x]", "{y}",
		"  two\nlines", "NaN", ".inf", "True", "key: |", "\ufeffbom", "quote\"and\\back",
		int64(0), int64(-9223372036854775808), uint64(18446744073709551615), 1.0, 1e21, 1.5e-7, -0.0, 123456.789, true, false, nil,
		[]any{}, map[string]any{}, []any{[]any{"nested"}, map[string]any{"k": "v"}}, map[string]any{"": "empty key", "yes": int64(1), "a b": []any{int64(1), "2"}}}
	cfg := map[string]any{}
	for i, v := range values {
		cfg[string(rune('a'+i%26))+strings.Repeat("x", i/26)] = v
	}
	m := &compile.Manifest{
		Format:   compile.ManifestFormat,
		Pipeline: compile.ManifestPipeline{Name: "odd: name", Slug: "odd", File: "pipelines/odd.yaml", Metadata: map[string]any{"owner": "team\nA"}},
		Profile:  "dev",
		Params:   map[string]any{"p": "x\ty"},
		Steps: []compile.Step{{ID: "s", Component: "duckdb.processor", Mode: "transform", Needs: []string{}, Config: cfg,
			Cache: "auto", CfgPath: "cfg/s.json", Fingerprint: "sha256:00"}},
		Fingerprints: compile.Fingerprints{StepFp: map[string]string{"s": "sha256:00"}},
	}
	var err error
	if m.ManifestHash, err = m.ComputeHash(); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir, _, err := compile.WriteBuild(root, "build", ".osiris", m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := compile.LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range cfg {
		got := back.Steps[0].Config[k]
		if f, ok := want.(float64); ok && f == float64(int64(f)) {
			want = int64(f) // 1.0 reads back as 1: canonical JSON cannot tell them apart
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: wrote %#v, read %#v", k, want, got)
		}
	}
}

// TestFingerprints: comments and key order do not change oml_fp; values
// do; a changed component spec changes registry_fp.
func TestFingerprints(t *testing.T) {
	seed := readTestdata(t, "compat/seed.yaml")
	reordered := []byte(`# the same pipeline, keys reordered and comments added
name: mysql-duckdb-supabase-demo   # name first this time
steps:
  - mode: read
    id: extract-movies
    config:
      query: |
        SELECT m.movie_id, m.title, m.director_id, d.name AS director_name
        FROM movies m JOIN directors d ON m.director_id = d.director_id
      connection: "@mysql.db_movies"
    component: mysql.extractor
  - component: duckdb.processor
    id: compute-director-stats
    needs: [extract-movies]
    mode: transform
    config:
      query: |
        SELECT director_id, director_name, COUNT(*) AS movie_count
        FROM input_df GROUP BY ALL HAVING COUNT(*) >= ${params.min_movies}
  - id: write-director-stats
    needs:
      - compute-director-stats
    component: supabase.writer
    mode: write
    config:
      create_if_missing: true
      primary_key: [director_id]
      write_mode: replace
      table: director_stats
      connection: "@supabase.main"
params:
  min_movies: {type: integer, default: 1}
oml_version: "0.1.0"
`)
	changed := bytes.Replace(seed, []byte("table: director_stats"), []byte("table: director_stats_v2"), 1)
	root := workspaceWith(t, map[string][]byte{
		"pipelines/seed.yaml": seed, "pipelines/reordered/seed.yaml": reordered, "pipelines/changed/seed.yaml": changed,
	})
	env := newFakeEnv(root)
	a := mustCompile(t, env, "pipelines/seed.yaml", compile.Options{})
	b := mustCompile(t, env, "pipelines/reordered/seed.yaml", compile.Options{})
	c := mustCompile(t, env, "pipelines/changed/seed.yaml", compile.Options{})

	if a.Fingerprints.OMLFp != b.Fingerprints.OMLFp {
		t.Error("comments/key order changed oml_fp")
	}
	if !reflect.DeepEqual(a.Fingerprints.StepFp, b.Fingerprints.StepFp) {
		t.Error("comments/key order changed step_fp")
	}
	if a.Fingerprints.OMLFp == c.Fingerprints.OMLFp {
		t.Error("a changed table did not change oml_fp")
	}
	if a.Fingerprints.StepFp["extract-movies"] != c.Fingerprints.StepFp["extract-movies"] ||
		a.Fingerprints.StepFp["write-director-stats"] == c.Fingerprints.StepFp["write-director-stats"] {
		t.Error("step_fp must change for the changed step only")
	}

	// A param change moves params_fp, and step_fp of the step using it and
	// of everything downstream, not upstream.
	p := mustCompile(t, env, "pipelines/seed.yaml", compile.Options{Params: map[string]string{"min_movies": "2"}})
	if p.Fingerprints.ParamsFp == a.Fingerprints.ParamsFp || p.Fingerprints.OMLFp == a.Fingerprints.OMLFp {
		t.Error("param change did not change params_fp/oml_fp")
	}
	if p.Fingerprints.StepFp["extract-movies"] != a.Fingerprints.StepFp["extract-movies"] ||
		p.Fingerprints.StepFp["compute-director-stats"] == a.Fingerprints.StepFp["compute-director-stats"] ||
		p.Fingerprints.StepFp["write-director-stats"] == a.Fingerprints.StepFp["write-director-stats"] {
		t.Error("step_fp did not follow the param change downstream only")
	}

	// A changed spec default (here: supabase.writer's schema) changes
	// registry_fp, and the writer's step_fp through its effective config.
	restore := compile.SetSpecLookup(func(name string) (component.Spec, bool) {
		s, ok := component.Lookup(name)
		if name == "supabase.writer" {
			fields := append([]component.Field(nil), s.Fields...)
			for i := range fields {
				if fields[i].Name == "schema" {
					fields[i].Default = "analytics"
				}
			}
			s.Fields = fields
		}
		return s, ok
	})
	d := mustCompile(t, env, "pipelines/seed.yaml", compile.Options{})
	restore()
	if d.Fingerprints.RegistryFp == a.Fingerprints.RegistryFp {
		t.Error("changed spec default did not change registry_fp")
	}
	if d.Fingerprints.StepFp["write-director-stats"] == a.Fingerprints.StepFp["write-director-stats"] ||
		d.Fingerprints.StepFp["extract-movies"] != a.Fingerprints.StepFp["extract-movies"] {
		t.Error("changed default: wrong step_fp changes")
	}
	if d.ManifestHash == a.ManifestHash {
		t.Error("manifest_hash did not change")
	}

	// compiler_fp follows the version.
	old := compile.Version
	compile.Version = "v9.9.9"
	e := mustCompile(t, env, "pipelines/seed.yaml", compile.Options{})
	compile.Version = old
	if e.Fingerprints.CompilerFp == a.Fingerprints.CompilerFp {
		t.Error("version change did not change compiler_fp")
	}
	for _, fp := range []string{a.Fingerprints.OMLFp, a.Fingerprints.ParamsFp, a.Fingerprints.RegistryFp, a.Fingerprints.CompilerFp, a.ManifestHash} {
		if !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+64 {
			t.Errorf("fingerprint %q is not sha256:<hex>", fp)
		}
	}
}

// TestCanonicalJSON pins the canonical form.
func TestCanonicalJSON(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{map[string]any{"b": 1, "a": []any{true, nil, "x"}}, `{"a":[true,null,"x"],"b":1}`},
		{map[string]any{"\uff5e": 1, "\U0001F600": 2, "z": 3}, `{"z":3,"😀":2,"～":1}`}, // UTF-16 order: surrogates sort before U+FF5E
		{"<&>\u2028\n\x01\"\\", `"<&>` + "\u2028" + `\n\u0001\"\\"`},
		{1e21, `1e+21`},
		{0.1, `0.1`},
		{int64(-9223372036854775808), `-9223372036854775808`},
		{uint64(18446744073709551615), `18446744073709551615`},
		{1.0, `1`},
		{map[string]any{}, `{}`},
	}
	for _, tc := range tests {
		got, err := compile.CanonicalJSON(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("CanonicalJSON(%#v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := compile.CanonicalJSON(map[string]any{"x": func() {}}); err == nil {
		t.Error("a func must not encode")
	}
}
