package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/workspace"
)

// checkConnection parses the connection settings as connect will, without
// connecting, so that validate refuses a malformed DSN.
func checkConnection(conn *workspace.Connection) error {
	cs, err := connString(conn)
	if err != nil {
		return err
	}
	if _, err := pgx.ParseConfig(cs); err != nil {
		// ParseConfig errors quote the string; say what, never the value.
		return fmt.Errorf("connection %s: the PostgreSQL settings (dsn/url or host, port, database, user, sslmode) do not parse as a connection string", conn.Ref())
	}
	return nil
}
