package compile_test

import (
	"strings"
	"testing"

	"github.com/osiris-go/osiris/pkg/compile"
)

const paramsPipeline = `oml_version: "0.1.0"
name: params
params:
  n: {type: integer, default: 1, min: 0, max: 100}
  ratio: {type: number, default: 0.5}
  flag: {type: boolean, default: false}
  region: {type: string, enum: [eu, us], default: eu}
profiles:
  dev:
    params: {n: 2}
  prod:
    params: {n: 3, region: us}
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config:
      table: movies
      limit: ${params.n}
      where: "ratio > ${params.ratio} AND region = '${params.region}' AND n = ${params.n}"
  - id: write
    component: mysql.writer
    mode: write
    config:
      table: out
      create_if_missing: ${params.flag}
`

// TestParams: precedence --param > OSIRIS_PARAM_* > profile > default;
// a whole-value placeholder keeps its type, an embedded one is text;
// type, enum and range are checked whichever source the value came from.
func TestParams(t *testing.T) {
	tests := []struct {
		name      string
		profile   string
		env       map[string]string
		params    map[string]string
		wantLimit any
		wantWhere string
		wantFlag  any
		wantDiag  string // substring of the rendered diagnostics; "" = none
	}{
		{name: "default profile dev", wantLimit: int64(2), wantWhere: "ratio > 0.5 AND region = 'eu' AND n = 2", wantFlag: false},
		{name: "profile prod", profile: "prod", wantLimit: int64(3), wantWhere: "ratio > 0.5 AND region = 'us' AND n = 3", wantFlag: false},
		{name: "profile without params", profile: "staging", wantLimit: int64(1), wantWhere: "ratio > 0.5 AND region = 'eu' AND n = 1", wantFlag: false},
		{name: "env beats profile", profile: "prod", env: map[string]string{"OSIRIS_PARAM_N": "7", "OSIRIS_PARAM_FLAG": "true"},
			wantLimit: int64(7), wantWhere: "ratio > 0.5 AND region = 'us' AND n = 7", wantFlag: true},
		{name: "exact-case env name", env: map[string]string{"OSIRIS_PARAM_ratio": "1.25"},
			wantLimit: int64(2), wantWhere: "ratio > 1.25 AND region = 'eu' AND n = 2", wantFlag: false},
		{name: "--param beats env", env: map[string]string{"OSIRIS_PARAM_N": "7"}, params: map[string]string{"n": "9", "region": "us"},
			wantLimit: int64(9), wantWhere: "ratio > 0.5 AND region = 'us' AND n = 9", wantFlag: false},
		{name: "--param not an integer", params: map[string]string{"n": "abc"},
			wantDiag: `error[param-type]: --param n: "abc" is not an integer`},
		{name: "env not a boolean", env: map[string]string{"OSIRIS_PARAM_FLAG": "maybe"},
			wantDiag: `error[param-type]: OSIRIS_PARAM_FLAG: "maybe" is not a boolean (true or false)`},
		{name: "--param outside enum", params: map[string]string{"region": "asia"},
			wantDiag: `error[param-enum]: param "region" (--param) is "asia"; allowed: eu, us`},
		{name: "env out of range", env: map[string]string{"OSIRIS_PARAM_N": "101"},
			wantDiag: `error[param-range]: param "n" (OSIRIS_PARAM_N) is 101; the maximum is 100`},
		{name: "unknown --param", params: map[string]string{"regoin": "eu"},
			wantDiag: `pipelines/p.yaml: error[unknown-param]: --param regoin: the pipeline declares no param "regoin" (did you mean "region"?)`},
		{name: "bad profile name", profile: "../prod",
			wantDiag: `error[bad-profile]: profile "../prod" is not a valid name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := workspaceWith(t, map[string][]byte{"pipelines/p.yaml": []byte(paramsPipeline)})
			env := newFakeEnv(root)
			for k, v := range tc.env {
				env.env[k] = v
			}
			m, diags := compile.Compile(env, "pipelines/p.yaml", compile.Options{Profile: tc.profile, Params: tc.params})
			got := render(diags)
			if tc.wantDiag != "" {
				if m != nil || !strings.Contains(got, tc.wantDiag) {
					t.Fatalf("want a diagnostic containing %q, got manifest=%v\n%s", tc.wantDiag, m != nil, got)
				}
				return
			}
			if m == nil || got != "" {
				t.Fatalf("unexpected diagnostics:\n%s", got)
			}
			cfg := m.Step("extract").Config
			if cfg["limit"] != tc.wantLimit {
				t.Errorf("limit = %#v, want %#v", cfg["limit"], tc.wantLimit)
			}
			if cfg["where"] != tc.wantWhere {
				t.Errorf("where = %q, want %q", cfg["where"], tc.wantWhere)
			}
			if f := m.Step("write").Config["create_if_missing"]; f != tc.wantFlag {
				t.Errorf("create_if_missing = %#v, want %#v", f, tc.wantFlag)
			}
		})
	}
}

// TestMiscDiagnostics covers cases that need options or an environment
// the golden files cannot express.
func TestMiscDiagnostics(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		setup    func(*fakeEnv)
		wantDiag string
	}{
		{
			name: "no default connection",
			src: `oml_version: "0.1.0"
name: x
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {query: SELECT 1}
`,
			setup: func(e *fakeEnv) { e.noDefault["mysql"] = true },
			wantDiag: `pipelines/p.yaml:7:5: error[missing-config-key]: step "extract": mysql.extractor needs a connection and osiris.toml has no default mysql connection` +
				` (write connection: "@mysql.<alias>", or set default = true in one [connections.mysql.<alias>])`,
		},
		{
			name: "no connection of the family at all",
			src: `oml_version: "0.1.0"
name: x
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {connection: "@mysql.db", query: SELECT 1}
`,
			setup:    func(e *fakeEnv) { delete(e.conns, "mysql") },
			wantDiag: `error[unknown-connection]: step "extract": connection @mysql.db is not defined in osiris.toml (osiris.toml defines no mysql connection; add [connections.mysql.db])`,
		},
		{
			name: "profile names an undeclared param",
			src: `oml_version: "0.1.0"
name: x
params: {limit: {type: integer, default: 1}}
profiles: {prod: {params: {limt: 5}}}
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {table: t, limit: "${params.limit}"}
`,
			wantDiag: `pipelines/p.yaml:4:28: error[unknown-param]: profile "prod" sets param "limt", which the pipeline does not declare (did you mean "limit"?)`,
		},
		{
			name: "secret-named param",
			src: `oml_version: "0.1.0"
name: x
params: {db_password: {default: hunter2}}
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {query: "SELECT '${params.db_password}'"}
`,
			wantDiag: `pipelines/p.yaml:3:10: error[inline-secret]: param "db_password" is named like a secret`,
		},
		{
			name: "password from a param is still inline",
			src: `oml_version: "0.1.0"
name: x
params: {pw: {default: abc}}
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {query: SELECT 1, token: "${params.pw}"}
`,
			wantDiag: `error[inline-secret]: step "extract": inline secret at steps[0].config.token`,
		},
		{
			name: "metadata secret",
			src: `oml_version: "0.1.0"
name: x
metadata: {owner: data-team, api_key: abc123}
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {query: SELECT 1}
`,
			wantDiag: `pipelines/p.yaml:3:30: error[inline-secret]: inline secret at metadata.api_key`,
		},
		{
			name: "infinity in config",
			src: `oml_version: "0.1.0"
name: x
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {table: t, limit: .inf}
`,
			wantDiag: `error[bad-value]: step "extract": steps[0].config.limit is .inf, which a manifest cannot hold`,
		},
		{
			name: "undefined alias",
			src: `oml_version: "0.1.0"
name: *nope
steps: []
`,
			wantDiag: `pipelines/p.yaml:2:7: error[yaml-syntax]: alias *nope refers to no anchor defined before it`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := workspaceWith(t, map[string][]byte{"pipelines/p.yaml": []byte(tc.src)})
			env := newFakeEnv(root)
			if tc.setup != nil {
				tc.setup(env)
			}
			m, diags := compile.Compile(env, "pipelines/p.yaml", compile.Options{})
			if got := render(diags); m != nil || !strings.Contains(got, tc.wantDiag) {
				t.Errorf("want a diagnostic containing\n  %s\ngot (manifest=%v)\n%s", tc.wantDiag, m != nil, got)
			}
		})
	}
}

// TestAnchorsAndMerge: ordinary YAML reuse works (anchors, aliases, <<).
func TestAnchorsAndMerge(t *testing.T) {
	src := `oml_version: "0.1.0"
name: anchors
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: &base
      connection: "@mysql.sakila"
      table: film
  - id: extract-2
    component: mysql.extractor
    mode: read
    needs: []
    config:
      <<: *base
      table: actor
`
	root := workspaceWith(t, map[string][]byte{"pipelines/p.yaml": []byte(src)})
	m := mustCompile(t, newFakeEnv(root), "pipelines/p.yaml", compile.Options{})
	c := m.Step("extract-2").Config
	if c["table"] != "actor" || c["connection"] != "@mysql.sakila" {
		t.Errorf("merge: %v", c)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"pipelines/movies.yaml":     "movies",
		"pipelines/sub/x.y.yml":     "sub.x.y", // sub-folders keep same-named pipelines apart
		"pipelines/a/b/daily.yaml":  "a.b.daily",
		"other/movies.yaml":         "movies", // outside the pipelines folder: the base name
		"movies":                    "movies",
		`pipelines\win\movies.yaml`: "win.movies",
	} {
		if got := compile.Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTabsInsideBlockScalars: tabs inside SQL text are content, not
// indentation.
func TestTabsInsideBlockScalars(t *testing.T) {
	src := "oml_version: \"0.1.0\"\nname: tabs-in-sql\nsteps:\n  - id: extract\n    component: mysql.extractor\n    mode: read\n    config:\n      query: |\n        SELECT a,\n        \tb\n        FROM t\t-- tab\n"
	root := workspaceWith(t, map[string][]byte{"pipelines/p.yaml": []byte(src)})
	m := mustCompile(t, newFakeEnv(root), "pipelines/p.yaml", compile.Options{})
	if q := m.Step("extract").Config["query"]; q != "SELECT a,\n\tb\nFROM t\t-- tab\n" {
		t.Errorf("query = %q", q)
	}
}

// TestInputsKeyOrder: the order of inputs: keys does not change the
// manifest (needs follow declaration order, inputs are sorted by name).
func TestInputsKeyOrder(t *testing.T) {
	head := `oml_version: "0.1.0"
name: x
steps:
  - {id: a, component: mysql.extractor, mode: read, config: {query: SELECT 1}}
  - {id: b, component: mysql.extractor, mode: read, needs: [], config: {query: SELECT 2}}
  - id: j
    component: duckdb.processor
    mode: transform
`
	one := head + "    inputs: {left: \"${a.df}\", right: \"${b.df}\"}\n    config: {query: SELECT 1}\n"
	two := head + "    inputs: {right: \"${b.df}\", left: \"${a.df}\"}\n    config: {query: SELECT 1}\n"
	root := workspaceWith(t, map[string][]byte{"pipelines/one/x.yaml": []byte(one), "pipelines/two/x.yaml": []byte(two)})
	env := newFakeEnv(root)
	m1 := mustCompile(t, env, "pipelines/one/x.yaml", compile.Options{})
	m2 := mustCompile(t, env, "pipelines/two/x.yaml", compile.Options{})
	if m1.Fingerprints.OMLFp != m2.Fingerprints.OMLFp {
		t.Error("oml_fp differs")
	}
	m1.Pipeline.File, m2.Pipeline.File = "", ""
	m1.Pipeline.Slug, m2.Pipeline.Slug = "", "" // one/x and two/x: different folders by design
	h1, _ := m1.ComputeHash()
	h2, _ := m2.ComputeHash()
	if h1 != h2 {
		t.Errorf("manifests differ: needs %v vs %v", m1.Step("j").Needs, m2.Step("j").Needs)
	}
}

// TestMissingFile: a missing pipeline is a diagnostic naming the
// workspace-relative path only.
func TestMissingFile(t *testing.T) {
	root := t.TempDir()
	m, diags := compile.Compile(newFakeEnv(root), "pipelines/nope.yaml", compile.Options{})
	got := render(diags)
	want := "pipelines/nope.yaml: error[read-file]: cannot read the pipeline: no such file or directory (check the path; pipelines are relative to the workspace root)\n"
	if m != nil || got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// An absolute path inside the workspace is shown relative to it.
	_, diags = compile.Compile(newFakeEnv(root), root+"/pipelines/nope.yaml", compile.Options{})
	if render(diags) != want {
		t.Errorf("absolute path: %s", render(diags))
	}
}
