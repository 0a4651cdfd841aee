package mcp

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

func initWorkspace(t *testing.T) *e2e.Workspace {
	t.Helper()
	root := filepath.Join(t.TempDir(), "ws")
	if out, err := exec.Command(e2e.Binary(t), "init", root).CombinedOutput(); err != nil {
		t.Fatalf("osiris init: %v\n%s", err, out)
	}
	return e2e.NewWorkspaceAt(t, root)
}

// `osiris mcp --http` listens on loopback only unless --allow-remote.
func TestMCPHTTPLoopbackOnly(t *testing.T) {
	w := initWorkspace(t)
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.1:8080"} {
		r := w.Osiris("mcp", "--http", addr)
		if r.ExitCode != 2 || !strings.Contains(r.Stderr, "--allow-remote") {
			t.Errorf("mcp --http %s: exit %d, stderr %q; want exit 2 naming --allow-remote", addr, r.ExitCode, r.Stderr)
		}
	}
	if r := w.Osiris("mcp", "--allow-remote"); r.ExitCode != 2 {
		t.Errorf("--allow-remote without --http: exit %d", r.ExitCode)
	}
}

// startHTTP starts `osiris mcp --http 127.0.0.1:0` and returns the URL it
// serves; the server is killed when the test ends.
func startHTTP(t *testing.T, w *e2e.Workspace) (*exec.Cmd, string) {
	t.Helper()
	cmd := w.Command(context.Background(), "mcp", "--http", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	sc := bufio.NewScanner(stderr)
	url := ""
	for sc.Scan() {
		if m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/mcp`).FindString(sc.Text()); m != "" {
			url = m
			break
		}
	}
	if url == "" {
		t.Fatal("osiris mcp --http printed no URL")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return cmd, url
}

// A request with a Host that is not loopback (DNS rebinding) or from
// another origin is refused; a loopback one is served.
func TestMCPHTTPRebindingProtection(t *testing.T) {
	w := initWorkspace(t)
	_, url := startHTTP(t, w)
	post := func(host, origin string) int {
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("", ""); c != http.StatusOK {
		t.Errorf("loopback request: %d", c)
	}
	if c := post("evil.example:80", ""); c != http.StatusForbidden {
		t.Errorf("Host evil.example: %d, want 403", c)
	}
	if c := post("", "http://evil.example"); c != http.StatusForbidden {
		t.Errorf("cross-site Origin: %d, want 403", c)
	}
}

// The MCP conformance suite's server scenarios that apply to any server
// pass against `osiris mcp --http` (.ci/mcp-conformance.sh; Node.js 20
// and npm, and the network once to install the suite).
func TestMCPConformance(t *testing.T) {
	for _, c := range []string{"node", "npm", "bash"} {
		if _, err := exec.LookPath(c); err != nil {
			testenv.Need(t, "Node.js 20+ and npm for the MCP conformance suite ("+c+" not found)")
		}
	}
	script := filepath.Join(e2e.RepoRoot(), ".ci", "mcp-conformance.sh")
	install := exec.Command("bash", script, "--install-only")
	if out, err := install.CombinedOutput(); err != nil {
		testenv.Need(t, "the npm package @modelcontextprotocol/conformance@0.1.12 (installing it failed: "+err.Error()+"\n"+string(out)+")")
	}
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "OSIRIS_BIN="+e2e.Binary(t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("conformance suite: %v\n%s", err, out)
	}
	for _, s := range []string{"server-initialize", "ping", "tools-list", "resources-list", "logging-set-level", "dns-rebinding-protection"} {
		if !strings.Contains(string(out), "PASS "+s+"\n") {
			t.Errorf("scenario %s did not pass:\n%s", s, out)
		}
	}
	t.Logf("%s", out)
}

// Stopping `osiris mcp --http` (SIGTERM) in the middle of a run cancels the
// run and records it; the client gets its answer.
func TestMCPHTTPStopCancelsRun(t *testing.T) {
	db := fmt.Sprintf("osiris_t_mcp_stop_%d", os.Getpid())
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{MySQLDB: db}, map[string]string{
		"pipelines/slow.yaml": strings.Replace(slowPipeline, "@mysql.sakila", "@mysql.src", 1),
	})
	t.Cleanup(func() { testenv.MySQLDB(t, "").Exec("DROP DATABASE IF EXISTS `" + db + "`") })
	cmd, url := startHTTP(t, w)
	started := make(chan struct{}, 1)
	c := sdk.NewClient(&sdk.Implementation{Name: "osiris-e2e", Version: "1"}, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *sdk.ProgressNotificationClientRequest) {
			if r.Params.Message == "step sleep started" {
				select {
				case started <- struct{}{}:
				default:
				}
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	session, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	answer := make(chan *sdk.CallToolResult, 1)
	go func() {
		p := &sdk.CallToolParams{Name: "run", Arguments: map[string]any{"pipeline": "pipelines/slow.yaml"}}
		p.SetProgressToken("stop-1")
		res, _ := session.CallTool(ctx, p)
		answer <- res
	}()
	<-started
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("osiris mcp --http after SIGTERM: %v", err)
	}
	runs := w.Index()
	if len(runs) != 1 {
		t.Fatalf("%d runs indexed", len(runs))
	}
	if st := e2e.ReadStatus(t, filepath.Join(w.Root, filepath.FromSlash(runs[0].RunDir))); st.Status != "cancelled" {
		t.Errorf("the run is %q after SIGTERM, want cancelled", st.Status)
	}
	if res := <-answer; res == nil || !res.IsError || !strings.Contains(text(res), "cancelled") {
		t.Errorf("the client's answer: %+v", res)
	}
}
