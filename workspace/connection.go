package workspace

import (
	"fmt"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/diag"
)

// ConnectionConfig is one connection as written in the workspace, values
// unexpanded. It is what compile and `connections list` see; only
// ResolveConnection turns it into values.
type ConnectionConfig struct {
	Family, Alias string
	Default       bool
	// Fields are the raw values as written (unexpanded), without "default".
	Fields map[string]any
	File   string // "osiris.toml" or "osiris_connections.yaml"
	Line   int
}

// Ref is "@family.alias".
func (c *ConnectionConfig) Ref() string { return "@" + c.Family + "." + c.Alias }

// Where is "file:line" of the connection's definition.
func (c *ConnectionConfig) Where() string { return fmt.Sprintf("%s:%d", c.File, c.Line) }

// Connection returns the connection family.alias as written.
func (w *Workspace) Connection(family, alias string) (*ConnectionConfig, bool) {
	c, ok := w.Config.Connections[family][alias]
	return c, ok
}

// DefaultConnection returns the family's connection marked default, else
// its only connection.
func (w *Workspace) DefaultConnection(family string) (*ConnectionConfig, bool) {
	aliases := w.Config.Connections[family]
	for _, c := range aliases {
		if c.Default {
			return c, true
		}
	}
	if len(aliases) == 1 {
		for _, c := range aliases {
			return c, true
		}
	}
	return nil, false
}

// ConnectionRefs returns every connection as "@family.alias", sorted.
func (w *Workspace) ConnectionRefs() []string {
	var refs []string
	for _, aliases := range w.Config.Connections {
		for _, c := range aliases {
			refs = append(refs, c.Ref())
		}
	}
	sort.Strings(refs)
	return refs
}

// ParseRef splits "@family.alias" into its parts.
func ParseRef(ref string) (family, alias string, err error) {
	body, ok := strings.CutPrefix(ref, "@")
	if ok {
		family, alias, ok = strings.Cut(body, ".")
	}
	if !ok || family == "" || alias == "" || strings.Contains(alias, ".") {
		return "", "", fmt.Errorf("connection reference %q is not of the form @family.alias", ref)
	}
	return family, alias, nil
}

// ConnectionError is a connection that cannot be used: unknown, ambiguous
// or missing a field. It is bad input, so errors.As finds a
// *diag.UsageError in it (exit 2).
type ConnectionError struct {
	Ref  string // "@family.alias", or "@family" when no alias was chosen
	Msg  string
	Hint string
}

func (e *ConnectionError) Error() string {
	s := e.Ref + ": " + e.Msg
	if strings.HasPrefix(e.Ref, "@") {
		s = "connection " + s
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// As lets errors.As(err, &usageErr) see a *diag.UsageError.
func (e *ConnectionError) As(target any) bool { return asUsage(e, target) }

// MissingVarError is a ${VAR} a connection needs but nothing sets. Also a
// usage error (errors.As finds *diag.UsageError).
type MissingVarError struct {
	Ref   string   // "@family.alias"
	Names []string // the unset variables, in order of appearance
	Field string   // first field that needs one
	Where string   // "osiris.toml:12"
}

func (e *MissingVarError) Error() string {
	vars := "variable " + e.Names[0] + " is"
	if len(e.Names) > 1 {
		vars = "variables " + strings.Join(e.Names, ", ") + " are"
	}
	what := e.Ref
	if strings.HasPrefix(what, "@") {
		what = "connection " + what
	}
	return fmt.Sprintf("%s: %s not set (needed by %q, %s); set it in the environment or in %s at the workspace root, or give a default as ${%s:-value}",
		what, vars, e.Field, e.Where, DotEnvFile, e.Names[0])
}

// As lets errors.As(err, &usageErr) see a *diag.UsageError.
func (e *MissingVarError) As(target any) bool { return asUsage(e, target) }

func asUsage(err error, target any) bool {
	if t, ok := target.(**diag.UsageError); ok {
		*t = &diag.UsageError{Err: err}
		return true
	}
	return false
}

// ResolveConnection returns the connection ref ("@family.alias"; "" means
// family's default) with ${VAR}, ${VAR:-default} and $$ expanded in every
// string field, and adds every secret value it produced to w.Masker. It is
// for run time only: compile never resolves values. A missing variable is
// a *MissingVarError naming the variable, the connection and where to set it.
func (w *Workspace) ResolveConnection(ref, family string) (*Connection, error) {
	cc, err := w.lookupConnection(ref, family)
	if err != nil {
		return nil, err
	}
	conn := &Connection{Family: cc.Family, Alias: cc.Alias, Values: make(map[string]any, len(cc.Fields)+1)}
	var (
		missing    []string
		firstField string
	)
	for _, k := range sortedFieldNames(cc.Fields) {
		v, miss := expandValue(cc.Fields[k], w.Env.Lookup)
		if len(miss) > 0 && firstField == "" {
			firstField = k
		}
		for _, m := range miss {
			if !containsString(missing, m) {
				missing = append(missing, m)
			}
		}
		conn.Values[k] = v
	}
	if len(missing) > 0 {
		return nil, &MissingVarError{Ref: cc.Ref(), Names: missing, Field: firstField, Where: cc.Where()}
	}
	if cc.Default {
		conn.Values["default"] = true
	}
	w.Masker.Add(secretValues(conn.Values)...)
	return conn, nil
}

func (w *Workspace) lookupConnection(ref, family string) (*ConnectionConfig, error) {
	if ref == "" {
		if family == "" {
			return nil, &ConnectionError{Ref: "@?", Msg: "no connection given and no family to pick a default from"}
		}
		if cc, ok := w.DefaultConnection(family); ok {
			return cc, nil
		}
		n := len(w.Config.Connections[family])
		if n == 0 {
			return nil, &ConnectionError{Ref: "@" + family, Msg: "no connection of this family is configured",
				Hint: fmt.Sprintf("add [connections.%s.<alias>] to %s", family, ConfigFileName)}
		}
		return nil, &ConnectionError{Ref: "@" + family, Msg: fmt.Sprintf("%d connections and none is the default", n),
			Hint: "name one as connection: \"@" + family + ".<alias>\" or mark one default = true"}
	}
	fam, alias, err := ParseRef(ref)
	if err != nil {
		return nil, &ConnectionError{Ref: ref, Msg: "not of the form @family.alias"}
	}
	if cc, ok := w.Connection(fam, alias); ok {
		return cc, nil
	}
	hint := "no connections are configured"
	if refs := w.ConnectionRefs(); len(refs) > 0 {
		hint = "known: " + strings.Join(refs, ", ")
	}
	return nil, &ConnectionError{Ref: ref, Msg: "not configured", Hint: hint}
}

func sortedFieldNames(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// expandValue expands variables in every string inside v (lists and
// tables included) and returns a copy; other values are kept as they are.
func expandValue(v any, lookup func(string) (string, bool)) (any, []string) {
	switch x := v.(type) {
	case string:
		return Expand(x, lookup)
	case []any:
		out := make([]any, len(x))
		var missing []string
		for i, e := range x {
			var m []string
			out[i], m = expandValue(e, lookup)
			missing = append(missing, m...)
		}
		return out, missing
	case map[string]any:
		out := make(map[string]any, len(x))
		var missing []string
		for _, k := range sortedFieldNames(x) {
			var m []string
			out[k], m = expandValue(x[k], lookup)
			missing = append(missing, m...)
		}
		return out, missing
	default:
		return v, nil
	}
}

// secretValues returns the string values in fields that are secret by key
// or carry a credential, descending into nested tables and lists.
func secretValues(fields map[string]any) []string {
	var out []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case string:
			if IsSecretKey(key) || HasCredential(x) {
				out = append(out, x)
			}
		case []any:
			for _, e := range x {
				walk(key, e)
			}
		case map[string]any:
			for k, e := range x {
				walk(k, e)
			}
		}
	}
	for k, v := range fields {
		walk(k, v)
	}
	return out
}
