package mcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

// seen is everything the server sent the client (answers, notifications,
// resources), kept for the secrets canary.
type seen struct {
	mu       sync.Mutex
	texts    []string
	progress []*sdk.ProgressNotificationParams
	logs     []string
	started  chan string // step ids of "step X started" progress messages
}

func (s *seen) add(what string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprint(v))
	}
	s.mu.Lock()
	s.texts = append(s.texts, what+": "+string(b))
	s.mu.Unlock()
}

// client is one connected MCP client of `osiris mcp` over stdio.
type client struct {
	t       *testing.T
	session *sdk.ClientSession
	seen    *seen
	stderr  *e2e.SyncBuffer
	stdin   io.WriteCloser // the server's
	wait    func() error   // waits for the server to exit
}

func connect(t *testing.T, w *e2e.Workspace) *client {
	t.Helper()
	s := &seen{started: make(chan string, 64)}
	c := sdk.NewClient(&sdk.Implementation{Name: "osiris-e2e", Version: "1"}, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *sdk.ProgressNotificationClientRequest) {
			s.add("progress", r.Params)
			s.mu.Lock()
			s.progress = append(s.progress, r.Params)
			s.mu.Unlock()
			if id, ok := strings.CutPrefix(r.Params.Message, "step "); ok {
				if id, ok := strings.CutSuffix(id, " started"); ok {
					select {
					case s.started <- id:
					default:
					}
				}
			}
		},
		LoggingMessageHandler: func(_ context.Context, r *sdk.LoggingMessageRequest) {
			s.add("log", r.Params)
			s.mu.Lock()
			s.logs = append(s.logs, fmt.Sprint(r.Params.Data))
			s.mu.Unlock()
		},
	})
	cmd := w.Command(context.Background(), "mcp")
	stderr := &e2e.SyncBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitOnce sync.Once
	var waitErr error
	wait := func() error {
		waitOnce.Do(func() { waitErr = cmd.Wait() })
		return waitErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	session, err := c.Connect(ctx, &sdk.IOTransport{Reader: stdout, Writer: stdin}, nil)
	if err != nil {
		t.Fatalf("connecting to osiris mcp: %v\n%s", err, stderr)
	}
	if err := session.SetLoggingLevel(ctx, &sdk.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, session: session, seen: s, stderr: stderr, stdin: stdin, wait: wait}
	t.Cleanup(func() {
		session.Close()
		wait()
	})
	return cl
}

// call calls a tool and returns its result; the answer is recorded.
func (c *client) call(name string, args map[string]any) *sdk.CallToolResult {
	c.t.Helper()
	return c.callCtx(context.Background(), name, args, nil)
}

func (c *client) callCtx(ctx context.Context, name string, args map[string]any, progressToken any) *sdk.CallToolResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	p := &sdk.CallToolParams{Name: name, Arguments: args}
	if progressToken != nil {
		p.SetProgressToken(progressToken)
	}
	res, err := c.session.CallTool(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		c.t.Fatalf("%s: %v\nserver log:\n%s", name, err, c.stderr)
	}
	c.seen.add("answer "+name, res)
	return res
}

func text(r *sdk.CallToolResult) string {
	var parts []string
	for _, c := range r.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// decode reads a successful answer's JSON.
func (c *client) decode(name string, r *sdk.CallToolResult, v any) {
	c.t.Helper()
	if r.IsError {
		c.t.Fatalf("%s failed: %s\nserver log:\n%s", name, text(r), c.stderr)
	}
	if err := json.Unmarshal([]byte(text(r)), v); err != nil {
		c.t.Fatalf("%s: decoding %q: %v", name, text(r), err)
	}
}

func newCanary(t *testing.T) (value, core string) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	core = hex.EncodeToString(b)
	return "CNRYmcp^" + core, core
}

// sakilaCopy copies Sakila's rental, customer and staff tables into a
// database of this test process, with a table of secrets beside them.
func sakilaCopy(t *testing.T, canary string) string {
	t.Helper()
	testenv.LoadSakila(t)
	db := fmt.Sprintf("osiris_t_mcp_%d", os.Getpid())
	conn := testenv.MySQLDB(t, db)
	t.Cleanup(func() { conn.Exec("DROP DATABASE IF EXISTS `" + db + "`") })
	for _, tb := range []string{"rental", "customer", "staff"} {
		e2e.MySQLExec(t, conn,
			"DROP TABLE IF EXISTS `"+tb+"`",
			"CREATE TABLE `"+tb+"` LIKE sakila_dojo.`"+tb+"`",
			"INSERT INTO `"+tb+"` SELECT * FROM sakila_dojo.`"+tb+"`")
	}
	e2e.MySQLExec(t, conn,
		"DROP TABLE IF EXISTS accounts",
		"CREATE TABLE accounts (id INT PRIMARY KEY, password VARCHAR(64), note VARCHAR(200))",
		fmt.Sprintf("INSERT INTO accounts VALUES (1, 'hunter22', 'the db password is %s')", canary))
	return db
}

const brokenPipeline = `oml_version: "0.1.0"
name: broken
steps:
  - id: extract
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config:
      path: data/movies.csv
      delimter: ";"
`

const slowPipeline = `oml_version: "0.1.0"
name: slow
steps:
  - id: sleep
    component: mysql.extractor
    mode: read
    needs: []
    config:
      connection: "@mysql.sakila"
      query: SELECT SLEEP(600) AS slept
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [sleep]
    config:
      path: output/slept.csv
`

// The whole door an assistant uses, over stdio with the SDK's client.
func TestMCPStdio(t *testing.T) {
	canary, core := newCanary(t)
	db := sakilaCopy(t, canary)

	root := filepath.Join(t.TempDir(), "ws")
	if out, err := exec.Command(e2e.Binary(t), "init", root).CombinedOutput(); err != nil {
		t.Fatalf("osiris init: %v\n%s", err, out)
	}
	w := e2e.NewWorkspaceAt(t, root)
	cfg, err := os.ReadFile(filepath.Join(root, "osiris.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, fmt.Sprintf(`
[connections.mysql.sakila]
host = "${MCP_T_HOST}"
port = "${MCP_T_PORT}"
database = %q
user = "${MCP_T_USER}"
password = "${MCP_T_PASSWORD:-}"

# A connection whose password is the canary: no answer may show it.
[connections.mysql.canary]
host = "127.0.0.1"
port = 1
database = "nowhere"
user = "canary"
password = "${MCP_CANARY}"
`, db)...)
	w.Write("osiris.toml", string(cfg))
	w.Write(".env", "MCP_CANARY="+canary+"\n")
	w.Write("pipelines/broken.yaml", brokenPipeline)
	w.Write("pipelines/slow.yaml", slowPipeline)
	// A file that holds the secret: its resource must come back masked.
	offline, err := os.ReadFile(filepath.Join(root, "pipelines", "movies_offline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w.Write("pipelines/notes.yaml", "# the warehouse password is "+canary+"\n"+strings.Replace(string(offline), "name: movies-offline", "name: notes", 1))
	w.Env = append(w.Env, "MCP_T_HOST="+testenv.MySQLHost(), "MCP_T_PORT="+testenv.MySQLPort(),
		"MCP_T_USER="+testenv.MySQLUser(), "MCP_T_PASSWORD="+testenv.MySQLPassword())

	c := connect(t, w)

	t.Run("tools/list", func(t *testing.T) {
		want := map[string][]string{
			"connections_list":   {},
			"connections_doctor": {"connection_id"},
			"components_list":    {},
			"discovery_request":  {"connection_id", "samples"},
			"oml_schema_get":     {},
			"oml_validate":       {"oml_content", "pipeline"},
			"oml_save":           {"filename", "oml_content"},
			"component_show":     {"name"},
			"compile":            {"pipeline"},
			"run":                {"no_cache", "params", "pipeline", "remote"},
			"logs_list":          {"limit", "pipeline", "status"},
			"logs_show":          {"run"},
			"logs_diff":          {"a", "b"},
		}
		res, err := c.session.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.seen.add("tools/list", res)
		got := map[string][]string{}
		for _, tl := range res.Tools {
			var schema struct {
				Type       string                    `json:"type"`
				Properties map[string]map[string]any `json:"properties"`
			}
			b, _ := json.Marshal(tl.InputSchema)
			if err := json.Unmarshal(b, &schema); err != nil || schema.Type != "object" {
				t.Errorf("tool %s: input schema %s is not an object schema", tl.Name, b)
			}
			args := []string{}
			for k := range schema.Properties {
				args = append(args, k)
			}
			sort.Strings(args)
			got[tl.Name] = args
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("tools and their arguments:\n got %v\nwant %v", got, want)
		}
	})

	t.Run("oml_validate", func(t *testing.T) {
		r := c.call("oml_validate", map[string]any{"oml_content": brokenPipeline})
		if !r.IsError || !strings.Contains(text(r), "pipelines/oml_content.yaml:10:7: error[unknown-config-key]") {
			t.Errorf("broken text: want a tool error at pipelines/oml_content.yaml:10:7, got IsError=%v\n%s", r.IsError, text(r))
		}
		r = c.call("oml_validate", map[string]any{"pipeline": "pipelines/broken.yaml"})
		if !r.IsError || !strings.Contains(text(r), "pipelines/broken.yaml:10:7: error[unknown-config-key]") || !strings.Contains(text(r), `"delimiter"`) {
			t.Errorf("broken file: want a tool error at pipelines/broken.yaml:10:7 suggesting delimiter, got IsError=%v\n%s", r.IsError, text(r))
		}
		var v struct {
			Valid bool `json:"valid"`
		}
		c.decode("oml_validate", c.call("oml_validate", map[string]any{"pipeline": "pipelines/movies_offline.yaml"}), &v)
		if !v.Valid {
			t.Error("movies_offline.yaml is not valid")
		}
		r = c.call("oml_validate", map[string]any{"pipeline": "../outside.yaml"})
		if !r.IsError {
			t.Errorf("a path outside the workspace was validated: %s", text(r))
		}
	})

	t.Run("oml_save", func(t *testing.T) {
		before, _ := os.ReadFile(filepath.Join(root, "osiris.toml"))
		valid := strings.Replace(string(offline), "name: movies-offline", "name: saved", 1)
		for _, name := range []string{"../osiris.toml", "../../escaped.yaml", "/tmp/osiris-mcp-abs.yaml", ".env.yaml", "sub/../../x.yaml", "pipelines/../../y.yaml", "notyaml.txt", "osiris.toml"} {
			r := c.call("oml_save", map[string]any{"filename": name, "oml_content": valid})
			if !r.IsError || !strings.Contains(text(r), "filename") {
				t.Errorf("oml_save %q: want a refusal, got IsError=%v %s", name, r.IsError, text(r))
			}
		}
		after, _ := os.ReadFile(filepath.Join(root, "osiris.toml"))
		if !bytes.Equal(before, after) {
			t.Error("osiris.toml changed")
		}
		for _, p := range []string{filepath.Join(filepath.Dir(root), "escaped.yaml"), "/tmp/osiris-mcp-abs.yaml", filepath.Join(root, "x.yaml"), filepath.Join(filepath.Dir(root), "y.yaml")} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s was written", p)
			}
		}
		// Invalid text is not saved.
		r := c.call("oml_save", map[string]any{"filename": "bad.yaml", "oml_content": brokenPipeline})
		if !r.IsError || !strings.Contains(text(r), "pipelines/bad.yaml:10:7: error[unknown-config-key]") {
			t.Errorf("saving a broken pipeline: %s", text(r))
		}
		if _, err := os.Stat(filepath.Join(root, "pipelines", "bad.yaml")); err == nil {
			t.Error("a broken pipeline was saved")
		}
		var saved struct {
			File  string `json:"file"`
			Saved bool   `json:"saved"`
		}
		c.decode("oml_save", c.call("oml_save", map[string]any{"filename": "saved/copy.yaml", "oml_content": valid}), &saved)
		if b, err := os.ReadFile(filepath.Join(root, "pipelines", "saved", "copy.yaml")); err != nil || string(b) != valid || saved.File != "pipelines/saved/copy.yaml" {
			t.Errorf("saved %+v: %v", saved, err)
		}
	})

	type runAnswer struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
		RunDir string `json:"run_dir"`
		Rows   int64  `json:"rows"`
	}
	var offlineRun runAnswer
	t.Run("run with progress", func(t *testing.T) {
		c.decode("run", c.callCtx(context.Background(), "run", map[string]any{"pipeline": "pipelines/movies_offline.yaml", "params": map[string]any{"min_movies": 2}}, "offline-1"), &offlineRun)
		if offlineRun.Status != "success" || offlineRun.RunID == "" {
			t.Fatalf("run: %+v", offlineRun)
		}
		c.seen.mu.Lock()
		var msgs []string
		last := 0.0
		for _, p := range c.seen.progress {
			if p.ProgressToken != "offline-1" {
				continue
			}
			if p.Progress <= last {
				t.Errorf("progress went from %v to %v", last, p.Progress)
			}
			last = p.Progress
			msgs = append(msgs, p.Message)
		}
		c.seen.mu.Unlock()
		for _, step := range []string{"extract-movies", "extract-directors", "director-stats", "write-warehouse", "write-parquet"} {
			if !containsPrefix(msgs, "step "+step+" started") || !containsPrefix(msgs, "step "+step+" done") {
				t.Errorf("no start and end progress of step %s in %q", step, msgs)
			}
		}
		st := e2e.ReadStatus(t, filepath.Join(root, filepath.FromSlash(offlineRun.RunDir)))
		if st.Status != "success" {
			t.Errorf("status.json: %+v", st)
		}
	})

	t.Run("logs_show last", func(t *testing.T) {
		var d struct {
			RunID    string `json:"run_id"`
			Status   string `json:"status"`
			Pipeline string `json:"pipeline"`
			Steps    []struct {
				ID string `json:"id"`
			} `json:"steps"`
		}
		c.decode("logs_show", c.call("logs_show", map[string]any{"run": "last"}), &d)
		if d.RunID != offlineRun.RunID || d.Status != "success" || d.Pipeline != "pipelines/movies_offline.yaml" || len(d.Steps) != 5 {
			t.Errorf("logs_show last: %+v, want run %s", d, offlineRun.RunID)
		}
	})

	t.Run("cancel a slow run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan *sdk.CallToolResult, 1)
		go func() { done <- c.callCtx(ctx, "run", map[string]any{"pipeline": "pipelines/slow.yaml"}, "slow-1") }()
		for id := range c.seen.started {
			if id == "sleep" {
				break
			}
		}
		cancel() // the client sends notifications/cancelled
		<-done
		// The run ends on the server after the cancel arrives.
		var d struct {
			Status string `json:"status"`
		}
		for i := 0; i < 600; i++ {
			r := c.call("logs_show", map[string]any{"run": "last:slow"})
			if !r.IsError {
				c.decode("logs_show", r, &d)
				if d.Status != "running" {
					break
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		if d.Status != "cancelled" {
			t.Errorf("the cancelled run is recorded as %q, want cancelled", d.Status)
		}
	})

	t.Run("discovery_request", func(t *testing.T) {
		var d struct {
			Database string `json:"database"`
			Tables   []struct {
				Name       string   `json:"name"`
				Kind       string   `json:"kind"`
				PrimaryKey []string `json:"primary_key"`
				Columns    []struct {
					Name string `json:"name"`
					Type string `json:"type"`
				} `json:"columns"`
				Samples [][]any `json:"samples"`
			} `json:"tables"`
		}
		c.decode("discovery_request", c.call("discovery_request", map[string]any{"connection_id": "@mysql.sakila", "samples": 2}), &d)
		var names []string
		for _, tb := range d.Tables {
			names = append(names, tb.Name)
			var cols []string
			for _, col := range tb.Columns {
				cols = append(cols, col.Name+" "+col.Type)
			}
			switch tb.Name {
			case "rental":
				if !sameColumns(cols, []string{"rental_id int(11)", "rental_date datetime", "inventory_id mediumint(8) unsigned", "customer_id smallint(5) unsigned", "return_date datetime", "staff_id tinyint(3) unsigned", "last_update timestamp"}) {
					t.Errorf("rental columns: %q", cols)
				}
				if fmt.Sprint(tb.PrimaryKey) != "[rental_id]" || len(tb.Samples) != 2 {
					t.Errorf("rental: primary key %v, %d samples", tb.PrimaryKey, len(tb.Samples))
				}
			case "accounts":
				if fmt.Sprint(tb.Samples) != "[[1 *** the db password is ***]]" {
					t.Errorf("accounts samples are not masked: %v", tb.Samples)
				}
			}
		}
		if fmt.Sprint(names) != "[accounts customer rental staff]" || d.Database != db {
			t.Errorf("discovered %s: %v", d.Database, names)
		}
	})

	t.Run("the other tools", func(t *testing.T) {
		var conns struct {
			Connections []struct {
				Ref string `json:"ref"`
			} `json:"connections"`
		}
		c.decode("connections_list", c.call("connections_list", nil), &conns)
		if len(conns.Connections) != 5 {
			t.Errorf("connections_list: %+v", conns)
		}
		var doc struct {
			Ref   string `json:"ref"`
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		c.decode("connections_doctor", c.call("connections_doctor", map[string]any{"connection_id": "@mysql.sakila"}), &doc)
		if !doc.OK {
			t.Errorf("connections_doctor @mysql.sakila: %+v", doc)
		}
		c.decode("connections_doctor", c.call("connections_doctor", map[string]any{"connection_id": "@mysql.canary"}), &doc)
		if doc.OK || doc.Error == "" {
			t.Errorf("connections_doctor @mysql.canary (port 1): %+v", doc)
		}
		var comps struct {
			Components []struct {
				Name string `json:"name"`
			} `json:"components"`
		}
		c.decode("components_list", c.call("components_list", nil), &comps)
		if len(comps.Components) < 10 {
			t.Errorf("components_list: %+v", comps)
		}
		var spec struct {
			Name   string `json:"name"`
			Fields []any  `json:"fields"`
		}
		c.decode("component_show", c.call("component_show", map[string]any{"name": "mysql.extractor"}), &spec)
		if spec.Name != "mysql.extractor" || len(spec.Fields) == 0 {
			t.Errorf("component_show: %+v", spec)
		}
		if r := c.call("component_show", map[string]any{"name": "nope.extractor"}); !r.IsError {
			t.Errorf("component_show of an unknown component: %s", text(r))
		}
		var schema struct {
			Schema string `json:"$schema"`
		}
		c.decode("oml_schema_get", c.call("oml_schema_get", nil), &schema)
		if schema.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("oml_schema_get: %+v", schema)
		}
		var comp struct {
			ManifestDir string `json:"manifest_dir"`
		}
		c.decode("compile", c.call("compile", map[string]any{"pipeline": "pipelines/movies_offline.yaml"}), &comp)
		if _, err := os.Stat(filepath.Join(root, comp.ManifestDir, "manifest.yaml")); err != nil {
			t.Errorf("compile: %+v: %v", comp, err)
		}
		if r := c.call("compile", map[string]any{"pipeline": "pipelines/broken.yaml"}); !r.IsError || !strings.Contains(text(r), "pipelines/broken.yaml:10:7: error[unknown-config-key]") {
			t.Errorf("compile broken: %s", text(r))
		}
		var second runAnswer
		c.decode("run", c.call("run", map[string]any{"pipeline": "pipelines/movies_offline.yaml", "params": map[string]any{"min_movies": 3}}), &second)
		var diff struct {
			RowsDelta *int64 `json:"rows_delta"`
		}
		c.decode("logs_diff", c.call("logs_diff", map[string]any{"a": offlineRun.RunID, "b": second.RunID}), &diff)
		var list struct {
			Runs []struct {
				RunID string `json:"run_id"`
				Kind  string `json:"kind"`
			} `json:"runs"`
		}
		c.decode("logs_list", c.call("logs_list", map[string]any{"pipeline": "movies_offline", "status": "success", "limit": 10}), &list)
		var runs []string
		for _, r := range list.Runs {
			if r.Kind == "run" {
				runs = append(runs, r.RunID)
			}
		}
		if fmt.Sprint(runs) != fmt.Sprint([]string{second.RunID, offlineRun.RunID}) {
			t.Errorf("logs_list: %+v", list)
		}
		// A failing run: its driver error is about the canary's connection.
		w.Write("pipelines/fails.yaml", strings.Replace(slowPipeline, "@mysql.sakila", "@mysql.canary", 1))
		r := c.call("run", map[string]any{"pipeline": "pipelines/fails.yaml"})
		if !r.IsError || !strings.Contains(text(r), "failed") {
			t.Errorf("a failing run: %s", text(r))
		}
	})

	t.Run("run remote", func(t *testing.T) {
		if _, err := exec.LookPath("bwrap"); err != nil {
			testenv.Need(t, "bubblewrap (bwrap) for the local sandbox")
		}
		var res runAnswer
		c.decode("run", c.callCtx(context.Background(), "run", map[string]any{"pipeline": "pipelines/movies_offline.yaml", "remote": "local"}, "remote-1"), &res)
		if res.Status != "success" {
			t.Fatalf("remote run: %+v", res)
		}
		events := e2e.ReadEvents(t, filepath.Join(root, filepath.FromSlash(res.RunDir)))
		if started := e2e.EventsNamed(events, "sandbox_started", ""); len(started) != 1 {
			t.Errorf("the run did not go through a sandbox: %d sandbox_started events", len(started))
		}
	})

	t.Run("resources", func(t *testing.T) {
		ctx := context.Background()
		var uris []string
		for r, err := range c.session.Resources(ctx, nil) {
			if err != nil {
				t.Fatal(err)
			}
			c.seen.add("resources/list", r)
			uris = append(uris, r.URI)
		}
		for _, want := range []string{"osiris://schema/pipeline.json", "osiris://components/mysql.extractor",
			"osiris://pipelines/notes.yaml", "osiris://pipelines/saved/copy.yaml",
			"osiris://runs/" + offlineRun.RunID + "/status.json", "osiris://runs/" + offlineRun.RunID + "/report.html"} {
			if !contains(uris, want) {
				t.Errorf("resource %s not listed", want)
			}
		}
		for _, u := range uris {
			res, err := c.session.ReadResource(ctx, &sdk.ReadResourceParams{URI: u})
			if err != nil {
				t.Errorf("reading %s: %v", u, err)
				continue
			}
			c.seen.add("resource "+u, res)
			if u == "osiris://pipelines/notes.yaml" && !strings.Contains(res.Contents[0].Text, "password is ***") {
				t.Errorf("%s: %q", u, res.Contents[0].Text)
			}
		}
		for _, u := range []string{"osiris://pipelines/../osiris.toml", "osiris://pipelines/../.env", "osiris://runs/last/../../osiris.toml"} {
			if res, err := c.session.ReadResource(ctx, &sdk.ReadResourceParams{URI: u}); err == nil {
				t.Errorf("%s was read: %v", u, res)
			}
		}
		// Runs recorded later are readable through the template.
		if _, err := c.session.ReadResource(ctx, &sdk.ReadResourceParams{URI: "osiris://runs/last/status.json"}); err != nil {
			t.Errorf("osiris://runs/last/status.json: %v", err)
		}
	})

	// The secrets canary: nothing the server sent, and nothing it logged,
	// holds the canary in any form.
	t.Run("secrets canary", func(t *testing.T) {
		c.session.Close()
		if err := c.wait(); err != nil {
			t.Errorf("osiris mcp exited with %v", err)
		}
		c.seen.mu.Lock()
		all := append([]string{"server log: " + c.stderr.String()}, c.seen.texts...)
		n := len(c.seen.texts)
		c.seen.mu.Unlock()
		if n < 60 {
			t.Errorf("only %d answers, notifications and resources were seen", n)
		}
		hits := 0
		for _, s := range all {
			for _, form := range []string{canary, core, strings.ToUpper(core), strings.ReplaceAll(canary, "^", "%5E")} {
				if strings.Contains(s, form) {
					hits++
					t.Errorf("canary (%s) in %.300s", form, s)
				}
			}
		}
		t.Logf("secrets canary: %d answers, notifications and resources plus the server log (%d bytes) scanned, %d hits", n, len(c.stderr.String()), hits)
	})
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sameColumns(got, want []string) bool {
	return strings.Join(got, ",") == strings.Join(want, ",")
}

// A client that goes away in the middle of a run (the editor closed) stops
// the run, and the run is recorded cancelled, not left running.
func TestMCPClientGoneCancelsRun(t *testing.T) {
	db := fmt.Sprintf("osiris_t_mcp_gone_%d", os.Getpid())
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{MySQLDB: db}, map[string]string{
		"pipelines/slow.yaml": strings.Replace(slowPipeline, "@mysql.sakila", "@mysql.src", 1),
	})
	t.Cleanup(func() { testenv.MySQLDB(t, "").Exec("DROP DATABASE IF EXISTS `" + db + "`") })
	c := connect(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		p := &sdk.CallToolParams{Name: "run", Arguments: map[string]any{"pipeline": "pipelines/slow.yaml"}}
		p.SetProgressToken("gone-1")
		c.session.CallTool(ctx, p) // ends with the connection
	}()
	for id := range c.seen.started {
		if id == "sleep" {
			break
		}
	}
	// The server's stdin closes, as when the client's process exits: the
	// server must stop the run, record it and exit.
	c.stdin.Close()
	if err := c.wait(); err != nil {
		t.Errorf("osiris mcp exited with %v", err)
	}
	runs := w.Index()
	if len(runs) != 1 {
		t.Fatalf("%d runs indexed: %+v", len(runs), runs)
	}
	st := e2e.ReadStatus(t, filepath.Join(w.Root, filepath.FromSlash(runs[0].RunDir)))
	if st.Status != "cancelled" {
		t.Errorf("the run of a client that went away is %q, want cancelled\nserver log:\n%s", st.Status, c.stderr)
	}
}
