package compile_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/workspace"
)

// TestSecretsNeverReachBuild loads a real workspace whose connections take
// their secrets from canary variables (environment and .env), compiles
// every compat pipeline, and searches every byte under build/ and .osiris/
// for the canaries.
func TestSecretsNeverReachBuild(t *testing.T) {
	canaries := map[string]string{
		"MYSQL_PASSWORD":  "canary-mysql-7f3a91",
		"SUPABASE_DB_URL": "postgresql://etl:canary-pg-52c1d0@db.example.com:5432/postgres",
		"DUCKDB_PATH":     "canary-duck-0be4.duckdb",
	}
	dotenvCanary := "canary-dotenv-9d2e77"
	files := map[string][]byte{
		"osiris.toml": []byte(`[project]
name = "canary"

[connections.mysql.db_movies]
default = true
host = "127.0.0.1"
user = "root"
password = "${MYSQL_PASSWORD}"

[connections.mysql.sakila]
dsn = "root:${SAKILA_PASSWORD}@tcp(127.0.0.1:3306)/sakila"

[connections.supabase.main]
dsn = "${SUPABASE_DB_URL}"

[connections.duckdb.local]
path = "${DUCKDB_PATH}"

[connections.filesystem.local]
base_dir = "."
`),
		".env": []byte("SAKILA_PASSWORD=" + dotenvCanary + "\n"),
	}
	for _, n := range []string{"seed.yaml", "multi_input_duckdb.yaml", "mysql_to_csv.yaml"} {
		files["pipelines/"+n] = readTestdata(t, "compat/"+n)
	}
	root := workspaceWith(t, files)
	environ := []string{"PATH=/usr/bin"}
	for k, v := range canaries {
		environ = append(environ, k+"="+v)
	}
	ws, err := workspace.LoadWithEnv(root, environ)
	if err != nil {
		t.Fatalf("load workspace: %v", err)
	}
	env := compile.FromWorkspace(ws)
	for _, n := range []string{"seed.yaml", "multi_input_duckdb.yaml", "mysql_to_csv.yaml"} {
		m := mustCompile(t, env, "pipelines/"+n, compile.Options{})
		if _, _, err := compile.WriteWorkspaceBuild(ws, m); err != nil {
			t.Fatal(err)
		}
	}
	// A pipeline with a literal password is refused and writes nothing.
	bad := filepath.Join(root, "pipelines", "bad.yaml")
	os.WriteFile(bad, []byte(strings.ReplaceAll(string(readTestdata(t, "bad/literal-password.yaml")), "hunter2", "canary-literal-1c9e")), 0o644)
	m, diags := compile.Compile(env, "pipelines/bad.yaml", compile.Options{})
	if m != nil || !strings.Contains(render(diags), "error[inline-secret]") {
		t.Fatalf("literal password compiled: %s", render(diags))
	}
	if strings.Contains(render(diags), "canary-literal-1c9e") {
		t.Error("the diagnostic echoes the literal secret")
	}

	needles := []string{dotenvCanary, "canary-literal-1c9e", "canary-pg-52c1d0"}
	for _, v := range canaries {
		needles = append(needles, v)
	}
	scanned := 0
	for _, dir := range []string{"build", ".osiris"} {
		filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := os.ReadFile(p)
			scanned++
			for _, n := range needles {
				if bytes.Contains(b, []byte(n)) {
					t.Errorf("%s contains the secret %q", p, n)
				}
			}
			return nil
		})
	}
	if scanned < 3*4 {
		t.Errorf("only %d files scanned; the build did not happen", scanned)
	}
	// The manifest keeps references.
	last, err := compile.LastCompile(root, "build", ".osiris")
	if err != nil {
		t.Fatal(err)
	}
	mf, _ := os.ReadFile(filepath.Join(last, "manifest.yaml"))
	if !bytes.Contains(mf, []byte(`"@mysql.db_movies"`)) {
		t.Errorf("manifest does not keep the connection reference:\n%s", mf)
	}
}
