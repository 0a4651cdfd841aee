package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/workspace"
)

// connString is the libpq connection string of a resolved connection
// (dsn | pg_dsn | postgres:// url | host, port, database, user, password,
// sslmode), as workspace builds it for every PostgreSQL-family consumer; a
// Supabase connection with only a REST url/key fails there with a hint.
func connString(conn *workspace.Connection) (string, error) {
	if conn == nil {
		return "", errors.New("no connection resolved for this step")
	}
	return conn.PostgresConnString()
}

// redactor removes secrets from error text. pgx errors may echo parts of
// the connection string; the engine masks by value as well, but a driver
// should not rely on that.
type redactor struct{ secrets []string }

func newRedactor(secrets ...string) *redactor {
	r := &redactor{}
	for _, s := range secrets {
		if len(s) >= 3 { // masking 1–2 character strings would shred messages
			r.secrets = append(r.secrets, s)
		}
	}
	return r
}

// redactedError keeps the original error for errors.Is/As (context
// cancellation, *pgconn.PgError) while printing the masked text.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func (r *redactor) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range r.secrets {
		if strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "***")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// connect opens one connection for a step. The returned redactor knows the
// connection's secrets.
func connect(ctx context.Context, conn *workspace.Connection) (*pgx.Conn, *redactor, error) {
	cs, err := connString(conn)
	if err != nil {
		return nil, newRedactor(), err
	}
	red := newRedactor(cs, conn.Get("password"))
	cfg, err := pgx.ParseConfig(cs)
	if err != nil {
		// ParseConfig errors quote the string, whose password redaction is
		// best effort; a static message cannot leak it.
		return nil, red, fmt.Errorf("connection %s: cannot parse the PostgreSQL connection settings (dsn/url or host, port, database, user, sslmode)", conn.Ref())
	}
	red.secrets = append(red.secrets, newRedactor(cfg.Password).secrets...)
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "osiris"
	}
	// The unnamed statement works through transaction poolers (Supabase's
	// pgbouncer/supavisor) where cached prepared statements do not.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, red, fmt.Errorf("connection %s: %w", conn.Ref(), red.redact(err))
	}
	return c, red, nil
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// qualified returns "schema"."table".
func qualified(schema, table string) string {
	if schema == "" {
		schema = "public"
	}
	return quoteIdent(schema) + "." + quoteIdent(table)
}
