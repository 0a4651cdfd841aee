package workspace

import (
	"fmt"
	"sort"
	"strings"
)

// connectionKeys are the fields osiris reads, per connection family: the
// ones MySQLDSN and PostgresConnString look at, a DuckDB connection's path
// and a filesystem connection's base_dir. "default" is read by the loader
// itself. Every family a component names (spec.Families) is here; a test of
// pkg/compile keeps the two in step.
var connectionKeys = map[string][]string{
	"mysql":      {"dsn", "url", "host", "port", "user", "username", "password", "database", "db", "socket", "params", "options"},
	"postgres":   {"dsn", "pg_dsn", "connection_string", "url", "host", "port", "user", "username", "password", "database", "dbname", "sslmode", "params", "options"},
	"supabase":   {"dsn", "pg_dsn", "connection_string", "url", "key", "host", "port", "user", "username", "password", "database", "dbname", "sslmode", "params", "options"},
	"duckdb":     {"path"},
	"filesystem": {"base_dir"},
}

// pythonConnectionKeys are fields Osiris-Python's connection files carry
// that osiris does not read (its connection schemas in
// osiris/core/validation.py, its MySQL and Supabase clients and its
// connection reference docs). They are accepted in osiris_connections.yaml,
// which users bring over unchanged. Most change nothing: they tuned Python
// clients (pools, timeouts, charset) or its REST access to Supabase. DuckDB's
// memory and read_only are honoured by the duckdb family (an in-memory
// database; no writer). In osiris.toml they are unknown keys like any other.
var pythonConnectionKeys = map[string][]string{
	"":         {"alias", "type"}, // every family
	"mysql":    {"charset", "connect_timeout", "read_timeout", "write_timeout", "pool_size", "max_overflow", "pool_recycle", "echo"},
	"supabase": {"schema", "service_role_key", "anon_key", "project_id", "timeout", "retries"},
	"duckdb":   {"read_only", "memory"},
}

// ConnectionFamilies returns the connection families osiris knows, sorted.
func ConnectionFamilies() []string {
	out := make([]string, 0, len(connectionKeys))
	for f := range connectionKeys {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// ConnectionKeys returns the fields osiris reads for family (nil for an
// unknown family).
func ConnectionKeys(family string) []string {
	return append([]string(nil), connectionKeys[family]...)
}

// checkConnectionKey says what is wrong with field key of a family's
// connection, or "" when osiris (or, with python, Osiris-Python) knows it.
func checkConnectionKey(family, key string, python bool) (msg, hint string) {
	known := connectionKeys[family]
	if containsString(known, key) {
		return "", ""
	}
	if python && (containsString(pythonConnectionKeys[""], key) || containsString(pythonConnectionKeys[family], key)) {
		return "", ""
	}
	all := append(append([]string(nil), known...), "default")
	if python {
		all = append(append(all, pythonConnectionKeys[""]...), pythonConnectionKeys[family]...)
	}
	msg = fmt.Sprintf("a %s connection has no field %q", family, key)
	if s := suggest(key, all); s != "" {
		return msg, fmt.Sprintf("did you mean %q?", s)
	}
	if !python && (containsString(pythonConnectionKeys[""], key) || containsString(pythonConnectionKeys[family], key)) {
		hint := "remove it"
		if family == "duckdb" && key == "memory" {
			hint = `write path = ":memory:" for an in-memory database`
		}
		return msg + " (a field of Osiris-Python's osiris_connections.yaml, not of osiris.toml)", hint
	}
	sort.Strings(all)
	return msg, "its fields: " + strings.Join(all, ", ")
}

// checkConnectionFamily says what is wrong with a family name, or "".
func checkConnectionFamily(family string) (msg, hint string) {
	if _, ok := connectionKeys[family]; ok {
		return "", ""
	}
	msg = fmt.Sprintf("unknown connection family %q", family)
	if s := suggest(family, ConnectionFamilies()); s != "" {
		return msg, fmt.Sprintf("did you mean %q?", s)
	}
	return msg, "osiris connects to " + strings.Join(ConnectionFamilies(), ", ")
}
