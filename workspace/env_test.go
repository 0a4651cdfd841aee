package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/pkg/diag"
)

func TestParseDotEnv(t *testing.T) {
	tests := []struct {
		name string
		text string
		want map[string]string
	}{
		{"plain", "A=1\nB=two words\n", map[string]string{"A": "1", "B": "two words"}},
		{"export and spaces", "export  A=1\n  B = x \n", map[string]string{"A": "1", "B": "x"}},
		{"comments", "# c\n\nA=1 # trailing\nB=x#not-a-comment\n", map[string]string{"A": "1", "B": "x#not-a-comment"}},
		{"single quotes are literal", `A='a $B \n # b' # c`, map[string]string{"A": `a $B \n # b`}},
		{"double quotes with escapes", `A="x\ty\"z\\ \n" # c`, map[string]string{"A": "x\ty\"z\\ \n"}},
		{"multi-line double quote", "K=\"-----BEGIN\nabc\n-----END\"\nB=2", map[string]string{"K": "-----BEGIN\nabc\n-----END", "B": "2"}},
		{"empty value", "A=\nB=''\nC=\"\"", map[string]string{"A": "", "B": "", "C": ""}},
		{"value with equals", "DSN=host=db password=p=q", map[string]string{"DSN": "host=db password=p=q"}},
		{"later wins", "A=1\nA=2", map[string]string{"A": "2"}},
		{"crlf and bom", "\ufeffA=1\r\nB=2\r\n", map[string]string{"A": "1", "B": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars, diags := parseDotEnv(tt.text)
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics: %v", diags)
			}
			got := map[string]string{}
			for _, v := range vars {
				got[v.name] = v.value
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseDotEnvErrors(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		wantLine []int
	}{
		{"no equals", "A=1\nJUSTTEXT\n", []int{2}},
		{"bad name", "1A=x\nA-B=y", []int{1, 2}},
		{"unterminated single", "A='x\nB=1", []int{1}},
		{"unterminated double", "A=1\nB=\"x\ny", []int{2}},
		{"text after quote", "A='x' y", []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := parseDotEnv(tt.text)
			var lines []int
			for _, d := range diags {
				if d.Code != "env-syntax" || d.File != DotEnvFile {
					t.Errorf("diag %v: want code env-syntax in %s", d, DotEnvFile)
				}
				lines = append(lines, d.Line)
			}
			if !reflect.DeepEqual(lines, tt.wantLine) {
				t.Errorf("lines %v, want %v (%v)", lines, tt.wantLine, diags)
			}
		})
	}
}

func TestLoadEnvProcessWins(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, ".env", "A=from-dotenv\nB=from-dotenv\n")
	env, err := LoadEnv(dir, []string{"A=from-env", "C=only-env", "malformed"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"A": "from-env", "B": "from-dotenv", "C": "only-env"} {
		if got, ok := env.Lookup(name); !ok || got != want {
			t.Errorf("%s = %q,%v; want %q", name, got, ok, want)
		}
	}
	if _, ok := env.Lookup("D"); ok {
		t.Error("D should be unset")
	}
	if got := env.Source("B"); got != ".env:2" {
		t.Errorf("Source(B) = %q", got)
	}
	if got := env.Source("A"); got != "environment" {
		t.Errorf("Source(A) = %q", got)
	}
	if got := env.Names(); !reflect.DeepEqual(got, []string{"A", "B", "C"}) {
		t.Errorf("Names = %v", got)
	}
}

func TestLoadEnvNoFileAndBadFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadEnv(dir, nil); err != nil {
		t.Fatalf("missing .env must be fine: %v", err)
	}
	writeFile(t, dir, ".env", "A=1\noops\n")
	_, err := LoadEnv(dir, nil)
	var list diag.List
	if !errors.As(err, &list) || len(list) != 1 || list[0].Line != 2 {
		t.Fatalf("want one diag on line 2, got %v", err)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"HOST": "db", "EMPTY": "", "PW": "s3cr$t"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct {
		in, want string
		missing  []string
	}{
		{"plain", "plain", nil},
		{"${HOST}:3306", "db:3306", nil},
		{"${NOPE:-127.0.0.1}", "127.0.0.1", nil},
		{"${EMPTY:-fallback}", "fallback", nil},
		{"[${EMPTY}]", "[]", nil},
		{"${HOST:-x}", "db", nil},
		{"$${HOST}", "${HOST}", nil},
		{"cost $$5", "cost $5", nil},
		{"${PW}", "s3cr$t", nil}, // values are not expanded again
		{"$HOST stays", "$HOST stays", nil},
		{"${A}${B}${A}", "", []string{"A", "B"}},
		{"unterminated ${HOST", "unterminated ${HOST", nil},
		{"not a name ${1X} ${a b}", "not a name ${1X} ${a b}", nil},
		{"trailing $", "trailing $", nil},
		{"${NOPE:-}", "", nil},
		{"${NOPE:-a:-b}", "a:-b", nil},
	}
	for _, tt := range tests {
		got, missing := Expand(tt.in, lookup)
		if got != tt.want || !reflect.DeepEqual(missing, tt.missing) {
			t.Errorf("Expand(%q) = %q, %v; want %q, %v", tt.in, got, missing, tt.want, tt.missing)
		}
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.TrimPrefix(text, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
