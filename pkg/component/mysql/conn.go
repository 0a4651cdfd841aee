package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/osiris-go/osiris/workspace"
)

// configFor parses the connection's DSN and forces the options the drivers
// rely on: raw date bytes (parsed here, exactly), no client-side
// interpolation (so queries use the binary protocol), plain affected-row
// counts.
func configFor(conn *workspace.Connection) (*gomysql.Config, error) {
	if conn == nil {
		return nil, errors.New("no connection resolved")
	}
	// The workspace builds the DSN (dsn, mysql:// url or fields) with the
	// driver's own FormatDSN; ParseDSN reads passwords with DSN punctuation
	// back exactly (it splits on the last '@' and '/').
	dsn, err := conn.MySQLDSN()
	if err != nil {
		return nil, err
	}
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		// ParseDSN errors may quote the DSN, password included.
		return nil, fmt.Errorf("connection %s: the MySQL settings do not form a valid DSN (user:password@tcp(host:port)/database)", connRef(conn))
	}
	cfg.ParseTime = false
	cfg.InterpolateParams = false
	cfg.ClientFoundRows = false
	cfg.ColumnsWithAlias = false
	cfg.MultiStatements = false
	// Text travels as utf8mb4 whatever the DSN asks (charset=latin1 would
	// hand Arrow strings bytes that are not UTF-8); a utf8mb4 collation the
	// DSN names is kept.
	collation := ""
	if strings.HasPrefix(strings.ToLower(cfg.Collation), "utf8mb4_") {
		collation = cfg.Collation
	}
	if err := cfg.Apply(gomysql.Charset("utf8mb4", collation)); err != nil {
		return nil, fmt.Errorf("connection %s: %w", connRef(conn), err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	// The driver's default logger prints to stderr; errors reach the caller
	// as return values anyway.
	cfg.Logger = quietLogger{}
	return cfg, nil
}

type quietLogger struct{}

func (quietLogger) Print(...any) {}

func connRef(conn *workspace.Connection) string {
	if conn == nil {
		return "(none)"
	}
	return conn.Ref()
}

// sessionSetup is run on every connection the drivers open.
//   - time_zone '+00:00': TIMESTAMP values are read and written as UTC, once,
//     explicitly, whatever the server's or the machine's zone.
//   - net_write_timeout: the extractor reads lazily, one batch per Next, and a
//     slow consumer must not make the server drop the result after 60 s.
var sessionSetup = []string{
	"SET time_zone = '+00:00'",
	"SET SESSION net_write_timeout = 3600",
}

// connectionID returns the server's id of the session (for KILL QUERY).
func connectionID(ctx context.Context, dc driver.Conn) (int64, error) {
	q, ok := dc.(driver.QueryerContext)
	if !ok {
		return 0, errors.New("go-sql-driver connection cannot query")
	}
	rows, err := q.QueryContext(ctx, "SELECT CONNECTION_ID()", nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return 0, err
	}
	switch v := dest[0].(type) {
	case int64:
		return v, nil
	case uint64:
		return int64(v), nil
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	}
	return 0, fmt.Errorf("CONNECTION_ID() returned %T", dest[0])
}

// killOnCancel stops the session's running statement on the server when
// ctx ends: closing the client's socket (all the driver does on cancel)
// leaves the server computing the statement to the end. The returned stop
// must be called when the session is done with.
//
// context.AfterFunc alone is not enough: the driver sees ctx's done channel
// close before ctx has run its AfterFuncs, so a statement that fails on the
// cancel can reach stop first and keep the kill from ever running. stop
// therefore kills itself when ctx has ended and the AfterFunc had not yet
// started.
func killOnCancel(ctx context.Context, cfg *gomysql.Config, id int64, log func(error)) (stop func()) {
	kill := func() {
		kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := killQuery(kctx, cfg, id); err != nil && log != nil {
			log(err)
		}
	}
	stopAfter := context.AfterFunc(ctx, kill)
	return func() {
		if stopAfter() && ctx.Err() != nil {
			kill()
		}
	}
}

// killQuery runs KILL QUERY id on a fresh connection.
func killQuery(ctx context.Context, cfg *gomysql.Config, id int64) error {
	c := cfg.Clone()
	c.Timeout = 5 * time.Second
	connector, err := gomysql.NewConnector(c)
	if err != nil {
		return err
	}
	dc, err := connector.Connect(ctx)
	if err != nil {
		return fmt.Errorf("KILL QUERY %d: connecting: %w", id, err)
	}
	defer dc.Close()
	ex, ok := dc.(driver.ExecerContext)
	if !ok {
		return errors.New("go-sql-driver connection cannot exec")
	}
	if _, err := ex.ExecContext(ctx, "KILL QUERY "+strconv.FormatInt(id, 10), nil); err != nil && mysqlErrorNumber(err) != 1094 { // 1094: the session is gone already
		return fmt.Errorf("KILL QUERY %d: %w", id, err)
	}
	return nil
}

// connect opens one driver-level connection (no database/sql pool) and
// prepares its session.
func connect(ctx context.Context, cfg *gomysql.Config) (driver.Conn, error) {
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	exec, ok := dc.(driver.ExecerContext)
	if !ok {
		dc.Close()
		return nil, errors.New("go-sql-driver connection does not implement ExecerContext")
	}
	for _, q := range sessionSetup {
		if _, err := exec.ExecContext(ctx, q, nil); err != nil {
			dc.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	return dc, nil
}

// quoteIdent quotes a MySQL identifier with backticks.
func quoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// splitTable returns (schema, table). A `schema` config wins; otherwise
// "db.table" is split at its only dot.
func splitTable(schema, table string) (string, string) {
	if schema != "" {
		return schema, table
	}
	if i := strings.IndexByte(table, '.'); i > 0 && strings.Count(table, ".") == 1 {
		return table[:i], table[i+1:]
	}
	return "", table
}

// qualified is `schema`.`table` or `table`.
func qualified(schema, table string) string {
	if schema == "" {
		return quoteIdent(table)
	}
	return quoteIdent(schema) + "." + quoteIdent(table)
}

// mysqlErrorNumber returns the server error number of err, or 0.
func mysqlErrorNumber(err error) uint16 {
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// localInfileForbidden reports whether err says the server (or the client
// library) refuses LOAD DATA LOCAL INFILE.
func localInfileForbidden(err error) bool {
	switch mysqlErrorNumber(err) {
	case 1148, // ER_NOT_ALLOWED_COMMAND (MariaDB, MySQL 5.x)
		3948, // ER_CLIENT_LOCAL_FILES_DISABLED (MySQL 8)
		3950, // ER_LOAD_INFILE_CAPABILITY_DISABLED (MySQL 8)
		4166: // ER_LOAD_INFILE_CAPABILITY_DISABLED (MariaDB)
		return true
	}
	return false
}
