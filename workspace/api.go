package workspace

// This file fixes the API the rest of osiris uses. The implementation lives in
// the other files of the package.

// Connection is a connection resolved for use at run time: ${VAR} expanded,
// values typed as in osiris.toml. It lives in memory only; never write it out
// unmasked.
type Connection struct {
	Family string
	Alias  string
	// Values are the fields after expansion (strings, int64, bool, ...).
	Values map[string]any
}

// Get returns a field as text ("" when unset).
func (c *Connection) Get(key string) string {
	if c == nil {
		return ""
	}
	switch v := c.Values[key].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmtAny(v)
	}
}

// Ref is the connection's reference as written in pipelines: "@family.alias".
func (c *Connection) Ref() string { return "@" + c.Family + "." + c.Alias }
