package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/mcp"
	"github.com/osiris-go/osiris/workspace"
)

func (a *app) cmdMCP(args []string) error {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	httpAddr := fs.String("http", "", "serve streamable HTTP at http://`ADDR`/mcp (127.0.0.1:PORT) instead of stdio")
	allowRemote := fs.Bool("allow-remote", false, "with --http: accept a non-loopback address")
	pos, err := a.parseFlags(fs, args, "mcp [--http 127.0.0.1:PORT [--allow-remote]]")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return diag.Usage("mcp takes no arguments (stdio by default, --http 127.0.0.1:PORT for HTTP)")
	}
	if *allowRemote && *httpAddr == "" {
		return diag.Usage("--allow-remote goes with --http")
	}
	if *httpAddr != "" {
		if err := mcp.CheckListenAddr(*httpAddr, *allowRemote); err != nil {
			return err
		}
	}
	ws, err := a.workspace()
	if err != nil {
		return err
	}
	// stdout is the protocol's under stdio: whatever the commands' code
	// paths print goes to stderr.
	quiet := *a
	quiet.stdout = a.stderr
	srv := mcp.New(mcp.Options{Workspace: ws, Host: &mcpHost{a: &quiet, ws: ws}, Profile: a.profile, Version: version, Log: a.stderr})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return diag.Usage("--http %s: %v", *httpAddr, err)
		}
		fmt.Fprintf(a.stderr, "osiris mcp: serving http://%s%s (workspace %s)\n", ln.Addr(), mcp.HTTPPath, ws.Root)
		return srv.ServeHTTP(ctx, ln)
	}
	err = srv.RunStdio(ctx, io.NopCloser(a.stdin), nopWriteCloser{a.stdout})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// mcpHost gives the MCP server the code paths of the commands: a tool is
// one more caller of them.
type mcpHost struct {
	a  *app
	ws *workspace.Workspace
}

func (h *mcpHost) Compile(_ context.Context, file string) (mcp.CompileResult, diag.List, error) {
	started := time.Now()
	m, dir, changed, ds, err := h.a.compileOne(h.ws, file, nil)
	h.a.recordCompile(h.ws, file, started, m, dir, changed, ds, err, false)
	res := mcp.CompileResult{File: h.ws.Files.Rel(file)}
	if m != nil {
		res.ManifestDir, res.ManifestHash, res.Changed = h.ws.Files.Rel(dir), m.ManifestHash, changed
	}
	return res, ds, err
}

func (h *mcpHost) Run(ctx context.Context, req mcp.RunRequest, progress exec.EventSink) (*mcp.RunResult, error) {
	a, ws := h.a, h.ws
	if err := exec.CheckStateDir(ws.Path(ws.Config.Paths.State)); err != nil {
		return nil, err
	}
	m, dir, err := a.runTarget(ws, []string{req.Pipeline}, false, paramFlag(req.Params))
	if err != nil {
		return nil, err
	}
	var res *exec.Result
	var relDir string
	if req.Remote {
		res, relDir, err = a.runRemote(ctx, ws, m, dir, req.Sandbox, progress, nil, nil, nil)
	} else {
		res, relDir, err = a.runLocal(ctx, ws, m, dir, localRun{NoCache: req.NoCache, Sinks: []exec.EventSink{progress}})
	}
	if relDir == "" {
		return nil, err
	}
	out := &mcp.RunResult{RunDir: relDir, Status: exec.StatusFailed}
	if res != nil {
		out.RunID, out.Status, out.Rows, out.DurationMs = res.RunID, res.Status, res.RowsTotal, res.DurationMs
		out.Steps, out.FailedStep, out.Error = res.Steps, res.FailedStep, res.Error
	}
	return out, err
}

func (h *mcpHost) Connections() any { return nonNilRows(connectionRows(h.ws)) }

func nonNilRows(r []connectionRow) []connectionRow {
	if r == nil {
		return []connectionRow{}
	}
	return r
}

func (h *mcpHost) Doctor(ctx context.Context, ref string) any {
	return h.a.doctorOne(ctx, h.ws, ref, 10*time.Second)
}
