package mcp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/runlog"
	"github.com/osiris-go/osiris/workspace"
)

// Host is what the server needs from the command line: the code paths of
// `osiris compile`, `osiris run` and `osiris connections`, so that a tool
// is one more caller of them. Paths are absolute and inside the workspace.
type Host interface {
	// Compile validates and compiles one pipeline file into build/ and
	// records the compile, as `osiris compile FILE` does. ds holds every
	// diagnostic (warnings too); err is a failure other than the file's.
	Compile(ctx context.Context, file string) (res CompileResult, ds diag.List, err error)
	// Run runs one pipeline as `osiris run` does, recording the run; the
	// run's events also go to progress. A run that started returns its
	// result with the error it ended with.
	Run(ctx context.Context, req RunRequest, progress exec.EventSink) (*RunResult, error)
	// Connections lists the connections as `osiris connections list --json`.
	Connections() any
	// Doctor checks one connection as `osiris connections doctor REF`.
	Doctor(ctx context.Context, ref string) any
}

// CompileResult is the answer of the compile tool.
type CompileResult struct {
	File         string            `json:"file"`
	ManifestDir  string            `json:"manifest_dir,omitempty"`
	ManifestHash string            `json:"manifest_hash,omitempty"`
	Changed      bool              `json:"changed"`
	Diagnostics  []diag.Diagnostic `json:"diagnostics"`
}

// RunRequest is what the run tool asks for.
type RunRequest struct {
	Pipeline string // absolute path of a pipeline file or manifest directory
	Params   map[string]string
	Remote   bool   // run in a sandbox
	Sandbox  string // its name; "" = the default sandbox
	NoCache  bool
}

// RunResult is the answer of the run tool.
type RunResult struct {
	RunID      string `json:"run_id"`
	Status     string `json:"status"`
	RunDir     string `json:"run_dir"`
	Rows       int64  `json:"rows"`
	DurationMs int64  `json:"duration_ms"`
	Steps      any    `json:"steps,omitempty"`
	FailedStep string `json:"failed_step,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Options configure a server.
type Options struct {
	Workspace *workspace.Workspace
	Host      Host
	Profile   string // the profile validate and compile use ("" = the workspace's)
	Version   string
	// Log receives the server's log (text lines), masked.
	Log io.Writer
}

// Server is an osiris MCP server: the SDK server with the tools and
// resources of one workspace.
type Server struct {
	*sdk.Server
	ws    *workspace.Workspace
	host  Host
	opts  Options
	store *runlog.Store
	log   *slog.Logger

	// Runs in flight: a server that stops (the client went away, a
	// signal) cancels them and waits until each is recorded.
	runsMu  sync.Mutex
	runs    sync.WaitGroup
	stopped bool
	stopRun context.Context
	stop    context.CancelFunc
}

// New builds the server; serve it with RunStdio or ServeHTTP.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	ws := opts.Workspace
	log := slog.New(slog.NewTextHandler(ws.Masker.Writer(opts.Log), &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := &Server{ws: ws, host: opts.Host, opts: opts, store: runlog.ForWorkspace(ws), log: log}
	s.stopRun, s.stop = context.WithCancel(context.Background())
	s.Server = sdk.NewServer(&sdk.Implementation{Name: "osiris", Title: "osiris", Version: opts.Version}, &sdk.ServerOptions{
		Instructions: "osiris compiles and runs YAML data pipelines (OML 0.1.0) of one workspace. " +
			"Author a pipeline with oml_schema_get, components_list, component_show and discovery_request; " +
			"check it with oml_validate, save it with oml_save, then compile, run and read the run with logs_show.",
		Logger: log,
	})
	s.AddReceivingMiddleware(s.maskResults)
	s.AddSendingMiddleware(s.maskOutgoing)
	s.addTools()
	s.addResources()
	return s
}

// RunStdio serves one client over in/out until it disconnects or ctx
// ends, then stops the runs still going (see Shutdown).
func (s *Server) RunStdio(ctx context.Context, in io.ReadCloser, out io.WriteCloser) error {
	err := s.Server.Run(ctx, &sdk.IOTransport{Reader: in, Writer: out})
	s.Shutdown()
	return err
}

// Shutdown cancels the runs in flight and waits until each is recorded
// (cancelled), so that no run is left marked running; no run starts after.
// (The SDK ends a stdio session's calls when the client goes away; an HTTP
// server stopped by a signal has calls in flight on open streams.)
func (s *Server) Shutdown() {
	s.runsMu.Lock()
	s.stopped = true
	s.runsMu.Unlock()
	s.stop()
	s.runs.Wait()
}

// startRun registers a run in flight; its context ends with ctx or at
// Shutdown. done must be called when the run is recorded.
func (s *Server) startRun(ctx context.Context) (context.Context, func(), error) {
	s.runsMu.Lock()
	defer s.runsMu.Unlock()
	if s.stopped {
		return nil, nil, errors.New("the server is stopping")
	}
	s.runs.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	unwatch := context.AfterFunc(s.stopRun, cancel)
	return ctx, func() {
		unwatch()
		cancel()
		s.runs.Done()
	}, nil
}
