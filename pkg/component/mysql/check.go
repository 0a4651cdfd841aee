package mysql

import "github.com/osiris-go/osiris/workspace"

// checkConnection parses the connection settings as the drivers will,
// without connecting, so that validate refuses a malformed DSN.
func checkConnection(conn *workspace.Connection) error {
	_, err := configFor(conn)
	return err
}
