package postgres

import (
	"context"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

func init() {
	component.RegisterPinger("postgres", ping)
	component.RegisterPinger("supabase", ping)
}

// ping connects the way the drivers do and runs a round trip.
func ping(ctx context.Context, conn *workspace.Connection, _ *workspace.Files) error {
	c, red, err := connect(ctx, conn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if err := c.Ping(ctx); err != nil {
		return red.redact(err)
	}
	return nil
}
