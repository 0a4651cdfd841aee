package mysql

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

func init() { component.RegisterPinger("mysql", ping) }

// ping opens one connection with the drivers' own session setup and pings it.
func ping(ctx context.Context, conn *workspace.Connection, _ *workspace.Files) error {
	cfg, err := configFor(conn)
	if err != nil {
		return err
	}
	dc, err := connect(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connection %s: %w", connRef(conn), err)
	}
	defer dc.Close()
	if p, ok := dc.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}
