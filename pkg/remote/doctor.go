package remote

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/workspace"
)

// DoctorReport is what `osiris remote doctor` shows.
type DoctorReport struct {
	Sandbox  sandbox.Description `json:"sandbox"`
	Worker   Hello               `json:"worker"`
	Protocol int                 `json:"protocol"`
	Status   Status              `json:"status"`
	StartMs  int64               `json:"start_ms"`
}

// Doctor starts the sandbox, does the handshake and asks the worker for its
// store's size, the free space, and whether each address in reach can be
// reached from inside.
func Doctor(ctx context.Context, sb sandbox.Sandbox, binary, sum, version string, reach []ReachCheck, masker *workspace.Masker) (*DoctorReport, error) {
	rep := &DoctorReport{Sandbox: sb.Describe(), Protocol: ProtocolVersion}
	err := withWorker(ctx, sb, binary, sum, version, masker, nil, func(c *client, h Hello, startMs int64) error {
		rep.Worker, rep.StartMs = h, startMs
		id, err := c.send(TypeStatus, StatusRequest{Reach: reach})
		if err != nil {
			return err
		}
		_, err = c.expect(ctx, id, TypeStatus, 60*time.Second, "asking the sandbox worker for its status", &rep.Status)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// GC starts the sandbox and bounds it now (osiris remote gc): dead
// workers' leftovers, run records beyond keep_runs, unreferenced blobs
// least recently used first until the store holds at most max_store.
func GC(ctx context.Context, sb sandbox.Sandbox, binary, sum, version string, req GCRequest, masker *workspace.Masker) (*GCResult, error) {
	var res GCResult
	err := withWorker(ctx, sb, binary, sum, version, masker, nil, func(c *client, _ Hello, _ int64) error {
		id, err := c.send(TypeGC, req)
		if err != nil {
			return err
		}
		_, err = c.expect(ctx, id, TypeGC, 5*time.Minute, "collecting the sandbox store", &res)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// withWorker starts a worker, does the handshake, runs f and stops it.
func withWorker(ctx context.Context, sb sandbox.Sandbox, binary, sum, version string, masker *workspace.Masker, gc *GCRequest, f func(c *client, h Hello, startMs int64) error) error {
	c := &client{o: ClientOptions{Sandbox: sb, Masker: masker, HandshakeTimeout: 30 * time.Second}, stderr: newTail(8 << 10)}
	procCtx, stop := context.WithCancel(context.Background())
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	t0 := time.Now()
	proc, err := startProcess(startCtx, procCtx, sb, sandbox.StartOptions{Binary: binary, BinarySHA256: sum, Stderr: c.stderr})
	cancel()
	if err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	c.attach(proc)
	defer c.detach()
	err = func() error {
		id, err := c.send(TypeHello, Hello{Protocol: ProtocolVersion, OsirisVersion: version, GC: gc})
		if err != nil {
			return err
		}
		var h Hello
		if _, err := c.expect(ctx, id, TypeHello, c.o.HandshakeTimeout, "handshake with the sandbox worker", &h); err != nil {
			return err
		}
		if h.Protocol != ProtocolVersion {
			return fmt.Errorf("protocol version mismatch: this osiris (%s) speaks protocol %d, the sandbox worker (osiris %s) speaks %d; use the same osiris version on both sides",
				orUnknown(version), ProtocolVersion, orUnknown(h.OsirisVersion), h.Protocol)
		}
		return f(c, h, time.Since(t0).Milliseconds())
	}()
	c.stop(err != nil)
	return err
}

// ReachChecks lists host:port of every network connection the workspace
// defines (DuckDB and file connections have none). Connections that cannot
// be resolved (a variable not set) are listed with the reason.
func ReachChecks(ws *workspace.Workspace) []ReachCheck {
	var out []ReachCheck
	for _, ref := range ws.ConnectionRefs() {
		family, _, err := workspace.ParseRef(ref)
		if err != nil {
			continue
		}
		conn, err := ws.ResolveConnection(ref, family)
		if err != nil {
			out = append(out, ReachCheck{Name: ref, Error: ws.Masker.Mask(err.Error())})
			continue
		}
		addr, ok := connAddr(conn)
		if !ok {
			continue
		}
		out = append(out, ReachCheck{Name: ref, Addr: addr})
	}
	return out
}

func connAddr(c *workspace.Connection) (string, bool) {
	switch c.Family {
	case "mysql", "mariadb":
		dsn, err := c.MySQLDSN()
		if err != nil {
			return "", false
		}
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil || cfg.Net != "tcp" {
			return "", false
		}
		return cfg.Addr, true
	case "postgres", "supabase":
		cs, err := c.PostgresConnString()
		if err != nil {
			return "", false
		}
		cfg, err := pgconn.ParseConfig(cs)
		if err != nil || cfg.Host == "" || cfg.Host[0] == '/' {
			return "", false
		}
		return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), true
	}
	return "", false
}
