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

const goodTOML = `
[project]
name = "shop"

[run]
max_parallel_steps = 4
memory_budget = "1GiB"

[connections.mysql.db_movies]    # "@mysql.db_movies"
default = true
host = "${MYSQL_HOST:-127.0.0.1}"
port = 3306
database = "movies"
user = "${MYSQL_USER:-root}"
password = "${MYSQL_PASSWORD}"

[connections.mysql.other]
host = "other"
user = "u"

[connections.supabase.main]
dsn = "${SUPABASE_DB_URL}"

[connections.duckdb.local]
path = "warehouse.duckdb"

[remote.box]
kind = "ssh"
host = "etl@${BOX_HOST:-build-box}"
pass_env = ["AWS_REGION"]
`

func newWorkspace(t *testing.T, files map[string]string, environ ...string) (*Workspace, error) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		writeFile(t, dir, name, text)
	}
	return LoadWithEnv(dir, environ)
}

func TestLoadGoodConfigFillsDefaults(t *testing.T) {
	ws, err := newWorkspace(t, map[string]string{"osiris.toml": goodTOML})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig("shop")
	want.Run.MaxParallelSteps = 4
	want.Run.MemoryBudget = "1GiB"
	got := ws.Config
	got.Connections, got.Remote, want.Connections, want.Remote = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config\n%+v\nwant\n%+v", got, want)
	}
	if ws.Config.Project.Profile != "dev" || ws.Config.Paths.Build != "build" || ws.Config.Run.BatchRows != 65536 ||
		ws.Config.Retention.RunLogsDays != 14 || ws.Config.Watch.Debounce != "300ms" {
		t.Errorf("defaults not filled: %+v", ws.Config)
	}
	if b, _ := ws.Config.Run.MemoryBudgetBytes(); b != 1<<30 {
		t.Errorf("MemoryBudgetBytes = %d", b)
	}
	if !filepath.IsAbs(ws.Root) || ws.ConfigFile != filepath.Join(ws.Root, "osiris.toml") {
		t.Errorf("Root %q ConfigFile %q", ws.Root, ws.ConfigFile)
	}
	if ws.Path("build") != filepath.Join(ws.Root, "build") || ws.Path("/abs/x") != "/abs/x" {
		t.Errorf("Path: %q", ws.Path("build"))
	}
	if ws.ConnectionsFile != "osiris.toml" {
		t.Errorf("ConnectionsFile = %q", ws.ConnectionsFile)
	}
	refs := ws.ConnectionRefs()
	if want := []string{"@duckdb.local", "@mysql.db_movies", "@mysql.other", "@supabase.main"}; !reflect.DeepEqual(refs, want) {
		t.Errorf("refs %v", refs)
	}
	c, ok := ws.Connection("mysql", "db_movies")
	if !ok || !c.Default || c.Line != 8 || c.File != "osiris.toml" || c.Fields["port"] != int64(3306) ||
		c.Fields["password"] != "${MYSQL_PASSWORD}" {
		t.Errorf("db_movies = %+v", c)
	}
	if _, ok := c.Fields["default"]; ok {
		t.Error("default must not be among Fields")
	}
	if d, ok := ws.DefaultConnection("mysql"); !ok || d.Alias != "db_movies" {
		t.Errorf("default mysql = %v", d)
	}
	if d, ok := ws.DefaultConnection("duckdb"); !ok || d.Alias != "local" {
		t.Errorf("only duckdb = %v", d)
	}
	if _, ok := ws.DefaultConnection("postgres"); ok {
		t.Error("no postgres connection expected")
	}
	r := ws.Config.Remote["box"]
	if r == nil || r.Kind != "ssh" || !reflect.DeepEqual(r.PassEnv, []string{"AWS_REGION"}) || r.Line != 26 {
		t.Errorf("remote = %+v", r)
	}
}

func TestLoadMinimal(t *testing.T) {
	ws, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"x\"\n"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ws.Config, DefaultConfig("x")) {
		t.Errorf("got %+v", ws.Config)
	}
	if !ws.Config.Run.Streaming {
		t.Error("[run] streaming is true by default")
	}
	if ws.ConnectionsFile != "" || len(ws.ConnectionRefs()) != 0 {
		t.Error("no connections expected")
	}
}

// wantDiag is one expected diagnostic: code and line (col 0 = any).
type wantDiag struct {
	code string
	line int
	col  int
	text string // substring of the rendered diagnostic
}

func TestLoadBadConfig(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []wantDiag
	}{
		{"not TOML", "[project]\nname = \"x\"\nthis is not toml\n",
			[]wantDiag{{"config-syntax", 3, 0, "osiris.toml:3:"}}},
		{"unquoted password is not echoed", "[project]\nname = \"x\"\n[connections.mysql.a]\n  password = hunter22\n",
			[]wantDiag{{"config-syntax", 4, 14, `not valid TOML: expected value but found … instead (quote text values`}}},
		{"duplicate key", "[project]\nname = \"x\"\nname = \"y\"\n",
			[]wantDiag{{"config-syntax", 3, 0, "not valid TOML"}}},
		{"unknown key with suggestion", "[project]\nname = \"x\"\n\n[run]\nbatch_rows = 10\n\nmemory_budgt = \"1GiB\"\n",
			[]wantDiag{{"unknown-config-key", 7, 1, `osiris.toml:7:1: error[unknown-config-key]: unknown key "run.memory_budgt" (did you mean "memory_budget"?)`}}},
		{"unknown section", "[project]\nname = \"x\"\n[runn]\nx = 1\n",
			[]wantDiag{{"unknown-config-key", 3, 1, `unknown key "runn" (did you mean "run"?)`}}},
		{"unknown key without suggestion", "[project]\nname = \"x\"\n[watch]\n  zzz = 1\n",
			[]wantDiag{{"unknown-config-key", 4, 3, "known keys in [watch]: debounce, poll, retry"}}},
		{"unknown key in dotted form", "project.name = \"x\"\nrun.batch_rowz = 5\n",
			[]wantDiag{{"unknown-config-key", 2, 1, `did you mean "batch_rows"?`}}},
		{"wrong type", "[project]\nname = \"x\"\n[run]\nmax_parallel_steps = \"two\"\n",
			[]wantDiag{{"config-type", 4, 1, `run.max_parallel_steps must be an integer, got string "two"`}}},
		{"wrong type bool for string", "[project]\nname = true\n",
			[]wantDiag{{"config-type", 2, 1, "project.name must be a string"}}},
		{"section not a table", "run = 5\n[project]\nname = \"x\"\n",
			[]wantDiag{{"config-type", 1, 1, "run must be a table"}}},
		{"missing project name", "[project]\nprofile = \"prod\"\n",
			[]wantDiag{{"missing-project-name", 1, 1, "[project].name is required"}}},
		{"missing project table", "[run]\nbatch_rows = 5\n",
			[]wantDiag{{"missing-project-name", 1, 1, "[project].name is required"}}},
		{"empty project name", "[project]\nname = \"  \"\n",
			[]wantDiag{{"missing-project-name", 2, 1, "empty"}}},
		{"bad size", "[project]\nname = \"x\"\n[run]\nmemory_budget = \"lots\"\n",
			[]wantDiag{{"bad-size", 4, 1, "memory_budget"}}},
		{"bad duration", "[project]\nname = \"x\"\n[watch]\ndebounce = \"3 seconds\"\npoll = \"-1s\"\nretry = \"0s\"\n",
			[]wantDiag{{"bad-duration", 4, 1, ""}, {"bad-duration", 5, 1, ""}, {"bad-duration", 6, 1, "watch.retry"}}},
		{"out of range", "[project]\nname = \"x\"\n[run]\nbatch_rows = 0\n",
			[]wantDiag{{"config-value", 4, 1, "out of range"}}},
		{"streaming not boolean", "[project]\nname = \"x\"\n[run]\nstreaming = \"off\"\n",
			[]wantDiag{{"config-type", 4, 1, "run.streaming must be a boolean"}}},
		{"bad compression", "[project]\nname = \"x\"\n[run]\nparquet_compression = \"lzo\"\n",
			[]wantDiag{{"config-value", 4, 1, "zstd, snappy, gzip, none"}}},
		{"two defaults", "[project]\nname = \"x\"\n[connections.mysql.a]\ndefault = true\n[connections.mysql.b]\nhost = \"h\"\ndefault = true\n",
			[]wantDiag{{"duplicate-default", 7, 1, `@mysql.a (line 3) and @mysql.b`}}},
		{"default not boolean", "[project]\nname = \"x\"\n[connections.mysql.a]\ndefault = \"yes\"\n",
			[]wantDiag{{"config-type", 4, 1, "connections.mysql.a.default must be a boolean"}}},
		{"connection not a table", "[project]\nname = \"x\"\n[connections.mysql]\na = \"secret-dsn\"\n",
			[]wantDiag{{"config-type", 4, 1, "must be a table of fields, got a string"}}},
		{"bad remote", "[project]\nname = \"x\"\n[remote.box]\nkind = \"podman\"\n[remote.b2]\nkind = \"ssh\"\nport = \"22\"\n",
			[]wantDiag{{"config-value", 4, 1, `unknown sandbox kind "podman"`}, {"config-value", 5, 1, "without host"}, {"config-type", 7, 1, "remote.b2.port must be an integer"}}},
		{"docker without image", "[project]\nname = \"x\"\n[remote.box]\nkind = \"docker\"\nnetwork = \"host\"\n",
			[]wantDiag{{"config-value", 3, 1, "docker sandbox without image"}}},
		{"key of another kind", "[project]\nname = \"x\"\n[remote.box]\nkind = \"ssh\"\nhost = \"h\"\nimage = \"i\"\n[remote.d]\nkind = \"docker\"\nimage = \"i\"\nidentity = \"k\"\n",
			[]wantDiag{{"config-value", 6, 1, `remote.box.image is a key of docker sandboxes, and [remote.box] is kind "ssh"`},
				{"config-value", 10, 1, `remote.d.identity is a key of ssh sandboxes`}}},
		{"remote typo and port range", "[project]\nname = \"x\"\n[remote.box]\nkind = \"ssh\"\nhost = \"h\"\nport = 70000\nidentiy = \"k\"\n",
			[]wantDiag{{"config-value", 6, 1, "remote.box.port is 70000, out of range"}, {"unknown-config-key", 7, 1, `did you mean "identity"?`}}},
		{"local network", "[project]\nname = \"x\"\n[remote.l]\nkind = \"local\"\nnetwork = \"bridge\"\n",
			[]wantDiag{{"config-value", 5, 1, `unknown network "bridge" for a local sandbox`}}},
		// Connections are strict too: a typo is not dropped silently, and a
		// family osiris has no driver for is refused where it is written.
		{"connection key typo", "[project]\nname = \"x\"\n[connections.mysql.a]\nhost = \"h\"\ndatabse = \"movies\"\n",
			[]wantDiag{{"unknown-config-key", 5, 1, `connections.mysql.a.databse: a mysql connection has no field "databse" (did you mean "database"?)`}}},
		{"connection key of another tool", "[project]\nname = \"x\"\n[connections.mysql.a]\nhost = \"h\"\ncharset = \"utf8mb4\"\n",
			[]wantDiag{{"unknown-config-key", 5, 1, `(a field of Osiris-Python's osiris_connections.yaml, not of osiris.toml) (remove it)`}}},
		{"connection key unknown", "[project]\nname = \"x\"\n[connections.duckdb.w]\nfile = \"w.duckdb\"\n",
			[]wantDiag{{"unknown-config-key", 4, 1, `a duckdb connection has no field "file" (its fields: default, path)`}}},
		{"unknown family", "[project]\nname = \"x\"\n[connections.oracle.x]\nhost = \"h\"\n[connections.mysq.y]\nhost = \"h\"\n",
			[]wantDiag{{"unknown-connection-family", 3, 1, `unknown connection family "oracle" (osiris connects to duckdb, filesystem, mysql, postgres, supabase)`},
				{"unknown-connection-family", 5, 1, `unknown connection family "mysq" (did you mean "mysql"?)`}}},
		{"all problems at once", "[project]\nprofile = 1\n[run]\nbatch_rows = \"x\"\nmemory_budgt = 1\n[watch]\ndebounce = \"x\"\n",
			[]wantDiag{{"missing-project-name", 1, 1, ""}, {"config-type", 2, 1, ""}, {"config-type", 4, 1, ""}, {"unknown-config-key", 5, 1, ""}, {"bad-duration", 7, 1, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newWorkspace(t, map[string]string{"osiris.toml": tt.toml})
			checkDiags(t, err, "osiris.toml", tt.want)
		})
	}
}

func checkDiags(t *testing.T, err error, file string, want []wantDiag) {
	t.Helper()
	var list diag.List
	if !errors.As(err, &list) {
		t.Fatalf("want diag.List, got %T %v", err, err)
	}
	if len(list) != len(want) {
		t.Fatalf("got %d diagnostics, want %d:\n%v", len(list), len(want), list)
	}
	for i, w := range want {
		d := list[i]
		if d.File != file || d.Code != w.code || d.Line != w.line || (w.col != 0 && d.Col != w.col) ||
			!strings.Contains(d.String(), w.text) || d.Severity != diag.Error {
			t.Errorf("diag %d = %q (code %s line %d col %d), want code %s line %d col %d containing %q",
				i, d.String(), d.Code, d.Line, d.Col, w.code, w.line, w.col, w.text)
		}
	}
}

func TestLoadBadConfigNeverShowsConnectionValues(t *testing.T) {
	_, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"x\"\n[connections.mysql]\na = \"root:hunter22@tcp(h)/db\"\n"})
	if err == nil || strings.Contains(err.Error(), "hunter22") {
		t.Fatalf("error must exist and not show the value: %v", err)
	}
}

func TestLoadNoConfig(t *testing.T) {
	_, err := LoadWithEnv(t.TempDir(), nil)
	var ue *diag.UsageError
	if !errors.Is(err, ErrNoWorkspace) || !errors.As(err, &ue) {
		t.Fatalf("got %v", err)
	}
}

func TestLoadBadDotEnv(t *testing.T) {
	_, err := newWorkspace(t, map[string]string{
		"osiris.toml": "[project]\nname = \"x\"\n[run]\nbatch_rows = \"x\"\n",
		".env":        "A=1\nnot a line\n",
	})
	var list diag.List
	if !errors.As(err, &list) || len(list) != 2 || list[0].File != ".env" || list[0].Line != 2 || list[1].File != "osiris.toml" {
		t.Fatalf("want the .env and the osiris.toml problem together, got %v", err)
	}
}

func TestMemoryBudgetBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"", 512 << 20, false},
		{"512MiB", 536870912, false},
		{"0", 0, false},
		{"unlimited", -1, false},
		{"Unlimited", -1, false},
		{"-1", 0, true}, // "unlimited" is how to say it; a sign typo is not
		{"-512MiB", 0, true},
		{"-2", 0, true},
		{"many", 0, true},
	}
	for _, tt := range tests {
		got, err := RunConfig{MemoryBudget: tt.in}.MemoryBudgetBytes()
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("MemoryBudgetBytes(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"1024", 1024, false},
		{"10B", 10, false},
		{"1KB", 1000, false},
		{"1KiB", 1024, false},
		{"1kib", 1024, false},
		{"512MiB", 512 << 20, false},
		{"512 MiB", 512 << 20, false},
		{"2MB", 2000000, false},
		{"1GiB", 1 << 30, false},
		{"1GB", 1000000000, false},
		{"1.5GiB", 3 << 29, false},
		{"512M", 512 << 20, false},
		{"1TiB", 1 << 40, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"-5MB", 0, true},
		{"1e3", 0, true},
		{"NaN", 0, true},
		{"twelve", 0, true},
		{"99999999999GiB", 0, true},
		{"1.5.3MB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestWatchDurations(t *testing.T) {
	w := DefaultConfig("x").Watch
	if w.DebounceDuration().Milliseconds() != 300 || w.PollInterval() != 0 {
		t.Errorf("defaults: %v %v", w.DebounceDuration(), w.PollInterval())
	}
	w.Poll = "2s"
	if w.PollInterval().Seconds() != 2 {
		t.Errorf("poll %v", w.PollInterval())
	}
}

func TestTOMLKeyPositions(t *testing.T) {
	text := `# comment
[project]
name = "x"  # trailing
"quoted.key" = 1
ml = """
fake = 1
"""
arr = [
  "a = b",
  { inner = 1 },
]
a.b.c = { d = 1, e = { f = 2 } }

[ connections . "my sql" . alias ]
host = 'h'
`
	pos := tomlKeyPositions(text)
	tests := []struct {
		path []string
		want keyPos
	}{
		{[]string{"project"}, keyPos{2, 1}},
		{[]string{"project", "name"}, keyPos{3, 1}},
		{[]string{"project", "quoted.key"}, keyPos{4, 1}},
		{[]string{"project", "ml"}, keyPos{5, 1}},
		{[]string{"project", "arr"}, keyPos{8, 1}},
		{[]string{"project", "a", "b", "c"}, keyPos{12, 1}},
		{[]string{"project", "a", "b", "c", "d"}, keyPos{12, 11}},
		{[]string{"project", "a", "b", "c", "e", "f"}, keyPos{12, 24}},
		{[]string{"connections", "my sql", "alias"}, keyPos{14, 1}},
		{[]string{"connections", "my sql", "alias", "host"}, keyPos{15, 1}},
	}
	for _, tt := range tests {
		if got, ok := pos[pathKey(tt.path...)]; !ok || got != tt.want {
			t.Errorf("%v at %v (found %v), want %v", tt.path, got, ok, tt.want)
		}
	}
	if _, ok := pos[pathKey("project", "fake")]; ok {
		t.Error("text inside a multi-line string must not be a key")
	}
}

// TestPathsLayout: [paths] folders never overlap each other or the
// workspace's own files, and osiris's folders are never inside a data
// folder (SQL could read run records there).
func TestPathsLayout(t *testing.T) {
	for _, tt := range []struct{ toml, want string }{
		{`run_logs = "pipelines"`, `osiris.toml:4:1: error[config-path]: paths.run_logs "pipelines" is the same folder as paths.pipelines ("pipelines")`},
		{`build = ".env"`, `osiris.toml:4:1: error[config-path]: paths.build ".env" is the secrets file .env`},
		{`state = "osiris.toml"`, `paths.state "osiris.toml" is the workspace's osiris.toml`},
		{`run_logs = "data/logs"`, `osiris.toml:4:1: error[config-path]: paths.run_logs "data/logs" is inside data/, a data folder that steps and their SQL may read and write`},
		{"run_logs = \"logs\"\nbuild = \"logs/../logs/./\"", `osiris.toml:5:1: error[config-path]: paths.build "logs/../logs/./" is the same folder as paths.run_logs ("logs")`},
		{"pipelines = \"flows\"\nbuild = \"flows/build\"", `osiris.toml:5:1: error[config-path]: paths.build "flows/build" is inside flows/`},
		{`pipelines = "build/pipelines"`, `paths.pipelines "build/pipelines" is inside paths.build ("build")`},
		{`state = ".git/osiris"`, `paths.state ".git/osiris" is inside the git repository's .git folder`},
	} {
		_, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"p\"\n[paths]\n" + tt.toml + "\n"})
		var dl diag.List
		if !errors.As(err, &dl) || !strings.Contains(dl.Error(), tt.want) {
			t.Errorf("%s: %v\nwant %q", tt.toml, err, tt.want)
		}
	}
	// Folders of their own, a hidden state folder, pipelines at the root or
	// nested, and absolute paths elsewhere are fine.
	for _, ok := range []string{
		`run_logs = "logs"`, `state = ".cache/osiris"`, `pipelines = "."`, `pipelines = "etl/flows"`,
		`run_logs = "` + filepath.ToSlash(t.TempDir()) + `"`,
	} {
		if _, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"p\"\n[paths]\n" + ok + "\n"}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// TestPathsLayoutThroughSymlink: a folder reached through a symlink at the
// root is the folder it points to.
func TestPathsLayoutThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "osiris.toml", "[project]\nname = \"p\"\n[paths]\nrun_logs = \"logs\"\n")
	if err := os.MkdirAll(filepath.Join(dir, "pipelines"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("pipelines", filepath.Join(dir, "logs")); err != nil {
		t.Fatal(err)
	}
	_, err := LoadWithEnv(dir, nil)
	if err == nil || !strings.Contains(err.Error(), `osiris.toml:4:1: error[config-path]: paths.run_logs "logs" is the same folder as paths.pipelines`) {
		t.Fatalf("got %v", err)
	}
}
