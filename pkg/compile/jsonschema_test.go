package compile_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/rogpeppe/go-internal/txtar"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/osiris-go/osiris/pkg/compile"
)

// anyConnEnv is a workspace where every connection a pipeline names
// exists: pipelines are judged on their own text, not on a test's
// osiris.toml.
type anyConnEnv struct{ root string }

func (e anyConnEnv) Root() string                            { return e.root }
func (e anyConnEnv) DefaultProfile() string                  { return "" }
func (e anyConnEnv) HasConnection(string, string) bool       { return true }
func (e anyConnEnv) DefaultConnection(string) (string, bool) { return "default", true }
func (e anyConnEnv) ConnectionRefs() []string                { return nil }
func (e anyConnEnv) LookupEnv(string) (string, bool)         { return "", false }

// pipelineSchema compiles `osiris schema` with a JSON Schema validator: it
// must be a valid 2020-12 schema.
func pipelineSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := compile.JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("osiris schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	meta, err := c.Compile("https://json-schema.org/draft/2020-12/schema")
	if err != nil {
		t.Fatal(err)
	}
	if err := meta.Validate(doc); err != nil {
		t.Fatalf("osiris schema does not validate against the 2020-12 meta-schema: %v", err)
	}
	if err := c.AddResource(compile.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(compile.SchemaID)
	if err != nil {
		t.Fatalf("compiling osiris schema: %v", err)
	}
	return sch
}

// asJSON reads YAML as the JSON value an editor's YAML language server
// checks against the schema.
func asJSON(src []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// examplePipelines returns every pipeline file of the repository's
// examples and tests (workspace-relative name → the files of its
// workspace): the init templates, the compiler's testdata, the
// Osiris-Python compatibility pipelines and the pipelines of the CLI's
// script tests.
func examplePipelines(t *testing.T) map[string]map[string][]byte {
	t.Helper()
	out := map[string]map[string][]byte{}
	single := func(glob string) {
		files, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[f] = map[string][]byte{"pipelines/" + filepath.Base(f): src}
		}
	}
	single("../../templates/init/pipelines/*.yaml")
	single("testdata/*/*.yaml")
	single("../../internal/e2e/compat/testdata/*.yaml")
	scripts, err := filepath.Glob("../../cmd/osiris/testdata/script/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		ar, err := txtar.ParseFile(s)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, f := range ar.Files {
			files[f.Name] = f.Data
		}
		for _, f := range ar.Files {
			if ext := filepath.Ext(f.Name); (ext == ".yaml" || ext == ".yml") && bytes.Contains(f.Data, []byte("steps")) {
				out[s+"#"+f.Name] = files
			}
		}
	}
	return out
}

// Every example and test pipeline that osiris validate accepts is valid
// against `osiris schema`; those it refuses are reported for the record.
func TestJSONSchemaAcceptsValidPipelines(t *testing.T) {
	sch := pipelineSchema(t)
	all := examplePipelines(t)
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	valid, refused, alsoRefused := 0, 0, 0
	for _, name := range names {
		files := all[name]
		rel := name
		if i := strings.Index(name, "#"); i >= 0 {
			rel = name[i+1:]
		} else {
			for k := range files {
				rel = k
			}
		}
		root := workspaceWith(t, files)
		ds := compile.Validate(anyConnEnv{root}, rel, compile.Options{})
		if ds.HasErrors() {
			refused++
			// What the validator refuses as YAML (alias bombs, deep
			// nesting) a YAML decoder must not be handed.
			if ds.Errors()[0].Code == "alias-limit" || ds.Errors()[0].Code == "yaml-syntax" {
				alsoRefused++
			} else if doc, err := asJSON(files[rel]); err != nil || sch.Validate(doc) != nil {
				alsoRefused++
			}
			if !strings.Contains(name, "testdata/bad/") {
				t.Logf("refused by osiris validate: %s: %v", name, ds.Errors()[0])
			}
			continue
		}
		valid++
		doc, err := asJSON(files[rel])
		if err != nil {
			t.Errorf("%s validates but is not YAML: %v", name, err)
			continue
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s validates but not against osiris schema:\n%v", name, err)
		}
	}
	if valid < 20 {
		t.Errorf("only %d valid pipelines were checked (%d refused by osiris validate)", valid, refused)
	}
	t.Logf("%d valid example and test pipelines are valid against the schema; %d refused by osiris validate, %d of them by the schema (or as YAML) too", valid, refused, alsoRefused)
}

// Pipelines osiris validate refuses for a reason a schema can state are
// refused by the schema too.
func TestJSONSchemaRefusesWhatValidateRefuses(t *testing.T) {
	sch := pipelineSchema(t)
	const base = `oml_version: "0.1.0"
name: refused
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/in.csv
  - id: write
    component: duckdb.writer
    mode: write
    needs: [extract]
    config:
      table: out
      write_mode: replace
`
	cases := []struct {
		name, old, new, code string
	}{
		{"misspelt config key", "path: data/in.csv", "path: data/in.csv\n      delimter: \";\"", "unknown-config-key"},
		{"unknown component", "filesystem.csv_extractor", "filesystem.csv_reader", "unknown-component"},
		{"mode the component lacks", "mode: read", "mode: transform", "bad-mode"},
		{"missing required key", "      path: data/in.csv\n", "      delimiter: \";\"\n", "missing-config-key"},
		{"value not in the enum", "write_mode: replace", "write_mode: mrege", "config-enum"},
		{"wrong type", "path: data/in.csv", "path: data/in.csv\n      skip_rows: many", "config-type"},
		{"below the minimum", "path: data/in.csv", "path: data/in.csv\n      limit: 0", "config-range"},
		{"upsert without primary_key", "write_mode: replace", "write_mode: upsert", "primary-key-required"},
		{"delete+insert without delete_key", "write_mode: replace", "write_mode: delete+insert", "config-value"},
		{"unsupported oml_version", `oml_version: "0.1.0"`, `oml_version: "0.3.0"`, "oml-version"},
		{"legacy key", "steps:", "tasks: []\nsteps:", "legacy-key"},
		{"no steps", base[strings.Index(base, "steps:"):], "steps: []\n", "bad-value"},
		{"bad step id", "id: extract\n", "id: ../extract\n", "bad-step-id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(base, c.old, c.new, 1)
			if src == base {
				t.Fatalf("%q not found in the base pipeline", c.old)
			}
			root := workspaceWith(t, map[string][]byte{"pipelines/p.yaml": []byte(src), "data/in.csv": []byte("a\n1\n")})
			ds := compile.Validate(anyConnEnv{root}, "pipelines/p.yaml", compile.Options{})
			found := false
			for _, d := range ds.Errors() {
				found = found || d.Code == c.code
			}
			if !found {
				t.Fatalf("osiris validate does not refuse it with %s: %v", c.code, ds)
			}
			doc, err := asJSON([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(doc); err == nil {
				t.Errorf("osiris validate refuses it (%s) but the schema accepts it:\n%s", c.code, src)
			}
		})
	}
	// The base itself is valid for both.
	root := workspaceWith(t, map[string][]byte{"pipelines/p.yaml": []byte(base), "data/in.csv": []byte("a\n1\n")})
	if ds := compile.Validate(anyConnEnv{root}, "pipelines/p.yaml", compile.Options{}); ds.HasErrors() {
		t.Fatalf("the base pipeline: %v", ds)
	}
	doc, _ := asJSON([]byte(base))
	if err := sch.Validate(doc); err != nil {
		t.Errorf("the base pipeline against the schema: %v", err)
	}
}
