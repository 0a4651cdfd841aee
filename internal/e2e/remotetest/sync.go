package remotetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// bigCSV is about size bytes of CSV whose content depends on seed.
func bigCSV(size int, seed string) string {
	var b strings.Builder
	b.WriteString("id,tag,v\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%d,%s-%d,%d\n", i, seed, i%1000, i*7%10007)
	}
	return b.String()
}

// Incremental: a second run of an unchanged workspace uploads nothing;
// changing one 10 MB input uploads that file only; the binary travels at
// most once per version and sandbox.
func Incremental(t *testing.T, sb Sandbox) {
	// Contents unique to this test: a store shared with earlier runs (a
	// docker volume, an ssh dir) must not already hold them.
	r := make([]byte, 8)
	rand.Read(r)
	seed := hex.EncodeToString(r)
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{MaxParallel: 1, Extra: "\n" + sb.TOML + "\n"}, map[string]string{
		"data/big.csv":   bigCSV(10<<20, "a"+seed),
		"data/small.csv": "id,name\n1,x" + seed + "\n2,y\n",
		"pipelines/two.yaml": `oml_version: "0.1.0"
name: remote-sync
steps:
  - id: big
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/big.csv}
  - id: small
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/small.csv}
  - id: joined
    component: duckdb.processor
    mode: transform
    inputs: {b: "${big.df}", s: "${small.df}"}
    config: {query: "SELECT s.name, count(*) AS n FROM b JOIN s ON b.id = s.id GROUP BY ALL"}
`})
	sync := func(runDir string) osexec.Event { return runEvent(t, runDir, osexec.EventSyncComplete) }
	first := sync(w.MustRun("pipelines/two.yaml", "--remote", sb.Name))
	if intField(first, "binary_bytes_uploaded") < 0 {
		t.Errorf("sync_complete has no binary_bytes_uploaded: %v", first.Fields)
	}

	second := sync(w.MustRun("pipelines/two.yaml", "--remote", sb.Name))
	if intField(second, "bytes_uploaded") != 0 || intField(second, "blobs_missing") != 0 || intField(second, "binary_bytes_uploaded") != 0 {
		t.Errorf("second unchanged run moved data: %v", second.Fields)
	}
	if intField(second, "bytes_skipped") < 10<<20 {
		t.Errorf("second run skipped %d bytes; the 10 MB input should be among them", intField(second, "bytes_skipped"))
	}

	w.Write("data/big.csv", bigCSV(10<<20, "b"+seed))
	st, _ := os.Stat(filepath.Join(w.Root, "data", "big.csv"))
	third := sync(w.MustRun("pipelines/two.yaml", "--remote", sb.Name))
	if intField(third, "bytes_uploaded") != st.Size() || intField(third, "blobs_missing") != 1 || intField(third, "binary_bytes_uploaded") != 0 {
		t.Errorf("after changing data/big.csv (%d bytes): %v; want exactly that file uploaded", st.Size(), third.Fields)
	}
}

// SecretsCanary: the password of a connection the run uses and a
// pass_env variable are unique canaries; after a passing and a failing
// remote run no file of the workspace (its run_logs/, .osiris/, the local
// sandbox directory), of the sandbox (sb.Files) and no captured output
// holds either. The passing run proves the secrets reached the worker.
func SecretsCanary(t *testing.T, sb Sandbox) {
	b := make([]byte, 12)
	rand.Read(b)
	pw := "pwcanary" + hex.EncodeToString(b)
	rand.Read(b)
	token := "tokcanary" + hex.EncodeToString(b)
	db := dbName(sb)
	testenv.PGConnString(t, db) // creates the database; skips without PostgreSQL
	// Trust auth: the server never asks for the password, so the canary
	// travels in the DSN without breaking the connection.
	dsn := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", testenv.PGUser(), pw, net.JoinHostPort(testenv.PGHost(), testenv.PGPort()), db)
	pipeline := func(query string) string {
		return `oml_version: "0.1.0"
name: remote-canary
steps:
  - id: read
    component: postgres.extractor
    mode: read
    config:
      connection: "@postgres.canary"
      query: "` + query + `"
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [read]
    config: {path: output/canary.csv}
`
	}
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{MaxParallel: 1,
		Extra: "\n[connections.postgres.canary]\ndsn = \"${RT_CANARY_PG_URL}\"\n\n" + sb.TOML + "\npass_env = [\"RT_CANARY_API_TOKEN\"]\n"},
		map[string]string{
			"pipelines/ok.yaml":  pipeline("SELECT 1 AS x, current_user AS who"),
			"pipelines/bad.yaml": pipeline("SELECT x FROM no_such_table_canary"),
		})
	w.Env = append(w.Env, "RT_CANARY_PG_URL="+dsn, "RT_CANARY_API_TOKEN="+token)
	canaries := []string{pw, token}

	var out bytes.Buffer
	ok := w.Osiris("run", "pipelines/ok.yaml", "--remote", sb.Name, "-v")
	out.WriteString(ok.Stdout + ok.Stderr)
	if ok.ExitCode != 0 {
		t.Fatalf("the passing run failed (exit %d):\n%s", ok.ExitCode, ok.Stderr)
	}
	bad := w.Osiris("--json", "run", "pipelines/bad.yaml", "--remote", sb.Name)
	out.WriteString(bad.Stdout + bad.Stderr)
	if bad.ExitCode != 1 {
		t.Errorf("the failing run: exit %d, want 1\n%s", bad.ExitCode, bad.Stderr)
	}
	for _, args := range [][]string{{"logs", "list"}, {"--json", "logs", "show"}} {
		r := w.Osiris(args...)
		out.WriteString(r.Stdout + r.Stderr)
	}
	for _, c := range canaries {
		if strings.Contains(out.String(), c) {
			t.Errorf("a canary is in the captured output")
		}
	}
	if hits := w.GrepTree(canaries, "."); len(hits) > 0 {
		t.Errorf("canaries in workspace files: %v", hits)
	}
	if sb.Files != nil {
		for p, content := range sb.Files(t) {
			for _, c := range canaries {
				if bytes.Contains(content, []byte(c)) {
					t.Errorf("a canary is in the sandbox's %s", p)
				}
			}
		}
	}
}
