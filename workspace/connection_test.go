package workspace

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/osiris-go/osiris/pkg/diag"
)

const pythonYAML = `version: 1
connections:
  mysql:
    db_movies: {host: db.local, port: 3306, database: movies, user: etl, password: "${MYSQL_PASSWORD}", default: true}
    archive:
      host: archive.local
      user: etl
  supabase:
    main: {url: "https://x.supabase.co", key: "${SUPABASE_KEY}", pg_dsn: "${SUPABASE_PG_DSN}"}
    rest_only:
      url: https://y.supabase.co
      key: "${SUPABASE_KEY}"
`

func TestConnectionsYAMLFallback(t *testing.T) {
	ws, err := newWorkspace(t, map[string]string{
		"osiris.toml":             "[project]\nname = \"py\"\n",
		"osiris_connections.yaml": pythonYAML,
	}, "MYSQL_PASSWORD=hunter22", "SUPABASE_KEY=eyJhbGciOi.key", "SUPABASE_PG_DSN=postgresql://postgres.ref:pgpw9999@aws-0.pooler.supabase.com:5432/postgres")
	if err != nil {
		t.Fatal(err)
	}
	if ws.ConnectionsFile != ConnectionsYAMLFile {
		t.Errorf("ConnectionsFile = %q", ws.ConnectionsFile)
	}
	want := []string{"@mysql.archive", "@mysql.db_movies", "@supabase.main", "@supabase.rest_only"}
	if got := ws.ConnectionRefs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("refs %v", got)
	}
	c, _ := ws.Connection("mysql", "db_movies")
	if !c.Default || c.File != ConnectionsYAMLFile || c.Line != 4 || c.Fields["port"] != int64(3306) {
		t.Errorf("db_movies = %+v", c)
	}
	a, _ := ws.Connection("mysql", "archive")
	if a.Line != 5 || a.Default {
		t.Errorf("archive = %+v", a)
	}
	if d, ok := ws.DefaultConnection("mysql"); !ok || d.Alias != "db_movies" {
		t.Errorf("default = %v", d)
	}
	conn, err := ws.ResolveConnection("@supabase.main", "supabase")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := conn.PostgresConnString()
	if err != nil || !strings.HasPrefix(cs, "postgresql://postgres.ref:") {
		t.Errorf("PostgresConnString = %q, %v", cs, err)
	}
	rest, err := ws.ResolveConnection("@supabase.rest_only", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = rest.PostgresConnString()
	if err == nil || !strings.Contains(err.Error(), "Project Settings → Database → Connection string") ||
		!strings.Contains(err.Error(), "pg_dsn") || strings.Contains(err.Error(), "eyJhbGciOi") {
		t.Errorf("rest-only supabase error = %v", err)
	}
}

func TestConnectionsYAMLIgnoredWhenTOMLHasConnections(t *testing.T) {
	ws, err := newWorkspace(t, map[string]string{
		"osiris.toml":             "[project]\nname = \"py\"\n[connections.duckdb.local]\npath = \"w.duckdb\"\n",
		"osiris_connections.yaml": pythonYAML,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ws.ConnectionRefs(); !reflect.DeepEqual(got, []string{"@duckdb.local"}) {
		t.Errorf("refs %v", got)
	}
	if len(ws.Warnings) != 1 || ws.Warnings[0].Code != "connections-file" {
		t.Errorf("warnings %v", ws.Warnings)
	}
}

func TestConnectionsYAMLBad(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantDiag
	}{
		{"not YAML", "connections:\n  mysql:\n    a: {host: x\n", []wantDiag{{"connections-file", 0, 0, "not valid YAML"}}},
		{"top level list", "- a\n- b\n", []wantDiag{{"connections-file", 1, 1, "top level must be a mapping"}}},
		{"two defaults", "connections:\n  mysql:\n    a: {default: true}\n    b:\n      default: true\n",
			[]wantDiag{{"duplicate-default", 5, 7, "@mysql.a (line 3) and @mysql.b"}}},
		{"default not bool", "connections:\n  mysql:\n    a:\n      default: yes please\n",
			[]wantDiag{{"config-type", 4, 7, "default must be a boolean"}}},
		{"alias not a mapping", "connections:\n  mysql:\n    a: root:hunter22@tcp(h)/db\n",
			[]wantDiag{{"connections-file", 3, 5, "connections.mysql.a must be a mapping"}}},
		{"alias bomb", aliasBomb(),
			[]wantDiag{{"connections-file", 1, 1, "aliases"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"x\"\n", "osiris_connections.yaml": tt.yaml})
			if tt.want[0].line == 0 {
				var list diag.List
				if !errors.As(err, &list) || len(list) != 1 || list[0].Code != tt.want[0].code || list[0].Line < 1 ||
					list[0].File != ConnectionsYAMLFile || !strings.Contains(list[0].Message, tt.want[0].text) {
					t.Fatalf("got %v", err)
				}
				return
			}
			checkDiags(t, err, ConnectionsYAMLFile, tt.want)
			if err != nil && strings.Contains(err.Error(), "hunter22") {
				t.Errorf("value leaked: %v", err)
			}
		})
	}
}

// aliasBomb is a "billion laughs" document: tiny text, huge expansion.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 20; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func resolveWS(t *testing.T, environ ...string) *Workspace {
	t.Helper()
	ws, err := newWorkspace(t, map[string]string{"osiris.toml": goodTOML}, environ...)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestResolveConnection(t *testing.T) {
	ws := resolveWS(t, "MYSQL_PASSWORD=hunter22", "MYSQL_USER=")
	ws.Masker = NewMasker() // prove resolving teaches the masker by itself, not only the preload
	conn, err := ws.ResolveConnection("", "mysql")
	if err != nil {
		t.Fatal(err)
	}
	if conn.Ref() != "@mysql.db_movies" || conn.Get("host") != "127.0.0.1" || conn.Get("user") != "root" ||
		conn.Get("password") != "hunter22" || conn.Values["port"] != int64(3306) || conn.Get("port") != "3306" {
		t.Errorf("resolved %+v", conn.Values)
	}
	if got := ws.Masker.Mask("Access denied (password: hunter22)"); got != "Access denied (password: ***)" {
		t.Errorf("masker not taught: %q", got)
	}
	// The raw config keeps the unexpanded text.
	cc, _ := ws.Connection("mysql", "db_movies")
	if cc.Fields["password"] != "${MYSQL_PASSWORD}" {
		t.Error("ResolveConnection must not change the config")
	}
}

func TestResolveConnectionMissingVar(t *testing.T) {
	ws := resolveWS(t)
	_, err := ws.ResolveConnection("@mysql.db_movies", "mysql")
	var mv *MissingVarError
	if !errors.As(err, &mv) {
		t.Fatalf("want *MissingVarError, got %T %v", err, err)
	}
	if !reflect.DeepEqual(mv.Names, []string{"MYSQL_PASSWORD"}) || mv.Ref != "@mysql.db_movies" || mv.Field != "password" {
		t.Errorf("%+v", mv)
	}
	msg := err.Error()
	for _, want := range []string{"MYSQL_PASSWORD", "@mysql.db_movies", "osiris.toml:8", ".env", "environment"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	var ue *diag.UsageError
	if !errors.As(err, &ue) {
		t.Error("a missing variable must be a usage error (exit 2)")
	}
	// Other connections without variables still resolve.
	if _, err := ws.ResolveConnection("@mysql.other", ""); err != nil {
		t.Error(err)
	}
}

func TestResolveConnectionDotEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "osiris.toml", goodTOML)
	writeFile(t, dir, ".env", "MYSQL_PASSWORD='from dotenv'\nSUPABASE_DB_URL=postgres://u:envpw123@h/db\n")
	ws, err := LoadWithEnv(dir, []string{"SUPABASE_DB_URL=postgres://u:procpw12@h/db"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ws.ResolveConnection("@mysql.db_movies", "")
	if err != nil || c.Get("password") != "from dotenv" {
		t.Fatalf("%v %v", c, err)
	}
	s, err := ws.ResolveConnection("@supabase.main", "")
	if err != nil || s.Get("dsn") != "postgres://u:procpw12@h/db" {
		t.Fatalf("process env must win: %v %v", s, err)
	}
}

func TestResolveConnectionErrors(t *testing.T) {
	ws := resolveWS(t)
	tests := []struct {
		ref, family, want string
	}{
		{"@mysql.nope", "mysql", "known: @duckdb.local, @mysql.db_movies"},
		{"mysql.db_movies", "", "@family.alias"},
		{"@mysql", "", "@family.alias"},
		{"", "postgres", "no connection of this family"},
		{"", "", "no connection given"},
	}
	for _, tt := range tests {
		_, err := ws.ResolveConnection(tt.ref, tt.family)
		var ce *ConnectionError
		var ue *diag.UsageError
		if !errors.As(err, &ce) || !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ResolveConnection(%q,%q) = %v; want a ConnectionError containing %q", tt.ref, tt.family, err, tt.want)
		}
	}
	// Two connections and no default.
	ws.Config.Connections["mysql"]["db_movies"].Default = false
	if _, err := ws.ResolveConnection("", "mysql"); err == nil || !strings.Contains(err.Error(), "none is the default") {
		t.Errorf("got %v", err)
	}
}

func TestLoadPreloadsMasker(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "osiris.toml", goodTOML+"\n[connections.postgres.lit]\npassword = \"literal-pw\"\nhost = \"plain-host\"\nurl = \"postgres://a:inurlpw@h/d\"\n")
	writeFile(t, dir, ".env", "GITHUB_TOKEN=ghp_dotenvtoken\n")
	ws, err := LoadWithEnv(dir, []string{
		"MYSQL_PASSWORD=hunter22",
		"SUPABASE_SERVICE_ROLE_KEY=srk-abcdef",
		"DATABASE_URL=postgres://app:dbpw5555@h/x", // secret by value
		"HOME=/root", "PWD=/work/main", "OLDPWD=/work", "USER=root",
	})
	if err != nil {
		t.Fatal(err)
	}
	in := "hunter22 srk-abcdef dbpw5555 ghp_dotenvtoken literal-pw inurlpw plain-host /work/main /root"
	want := "*** *** *** *** *** *** plain-host /work/main /root"
	if got := ws.Masker.Mask(in); got != want {
		t.Errorf("Mask = %q\nwant   %q", got, want)
	}
}

func TestConnectionMySQLDSN(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   string // "" when an error is expected
		errHas string
	}{
		{"fields", map[string]any{"host": "db", "port": int64(3307), "database": "movies", "user": "root", "password": "p@ss:w/rd"},
			"root:p@ss:w/rd@tcp(db:3307)/movies", ""},
		{"defaults", map[string]any{"user": "root"}, "root@tcp(127.0.0.1:3306)/", ""},
		{"params", map[string]any{"user": "u", "database": "d", "params": map[string]any{"parseTime": true, "charset": "utf8mb4"}},
			"u@tcp(127.0.0.1:3306)/d?charset=utf8mb4&parseTime=true", ""},
		{"socket", map[string]any{"user": "u", "socket": "/run/mysqld.sock"}, "u@unix(/run/mysqld.sock)/", ""},
		{"dsn as given", map[string]any{"dsn": "u:p@tcp(h:1)/d?parseTime=true", "host": "ignored"}, "u:p@tcp(h:1)/d?parseTime=true", ""},
		{"mysql url", map[string]any{"url": "mysql://u:p%40w@h/d?parseTime=true"}, "u:p@w@tcp(h:3306)/d?parseTime=true", ""},
		{"ipv6 host", map[string]any{"user": "u", "host": "::1"}, "u@tcp([::1]:3306)/", ""},
		{"no user", map[string]any{"host": "h", "password": "secretpw"}, "", "no user"},
		{"bad port", map[string]any{"user": "u", "port": "abc"}, "", "port"},
		{"bad dsn", map[string]any{"dsn": "not a dsn secretpw"}, "", "not a valid MySQL DSN"},
		{"other url", map[string]any{"url": "postgres://u:secretpw@h/d"}, "", "not mysql://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Connection{Family: "mysql", Alias: "a", Values: tt.values}
			got, err := c.MySQLDSN()
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || strings.Contains(err.Error(), "secretpw") ||
					!strings.Contains(err.Error(), "@mysql.a") {
					t.Fatalf("got %q, %v; want error with %q", got, err, tt.errHas)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("MySQLDSN = %q, %v; want %q", got, err, tt.want)
			}
			if _, err := mysql.ParseDSN(got); err != nil {
				t.Errorf("driver refuses %q: %v", got, err)
			}
		})
	}
}

func TestConnectionPostgresConnString(t *testing.T) {
	tests := []struct {
		name   string
		family string
		values map[string]any
		want   string
		errHas string
	}{
		{"dsn", "supabase", map[string]any{"dsn": "postgres://u:p@h:6543/postgres"}, "postgres://u:p@h:6543/postgres", ""},
		{"pg_dsn beats rest url", "supabase", map[string]any{"url": "https://x.supabase.co", "key": "k", "pg_dsn": "host=h user=u password=p"},
			"host=h user=u password=p", ""},
		{"postgres url", "postgres", map[string]any{"url": "postgresql://u@h/db"}, "postgresql://u@h/db", ""},
		{"fields", "postgres", map[string]any{"host": "db", "port": int64(5433), "database": "shop", "user": "app", "password": "p@ss w/rd", "sslmode": "require"},
			"postgres://app:p%40ss%20w%2Frd@db:5433/shop?sslmode=require", ""},
		{"fields minimal", "postgres", map[string]any{"host": "127.0.0.1", "user": "postgres"}, "postgres://postgres@127.0.0.1:5432", ""},
		{"params", "postgres", map[string]any{"host": "h", "dbname": "d", "params": map[string]any{"application_name": "osiris", "connect_timeout": int64(5)}},
			"postgres://h:5432/d?application_name=osiris&connect_timeout=5", ""},
		{"supabase rest only", "supabase", map[string]any{"url": "https://x.supabase.co", "key": "secretpw-key"}, "", "Project Settings → Database → Connection string"},
		{"nothing", "postgres", map[string]any{"user": "u"}, "", "no dsn and no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Connection{Family: tt.family, Alias: "a", Values: tt.values}
			got, err := c.PostgresConnString()
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || strings.Contains(err.Error(), "secretpw") {
					t.Fatalf("got %q, %v; want error with %q", got, err, tt.errHas)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("PostgresConnString = %q, %v; want %q", got, err, tt.want)
			}
			if strings.HasPrefix(got, "postgres") {
				if u, err := url.Parse(got); err != nil {
					t.Errorf("not a URL: %v", err)
				} else if pw, _ := u.User.Password(); tt.values["password"] != nil && pw != tt.values["password"] {
					t.Errorf("password round-trip %q", pw)
				}
			}
		})
	}
}

func TestConnectionPaths(t *testing.T) {
	c := &Connection{Family: "duckdb", Alias: "local", Values: map[string]any{"path": "warehouse.duckdb", "base_dir": "data"}}
	if c.Path() != "warehouse.duckdb" || c.BaseDir() != "data" {
		t.Error(c.Path(), c.BaseDir())
	}
}

func TestResolveRemote(t *testing.T) {
	ws := resolveWS(t, "BOX_HOST=box.example")
	r, err := ws.ResolveRemote("")
	if err != nil || r.Name != "box" || r.Host != "etl@box.example" {
		t.Fatalf("%+v %v", r, err)
	}
	if ws.Config.Remote["box"].Host != "etl@${BOX_HOST:-build-box}" {
		t.Error("config changed")
	}
	if r, err := ws.ResolveRemote("local"); err != nil || r.Kind != "local" {
		t.Errorf("local: %+v %v", r, err)
	}
	if _, err := ws.ResolveRemote("nope"); err == nil || !strings.Contains(err.Error(), "known: box") {
		t.Errorf("unknown: %v", err)
	}
	min, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"x\"\n"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := min.ResolveRemote(""); err != nil || r.Kind != "local" {
		t.Errorf("no remotes → local: %+v %v", r, err)
	}
}

func TestFindRoot(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "osiris.toml", "[project]\nname = \"x\"\n")
	writeFile(t, dir, "pipelines/sub/p.yaml", "x")
	if err := os.Mkdir(filepath.Join(dir, "osiris.toml.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	realDir, _ := filepath.EvalSymlinks(dir)
	for _, start := range []string{dir, filepath.Join(dir, "pipelines", "sub"), filepath.Join(dir, "pipelines", "sub", "p.yaml"), filepath.Join(dir, "does", "not", "exist")} {
		got, err := FindRoot(start)
		if err != nil {
			t.Errorf("FindRoot(%s): %v", start, err)
			continue
		}
		if g, _ := filepath.EvalSymlinks(got); g != realDir {
			t.Errorf("FindRoot(%s) = %s", start, got)
		}
	}
	// A directory named osiris.toml does not count.
	other := t.TempDir()
	if err := os.Mkdir(filepath.Join(other, "osiris.toml"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := FindRoot(other)
	var ue *diag.UsageError
	if !errors.Is(err, ErrNoWorkspace) || !errors.As(err, &ue) ||
		err.Error() != "no osiris.toml in "+other+" or any parent; run `osiris init` or pass -C DIR" {
		t.Errorf("FindRoot without workspace = %v", err)
	}
}

func TestFilesResolve(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	writeFile(t, root, "data/in.csv", "a\n")
	writeFile(t, outside, "secret.csv", "a\n")
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Skip("symlinks not supported:", err)
	}
	if err := os.Symlink(filepath.Join(root, "data"), filepath.Join(root, "inside")); err != nil {
		t.Fatal(err)
	}
	f, err := NewFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string // "" = refused
	}{
		{"data/in.csv", filepath.Join(root, "data", "in.csv")},
		{"out/new.parquet", filepath.Join(root, "out", "new.parquet")},
		{"./data/../data/in.csv", filepath.Join(root, "data", "in.csv")},
		{"inside/in.csv", filepath.Join(root, "inside", "in.csv")},
		{filepath.Join(outside, "secret.csv"), filepath.Join(outside, "secret.csv")}, // absolute: taken as written
		{"../x", ""},
		{"data/../../x", ""},
		{"..", ""},
		{"escape/secret.csv", ""},
		{"escape/new/file.csv", ""},
		{"escape", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := f.Resolve(tt.path)
		if tt.want == "" {
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Errorf("Resolve(%q) = %q, %v; want refused", tt.path, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
	if rel := f.Rel(filepath.Join(root, "data", "in.csv")); rel != "data/in.csv" {
		t.Errorf("Rel = %q", rel)
	}
}

// TestConnectionsYAMLKeys: osiris_connections.yaml comes over unchanged
// from Osiris-Python, so every field Osiris-Python's connections use is
// accepted; a field neither tool knows is an error with a suggestion.
func TestConnectionsYAMLKeys(t *testing.T) {
	python := `connections:
  mysql:
    db:
      type: mysql
      alias: db
      host: h
      database: movies
      user: u
      password: "${P:-x}"
      charset: utf8mb4
      connect_timeout: 30
      read_timeout: 30
      write_timeout: 30
      pool_size: 5
      max_overflow: 10
      pool_recycle: 3600
      echo: false
  supabase:
    main:
      url: https://x.supabase.co
      key: "${K:-k}"
      service_role_key: "${K:-k}"
      anon_key: "${K:-k}"
      project_id: x
      schema: public
      timeout: 30
      retries: 3
      pg_dsn: "${D:-postgresql://h/db}"
  duckdb:
    local: {path: w.duckdb, read_only: false}
    mem: {memory: true}
`
	ws, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"py\"\n", "osiris_connections.yaml": python})
	if err != nil {
		t.Fatalf("Osiris-Python's fields are refused: %v", err)
	}
	if got := len(ws.ConnectionRefs()); got != 4 {
		t.Errorf("refs %v", ws.ConnectionRefs())
	}
	_, err = newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"py\"\n",
		"osiris_connections.yaml": "connections:\n  mysql:\n    db:\n      host: h\n      databse: movies\n  oracle:\n    o: {host: h}\n"})
	checkDiags(t, err, ConnectionsYAMLFile, []wantDiag{
		{"unknown-config-key", 5, 7, `connections.mysql.db.databse: a mysql connection has no field "databse" (did you mean "database"?)`},
		{"unknown-connection-family", 6, 3, `unknown connection family "oracle"`},
	})
}
