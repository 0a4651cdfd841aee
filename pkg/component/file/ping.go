package file

import (
	"context"
	"fmt"
	"os"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

func init() { component.RegisterPinger("filesystem", ping) }

// ping checks that a filesystem connection's base_dir (if any) is a directory.
func ping(ctx context.Context, conn *workspace.Connection, _ *workspace.Files) error {
	d := conn.Get("base_dir")
	if d == "" {
		return nil
	}
	st, err := os.Stat(d)
	if err != nil {
		return fmt.Errorf("connection %s: base_dir: %w", conn.Ref(), err)
	}
	if !st.IsDir() {
		return fmt.Errorf("connection %s: base_dir %s is not a directory", conn.Ref(), d)
	}
	return nil
}
