package mcp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/osiris-go/osiris/pkg/diag"
)

// HTTPPath is where the streamable HTTP transport is served.
const HTTPPath = "/mcp"

// CheckListenAddr refuses an address that is not loopback unless remote
// clients are allowed: the server runs pipelines and reads the workspace.
func CheckListenAddr(addr string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return diag.Usage("--http %q is not HOST:PORT; use 127.0.0.1:PORT", addr)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return diag.Usage("--http %s listens beyond this machine; use 127.0.0.1:PORT, or add --allow-remote if clients on other machines must reach it", addr)
	}
	return nil
}

// HTTPHandler serves the streamable HTTP transport at /mcp. The SDK
// refuses a request reaching a loopback address with a Host that is not
// loopback (DNS rebinding); cross-origin browser requests are refused.
func (s *Server) HTTPHandler() http.Handler {
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s.Server }, &sdk.StreamableHTTPOptions{Logger: s.log})
	mux := http.NewServeMux()
	mux.Handle(HTTPPath, http.NewCrossOriginProtection().Handler(h))
	return mux
}

// ServeHTTP listens on ln until ctx ends, then shuts down.
func (s *Server) ServeHTTP(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		s.Shutdown()
		return err
	case <-ctx.Done():
		// Runs first: each is cancelled and recorded, and its answer
		// reaches its client, before the connections close.
		s.Shutdown()
		// A client's open event stream never ends by itself: after a
		// grace period the connections are closed.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = srv.Close()
		}
		if e := <-done; !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
		return err
	}
}
