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
	c := &client{o: ClientOptions{Sandbox: sb, Masker: masker, HandshakeTimeout: 30 * time.Second}, stderr: newTail(8 << 10)}
	procCtx, stop := context.WithCancel(context.Background())
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	t0 := time.Now()
	proc, err := startProcess(startCtx, procCtx, sb, sandbox.StartOptions{Binary: binary, BinarySHA256: sum, Stderr: c.stderr})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("starting sandbox %s: %w", sb.Describe().Name, err)
	}
	c.attach(proc)
	defer c.detach()
	rep := &DoctorReport{Sandbox: sb.Describe(), Protocol: ProtocolVersion}
	err = func() error {
		id, err := c.send(TypeHello, Hello{Protocol: ProtocolVersion, OsirisVersion: version})
		if err != nil {
			return err
		}
		if _, err := c.expect(ctx, id, TypeHello, c.o.HandshakeTimeout, "handshake with the sandbox worker", &rep.Worker); err != nil {
			return err
		}
		rep.StartMs = time.Since(t0).Milliseconds()
		id, err = c.send(TypeStatus, StatusRequest{Reach: reach})
		if err != nil {
			return err
		}
		_, err = c.expect(ctx, id, TypeStatus, 60*time.Second, "asking the sandbox worker for its status", &rep.Status)
		return err
	}()
	c.stop(err != nil)
	if err != nil {
		return nil, err
	}
	return rep, nil
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
