package workspace

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Connection helpers for drivers. Errors name the connection and the
// fields involved, never their values: a DSN holds the password.

func (c *Connection) fail(msg, hint string) error {
	return &ConnectionError{Ref: c.Ref(), Msg: msg, Hint: hint}
}

// firstSet returns the first of keys with a non-empty value, and its key.
func (c *Connection) firstSet(keys ...string) (string, string) {
	for _, k := range keys {
		if v := c.Get(k); v != "" {
			return v, k
		}
	}
	return "", ""
}

// port returns the "port" field as text, or def when unset.
func (c *Connection) port(def string) (string, error) {
	p := c.Get("port")
	if p == "" {
		return def, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", c.fail("port is not a number from 1 to 65535", "")
	}
	return strconv.Itoa(n), nil
}

// params returns the "params" (or "options") table as text values.
func (c *Connection) params() (map[string]string, error) {
	raw, ok := c.Values["params"]
	if !ok {
		raw, ok = c.Values["options"]
	}
	if !ok || raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, c.fail("params must be a table of name = value", "")
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fmtAny(v)
	}
	return out, nil
}

// MySQLDSN returns a go-sql-driver/mysql DSN: `dsn` (or `url`) as given
// (a mysql:// URL is converted), else built from host (default 127.0.0.1),
// port (3306), database, user, password, socket and a `params` table of
// driver parameters.
func (c *Connection) MySQLDSN() (string, error) {
	if v, key := c.firstSet("dsn", "url"); v != "" {
		if strings.HasPrefix(v, "mysql://") || strings.HasPrefix(v, "mariadb://") {
			return c.mysqlFromURL(key, v)
		}
		if strings.Contains(v, "://") {
			return "", c.fail(key+" is a URL that is not mysql://", "write a mysql:// URL or a user:password@tcp(host:port)/db DSN")
		}
		if _, err := mysql.ParseDSN(v); err != nil {
			return "", c.fail(key+" is not a valid MySQL DSN", "write it as user:password@tcp(host:port)/database")
		}
		return v, nil
	}
	user := c.Get("user")
	if user == "" {
		user = c.Get("username")
	}
	if user == "" {
		return "", c.fail("no user", "add user (and password, database) or a dsn")
	}
	params, err := c.params()
	if err != nil {
		return "", err
	}
	cfg, err := mysqlParams(params)
	if err != nil {
		return "", c.fail("params: "+err.Error(), "see github.com/go-sql-driver/mysql#parameters")
	}
	cfg.User = user
	cfg.Passwd = c.Get("password")
	cfg.DBName = c.Get("database")
	if cfg.DBName == "" {
		cfg.DBName = c.Get("db")
	}
	if sock := c.Get("socket"); sock != "" {
		cfg.Net, cfg.Addr = "unix", sock
	} else {
		port, err := c.port("3306")
		if err != nil {
			return "", err
		}
		host := c.Get("host")
		if host == "" {
			host = "127.0.0.1"
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, port)
	}
	return cfg.FormatDSN(), nil
}

// mysqlParams parses driver parameters through the driver itself, so known
// ones (parseTime, tls, …) land in their fields and the rest in Params.
func mysqlParams(params map[string]string) (*mysql.Config, error) {
	if len(params) == 0 {
		return mysql.NewConfig(), nil
	}
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	return mysql.ParseDSN("/?" + q.Encode())
}

func (c *Connection) mysqlFromURL(key, v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "", c.fail(key+" is not a valid mysql:// URL", "write mysql://user:password@host:3306/database")
	}
	params := map[string]string{}
	for k, vs := range u.Query() {
		if len(vs) > 0 {
			params[k] = vs[len(vs)-1]
		}
	}
	cfg, err := mysqlParams(params)
	if err != nil {
		return "", c.fail(key+": URL parameters: "+err.Error(), "")
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	return cfg.FormatDSN(), nil
}

// supabaseHint says where Supabase shows what osiris needs; Osiris-Python
// entries often carry only the REST url and key.
const supabaseHint = "Supabase shows the database connection string under Project Settings → Database → " +
	"Connection string (use the session pooler or direct URI); add it to the connection as pg_dsn (or dsn)"

// PostgresConnString returns a pgx connection string: `dsn`, `pg_dsn`,
// `connection_string` or a postgres:// `url` as given, else a postgres://
// URL built from host, port (5432), database, user, password, sslmode and a
// `params` table. A Supabase entry with only the REST `url` and `key` is an
// error saying where to find the database connection string.
func (c *Connection) PostgresConnString() (string, error) {
	if v, _ := c.firstSet("dsn", "pg_dsn", "connection_string"); v != "" {
		return v, nil
	}
	u := c.Get("url")
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		return u, nil
	}
	host := c.Get("host")
	if host == "" {
		if u != "" || c.Get("key") != "" {
			return "", c.fail("has only a REST url/key, not a database connection", supabaseHint)
		}
		return "", c.fail("no dsn and no host", "add dsn (or pg_dsn), or host, database, user and password")
	}
	port, err := c.port("5432")
	if err != nil {
		return "", err
	}
	out := url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, port)}
	user := c.Get("user")
	if user == "" {
		user = c.Get("username")
	}
	if pw := c.Get("password"); pw != "" {
		out.User = url.UserPassword(user, pw)
	} else if user != "" {
		out.User = url.User(user)
	}
	db := c.Get("database")
	if db == "" {
		db = c.Get("dbname")
	}
	if db != "" {
		out.Path = "/" + db
	}
	params, err := c.params()
	if err != nil {
		return "", err
	}
	q := url.Values{}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q.Set(k, params[k])
	}
	if s := c.Get("sslmode"); s != "" {
		q.Set("sslmode", s)
	}
	out.RawQuery = q.Encode()
	return out.String(), nil
}

// Path is the "path" value of a duckdb connection, as given.
func (c *Connection) Path() string { return c.Get("path") }

// BaseDir is the "base_dir" value of a filesystem connection, as given.
func (c *Connection) BaseDir() string { return c.Get("base_dir") }

// String describes the connection for humans without any value.
func (c *Connection) String() string { return fmt.Sprintf("connection %s", c.Ref()) }
