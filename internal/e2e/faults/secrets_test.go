package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

// canary is one secret of the test: a value that must never appear
// anywhere osiris writes or prints.
type canary struct {
	name  string // what it is, for messages
	value string // "CNRY<tag>^<core>": the ^ makes URL-encoded forms differ from the raw one
	core  string // random hex, unique: any form or fragment of the value that leaks contains it
}

func newCanary(t *testing.T, name, tag string) canary {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	core := hex.EncodeToString(b)
	return canary{name: name, value: "CNRY" + tag + "^" + core, core: core}
}

// forms are the strings a leak of c could show: raw, URL-encoded the ways
// a DSN or a query string encodes it, and its random core alone.
func (c canary) forms() []string {
	enc := url.UserPassword("u", c.value).String()
	enc = strings.TrimPrefix(enc, "u:")
	set := map[string]bool{
		c.value:                  true,
		url.QueryEscape(c.value): true,
		url.PathEscape(c.value):  true,
		enc:                      true,
		strings.ToLower(enc):     true,
		c.core:                   true,
		strings.ToUpper(c.core):  true,
	}
	var out []string
	for s, secret := range set {
		if secret {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// pgURL is a postgres:// URL for user with password, the password
// URL-encoded as a user would have to write it.
func pgURL(user, password, host, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: host, Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// Every password and DSN of the environment (and of .env) is a unique
// canary; compile, validate, passing and failing runs (whose driver errors
// are about connections that hold the canaries), --json outputs, the dry
// run, `connections list` and `connections doctor` must leave no trace of
// any canary, raw or URL-encoded, in any file under the workspace or in
// anything printed.
func TestSecretsCanary(t *testing.T) {
	t.Parallel()
	cMy := newCanary(t, "MariaDB password (environment)", "My")
	cPG := newCanary(t, "PostgreSQL password in SUPABASE_DB_URL (environment)", "Pg")
	cHost := newCanary(t, "password in a DSN with a host that does not resolve (environment)", "Host")
	cWrong := newCanary(t, "wrong MariaDB password (.env, neutral variable name)", "Wrong")
	cDSN := newCanary(t, "password in a MySQL DSN to a closed port (.env)", "Dsn")
	cBroken := newCanary(t, "password in an unparsable postgres URL (.env)", "Broken")
	cToken := newCanary(t, "token used by mistake as a PostgreSQL user name (.env)", "Tok")
	canaries := []canary{cMy, cPG, cHost, cWrong, cDSN, cBroken, cToken}

	// MariaDB: a user whose password is the canary, allowed on its database.
	testenv.MySQLDSN(t, dbCanary)
	root := testenv.MySQLDB(t, dbCanary)
	e2e.MySQLExec(t, root,
		fmt.Sprintf("CREATE USER IF NOT EXISTS 'osiris_canary'@'%%' IDENTIFIED BY '%s'", cMy.value),
		fmt.Sprintf("ALTER USER 'osiris_canary'@'%%' IDENTIFIED BY '%s'", cMy.value),
		"GRANT ALL ON `"+dbCanary+"`.* TO 'osiris_canary'@'%'",
		"DROP TABLE IF EXISTS canary_src",
		"CREATE TABLE canary_src (id INT PRIMARY KEY, name VARCHAR(20))",
		"INSERT INTO canary_src SELECT seq, CONCAT('name ', seq) FROM seq_1_to_500")

	// PostgreSQL: a role with the canary password (trust auth does not check
	// it, but it is still a secret) owning the database it writes to.
	testenv.PGConnString(t, dbCanary)
	pgAdmin := testenv.PGConn(t, "postgres")
	e2e.PGExec(t, pgAdmin,
		`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'osiris_canary') THEN CREATE ROLE osiris_canary LOGIN; END IF; END $$`,
		fmt.Sprintf(`ALTER ROLE osiris_canary LOGIN PASSWORD '%s'`, cPG.value),
		`ALTER DATABASE `+dbCanary+` OWNER TO osiris_canary`)
	pgDB := testenv.PGConn(t, dbCanary)
	e2e.PGExec(t, pgDB, `DROP TABLE IF EXISTS canary_out`, `ALTER SCHEMA public OWNER TO osiris_canary`)

	pgHost := net.JoinHostPort(testenv.PGHost(), testenv.PGPort())
	w := e2e.NewWorkspace(t, map[string]string{
		"osiris.toml": `[project]
name = "e2e-canary"
profile = "dev"

[connections.mysql.canary]
host = "${FLT_CANARY_MYSQL_HOST}"
port = "${FLT_CANARY_MYSQL_PORT}"
database = "` + dbCanary + `"
user = "osiris_canary"
password = "${MYSQL_PASSWORD}"

[connections.mysql.wrongpw]
host = "${FLT_CANARY_MYSQL_HOST}"
port = "${FLT_CANARY_MYSQL_PORT}"
database = "` + dbCanary + `"
user = "osiris_canary"
password = "${FLT_CANARY_WRONG}"

[connections.mysql.closedport]
dsn = "${FLT_CANARY_MYSQL_DSN}"

# A user's mistake that makes drivers echo a secret: the password variable
# in the user field ("Access denied for user '<password>'", "role
# \"<token>\" does not exist"). Only masking by value can hide these.
[connections.mysql.swapped]
host = "${FLT_CANARY_MYSQL_HOST}"
port = "${FLT_CANARY_MYSQL_PORT}"
database = "` + dbCanary + `"
user = "${MYSQL_PASSWORD}"

[connections.postgres.swapped]
host = "${FLT_CANARY_PG_HOST}"
port = "${FLT_CANARY_PG_PORT}"
database = "` + dbCanary + `"
user = "${FLT_PG_TOKEN}"
sslmode = "disable"

[connections.supabase.main]
dsn = "${SUPABASE_DB_URL}"

[connections.supabase.badhost]
dsn = "${FLT_CANARY_BADHOST_URL}"

[connections.postgres.broken]
url = "${FLT_CANARY_BROKEN_URL}"
`,
		// .env: values the environment does not set (quoted and export forms).
		".env": "# canaries that live only in .env\n" +
			"FLT_CANARY_WRONG=" + cWrong.value + "\n" +
			"export FLT_CANARY_MYSQL_DSN='osiris_canary:" + cDSN.value + "@tcp(127.0.0.1:1)/" + dbCanary + "'\n" +
			"FLT_PG_TOKEN=" + cToken.value + "\n" +
			`FLT_CANARY_BROKEN_URL="postgres://osiris_canary:` + url.PathEscape(cBroken.value) + `@127.0.0.1:notaport/` + dbCanary + `"` + "\n",
		"pipelines/pass.yaml": `oml_version: "0.1.0"
name: canary-pass
steps:
  - id: extract-src
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.canary"
      query: "SELECT id, name FROM canary_src"
  - id: shape
    component: duckdb.processor
    mode: transform
    needs: [extract-src]
    config:
      query: "SELECT id, upper(name) AS name FROM input_df"
  - id: write-out
    component: supabase.writer
    mode: write
    needs: [shape]
    config:
      connection: "@supabase.main"
      table: canary_out
      write_mode: replace
      primary_key: [id]
      create_if_missing: true
`,
		"pipelines/fail_badhost.yaml": failWriterPipeline("canary-fail-badhost", "supabase.writer", "@supabase.badhost"),
		// A DSN that does not parse is refused at validate (exit 2, nothing
		// runs); it lives outside pipelines/ so that validating the whole
		// workspace passes.
		"broken/fail_broken.yaml":        failWriterPipeline("canary-fail-broken", "postgres.writer", "@postgres.broken"),
		"pipelines/fail_wrongpw.yaml":    failExtractPipeline("canary-fail-wrongpw", "@mysql.wrongpw"),
		"pipelines/fail_swapped_my.yaml": failExtractPipeline("canary-fail-swapped-my", "@mysql.swapped"),
		"pipelines/fail_swapped_pg.yaml": failWriterPipeline("canary-fail-swapped-pg", "postgres.writer", "@postgres.swapped"),
		"pipelines/fail_closedport.yaml": failExtractPipeline("canary-fail-closedport", "@mysql.closedport"),
	})
	w.Env = append(w.Env,
		"FLT_CANARY_MYSQL_HOST="+testenv.MySQLHost(), "FLT_CANARY_MYSQL_PORT="+testenv.MySQLPort(),
		"FLT_CANARY_PG_HOST="+testenv.PGHost(), "FLT_CANARY_PG_PORT="+testenv.PGPort(),
		"MYSQL_PASSWORD="+cMy.value,
		"SUPABASE_DB_URL="+pgURL("osiris_canary", cPG.value, pgHost, dbCanary),
		"FLT_CANARY_BADHOST_URL="+pgURL("osiris_canary", cHost.value, "no-such-host.invalid:5432", dbCanary),
	)

	var outputs []string // every stdout and stderr, labelled
	osiris := func(wantExit int, args ...string) e2e.Result {
		t.Helper()
		r := w.Osiris(args...)
		label := "osiris " + strings.Join(args, " ")
		outputs = append(outputs, label+" (stdout)\x00"+r.Stdout, label+" (stderr)\x00"+r.Stderr)
		if r.ExitCode != wantExit {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", label, r.ExitCode, wantExit, r.Stdout, r.Stderr)
		}
		return r
	}

	osiris(0, "validate")
	osiris(0, "--json", "validate")
	osiris(0, "compile")
	osiris(0, "--json", "compile")
	osiris(0, "run", "--dry-run", "pipelines/pass.yaml")
	osiris(0, "--json", "run", "--dry-run", "pipelines/pass.yaml")
	osiris(0, "-v", "run", "pipelines/pass.yaml")
	osiris(0, "--json", "-v", "run", "pipelines/pass.yaml")
	osiris(0, "run", "--last-compile")
	var rows int64
	if err := pgDB.QueryRow(context.Background(), "SELECT count(*) FROM canary_out WHERE name LIKE 'NAME %'").Scan(&rows); err != nil || rows != 500 {
		t.Errorf("the passing run did not load canary_out: %d rows, %v", rows, err)
	}

	failing := map[string]string{ // pipeline → what its error must say (the driver really failed)
		"pipelines/fail_swapped_my.yaml": "Access denied for user '***'",
		"pipelines/fail_swapped_pg.yaml": `role "***" does not exist`,
		"pipelines/fail_badhost.yaml":    "no-such-host.invalid",
		"pipelines/fail_wrongpw.yaml":    "Access denied",
		"pipelines/fail_closedport.yaml": "connection refused",
	}
	for _, p := range sortedKeys(failing) {
		r := osiris(1, "-v", "run", p)
		t.Logf("%s:\n%s", p, r.Stderr)
		if !strings.Contains(r.Stderr, failing[p]) {
			t.Errorf("run %s: stderr does not say %q, so the driver error this test is about was not produced:\n%s", p, failing[p], r.Stderr)
		}
		osiris(1, "--json", "run", p)
	}
	// The unparsable DSN is refused before anything runs, without showing it.
	if r := osiris(2, "-v", "run", "broken/fail_broken.yaml"); !strings.Contains(r.Stderr, "connection @postgres.broken: the PostgreSQL settings") {
		t.Errorf("run broken/fail_broken.yaml: %s", r.Stderr)
	}
	osiris(2, "--json", "validate", "broken/fail_broken.yaml")

	osiris(0, "connections", "list")
	osiris(0, "--json", "connections", "list")
	osiris(1, "connections", "doctor")
	doctor := osiris(1, "--json", "connections", "doctor")
	var checked []struct {
		Ref string `json:"ref"`
		OK  bool   `json:"ok"`
	}
	if err := json.Unmarshal([]byte(doctor.Stdout), &checked); err != nil {
		t.Errorf("connections doctor --json: %v\n%s", err, doctor.Stdout)
	}
	reachable := map[string]bool{}
	for _, c := range checked {
		reachable[c.Ref] = c.OK
	}
	// The two real connections work (so the canaries are the real
	// credentials); the four broken ones fail (so their errors were made).
	want := map[string]bool{"@mysql.canary": true, "@supabase.main": true, "@mysql.wrongpw": false,
		"@mysql.closedport": false, "@supabase.badhost": false, "@postgres.broken": false,
		"@mysql.swapped": false, "@postgres.swapped": false}
	for ref, ok := range want {
		if got, seen := reachable[ref]; !seen || got != ok {
			t.Errorf("connections doctor: %s ok=%v (listed: %v), want ok=%v", ref, got, seen, ok)
		}
	}

	// The search must be able to find a canary: .env holds four of them.
	if hits := grepFile(t, filepath.Join(w.Root, ".env"), []canary{cWrong, cDSN, cBroken, cToken}); len(hits) != 4 {
		t.Fatalf("self-check: the canary search finds %d of the 4 canaries in .env: %v", len(hits), hits)
	}

	// Every file of the workspace but the .env the test wrote.
	var files int
	err := filepath.WalkDir(w.Root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || p == filepath.Join(w.Root, ".env") {
			return nil
		}
		files++
		for _, h := range grepFile(t, p, canaries) {
			rel, _ := filepath.Rel(w.Root, p)
			t.Errorf("%s: %s", rel, h)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outputs {
		label, text, _ := strings.Cut(o, "\x00")
		for _, c := range canaries {
			for _, f := range c.forms() {
				if strings.Contains(text, f) {
					t.Errorf("%s shows the %s (as %q)", label, c.name, f)
				}
			}
		}
	}
	runs := w.Index()
	t.Logf("searched %d files (%d runs in the index) and %d outputs for %d canaries", files, len(runs), len(outputs), len(canaries))
	if len(runs) != 3+2*len(failing) {
		t.Errorf("index lists %d runs, want %d", len(runs), 3+2*len(failing))
	}
}

// failExtractPipeline extracts through conn (which fails) into a CSV.
func failExtractPipeline(name, conn string) string {
	return fmt.Sprintf(`oml_version: "0.1.0"
name: %s
steps:
  - id: extract-src
    component: mysql.extractor
    mode: read
    config:
      connection: %q
      query: "SELECT 1 AS one"
  - id: write-csv
    component: filesystem.csv_writer
    mode: write
    needs: [extract-src]
    config:
      path: out/%s.csv
`, name, conn, name)
}

// failWriterPipeline extracts through the working MariaDB canary
// connection and writes through conn (which fails).
func failWriterPipeline(name, component, conn string) string {
	return fmt.Sprintf(`oml_version: "0.1.0"
name: %s
steps:
  - id: extract-src
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.canary"
      query: "SELECT id, name FROM canary_src"
  - id: write-out
    component: %s
    mode: write
    needs: [extract-src]
    config:
      connection: %q
      table: canary_fail_out
      write_mode: replace
      create_if_missing: true
`, name, component, conn)
}

// grepFile returns, for each canary form found in the file at path, what
// was found.
func grepFile(t *testing.T, path string, canaries []canary) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("reading %s: %v", path, err)
		return nil
	}
	var hits []string
	for _, c := range canaries {
		for _, f := range c.forms() {
			if strings.Contains(string(b), f) {
				hits = append(hits, fmt.Sprintf("the %s (as %q)", c.name, f))
				break
			}
		}
	}
	return hits
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
