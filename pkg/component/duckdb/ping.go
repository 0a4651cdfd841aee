package duckdb

import (
	"context"
	"fmt"
	"os"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

func init() { component.RegisterPinger("duckdb", ping) }

// ping checks a duckdb connection: a database file that exists must open
// read-only; one that does not exist yet is fine when its folder exists (the
// writer creates it).
func ping(ctx context.Context, conn *workspace.Connection, files *workspace.Files) error {
	p := conn.Get("path")
	if p == "" || p == ":memory:" {
		return nil
	}
	p, err := files.Resolve(p)
	if err != nil {
		return fmt.Errorf("connection %s: %w", conn.Ref(), err)
	}
	if _, err := os.Stat(p); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("connection %s: %w", conn.Ref(), err)
	}
	if err := CheckDatabaseFile(p); err != nil {
		return fmt.Errorf("connection %s: %s %w", conn.Ref(), files.Rel(p), err)
	}
	s, err := OpenReadOnly(ctx, p)
	if err != nil {
		return fmt.Errorf("connection %s: %w", conn.Ref(), err)
	}
	return s.Close()
}
