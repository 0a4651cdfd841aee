package compile

import (
	"fmt"
	"math"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// checkConfig checks a step's config against its component's spec and
// computes the effective config.
func (v *validator) checkConfig(st *stepIR) {
	st.resolved = map[string]any{}
	st.effective = map[string]any{}
	cfgPath := st.path + ".config"
	family := ""
	if st.spec != nil && len(st.spec.Families) > 0 {
		family = st.spec.Families[0]
	} else if st.component != "" {
		family = component.Family(st.component)
	}
	var cfg *yNode
	cfgAt := st.node.pos()
	if ce := st.node.get("config"); ce != nil {
		cfgAt = ce.pos()
		switch ce.val.kind {
		case kindMap:
			cfg = ce.val
		case kindNull:
		default:
			v.errorf(ce.val.pos(), "bad-value", st.label, "config is a mapping of the component's keys", "config must be a mapping, not %s", ce.val.kindName())
			return
		}
	}
	if cfg != nil {
		for _, e := range cfg.entries {
			p := cfgPath + "." + e.key
			if v.credentialKey(st, e.key) && isLiteralSecret(e.val) {
				v.errorf(e.pos(), "inline-secret", st.label, secretHint(family), "inline secret at %s", p)
				continue
			}
			v.scanSecrets(e.val, p, st.label, family)
		}
	}
	written := map[string]*yEntry{} // keys present with a non-null value
	// suggested are keys a misspelt key points at: "qurey" already says
	// "did you mean query", so a missing query is not reported again.
	suggested := map[string]bool{}
	if cfg != nil {
		for i := range cfg.entries {
			e := &cfg.entries[i]
			keyPath := cfgPath + "." + e.key
			if v.credentialKey(st, e.key) && isLiteralSecret(e.val) {
				continue // inline-secret reported above; the key is not looked at further
			}
			val := v.resolveValue(st, e.val, keyPath)
			if val == nil {
				continue // null means unset: the default applies
			}
			written[e.key] = e
			st.resolved[e.key] = val
			if st.spec == nil {
				continue
			}
			field, ok := st.spec.Field(e.key)
			if !ok {
				hint := ""
				if s := suggest(e.key, fieldNames(st.spec)); s != "" {
					suggested[s] = true
					hint = `did you mean "` + s + `"?`
				}
				v.errorf(e.pos(), "unknown-config-key", st.label, hint, "%s has no config key %q", st.component, e.key)
				continue
			}
			if v.unresolvedParam(val) {
				// A param without a usable value was reported where it is
				// declared or given; its ${params.X} text is not the value.
				continue
			}
			if norm, ok := v.checkField(st, field, val, e, keyPath); ok {
				st.effective[e.key] = norm
			}
		}
	}
	if st.spec == nil {
		return
	}
	spec := st.spec
	for _, f := range spec.Fields {
		if f.Required && written[f.Name] == nil && !suggested[f.Name] {
			v.errorf(cfgAt, "missing-config-key", st.label, fmt.Sprintf("add %s: to config", f.Name), "%s needs config key %q", st.component, f.Name)
		}
	}
	for _, group := range spec.ExactlyOneOf {
		var set []string
		typo := false
		for _, k := range group {
			if written[k] != nil {
				set = append(set, k)
			}
			typo = typo || suggested[k]
		}
		switch {
		case len(set) == 0 && !typo:
			v.errorf(cfgAt, "exactly-one-of", st.label, "add one of them", "%s needs one of %s", st.component, strings.Join(group, ", "))
		case len(set) > 1:
			v.errorf(written[set[1]].pos(), "exactly-one-of", st.label, "keep only one of them",
				"%s takes only one of %s; both %s are set", st.component, strings.Join(group, ", "), strings.Join(set, " and "))
		}
	}
	v.resolveConnection(st, written, cfgAt)
	for _, f := range spec.Fields {
		if _, has := st.effective[f.Name]; !has && written[f.Name] == nil && f.Default != nil {
			st.effective[f.Name] = normalizeDefault(f.Default)
		}
	}
	if spec.CheckConfig != nil {
		if key, err := spec.CheckConfig(st.effective); err != nil {
			at := cfgAt
			if e := written[key]; e != nil {
				at = e.val.pos()
			}
			v.errorf(at, "config-value", st.label, "osiris components show "+st.component+" describes the keys", "%s: %v", cfgPath, err)
		}
	}
	if len(spec.PrimaryKeyFor) > 0 {
		if wm, ok := st.effective["write_mode"].(string); ok && contains(spec.PrimaryKeyFor, wm) {
			if pk, _ := st.effective["primary_key"].([]any); len(pk) == 0 && written["primary_key"] == nil && !suggested["primary_key"] {
				at := cfgAt
				if e := written["write_mode"]; e != nil {
					at = e.val.pos()
				}
				v.errorf(at, "primary-key-required", st.label, "add primary_key: [column, ...]", "write_mode %q needs primary_key", wm)
			}
		}
	}
	v.checkStepPaths(st, written, cfgAt)
	v.checkIdentifiers(st, written)
	v.checkEmptyValues(st, written)
	v.checkConnectionSettings(st, written, cfgAt)
}

// credentialKey reports whether a top-level config key holds a credential,
// so a literal under it is an inline secret rather than an unknown key.
// Without a known component every secret-named key counts. With one, a key
// of its schema counts when it is marked Secret or named like a secret; a
// key it does not have counts only when it names a credential outright
// (password, api_key, db_password, token …) — a name that merely ends in
// "key" (invalid_key, lookup_key) is reported as an unknown key with a
// "did you mean", as a typo it most likely is.
func (v *validator) credentialKey(st *stepIR, key string) bool {
	if !workspace.IsSecretKey(key) {
		if st.spec != nil {
			f, ok := st.spec.Field(key)
			return ok && f.Secret
		}
		return false
	}
	if st.spec == nil {
		return true
	}
	if _, ok := st.spec.Field(key); ok {
		return true
	}
	n := snakeName(key)
	if n == "key" || !strings.HasSuffix(n, "_key") {
		return true
	}
	for _, c := range credentialKeyNames {
		if n == c || strings.HasSuffix(n, "_"+c) {
			return true
		}
	}
	return false
}

// credentialKeyNames are the secret names ending in "key" that name a
// credential by themselves.
var credentialKeyNames = []string{"api_key", "apikey", "secret_key", "private_key", "service_role_key", "anon_key", "access_key"}

// snakeName lower-cases name, turning camelCase humps, '-', '.' and spaces
// into '_' (apiKey → api_key), as workspace.IsSecretKey compares names.
func snakeName(name string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range strings.TrimSpace(name) {
		switch {
		case r == '-' || r == '.' || r == ' ':
			b.WriteByte('_')
			prevLower = false
		case r >= 'A' && r <= 'Z':
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(r + ('a' - 'A'))
			prevLower = false
		default:
			b.WriteRune(r)
			prevLower = r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		}
	}
	return b.String()
}

// escapesWorkspace reports whether a relative path climbs out of the root.
// Absolute paths are taken as written; symlinks are checked at run time.
func escapesWorkspace(p string) bool {
	if filepath.IsAbs(p) || path.IsAbs(p) {
		return false
	}
	clean := path.Clean(strings.ReplaceAll(p, `\`, "/"))
	return clean == ".." || strings.HasPrefix(clean, "../")
}

func fieldNames(s *component.Spec) []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// normalizeDefault turns Go literals of specs into the types values read
// from YAML have, so a default and the same value written out hash alike.
func normalizeDefault(d any) any {
	switch x := d.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return d
}

// resolveConnection checks `connection` or fills the family's default.
func (v *validator) resolveConnection(st *stepIR, written map[string]*yEntry, cfgAt pos) {
	spec := st.spec
	if ref, ok := st.effective["connection"].(string); ok {
		m := connectionRef.FindStringSubmatch(ref)
		family, alias := m[1], m[2]
		at := written["connection"].val.pos()
		if !spec.AcceptsFamily(family) {
			hint := fmt.Sprintf("osiris.toml defines no %s connection", strings.Join(spec.Families, " or "))
			if known := v.connectionsOf(spec.Families...); len(known) > 0 {
				hint = "use one of " + strings.Join(known, ", ")
			}
			v.errorf(at, "connection-family", st.label, hint,
				"%s cannot use %s: it takes %s connections", st.component, ref, strings.Join(spec.Families, " or "))
			return
		}
		if !v.env.HasConnection(family, alias) {
			known := v.connectionsOf(family)
			hint := fmt.Sprintf("osiris.toml defines no %s connection; add [connections.%s.%s]", family, family, alias)
			if len(known) > 0 {
				hint = "osiris.toml defines " + strings.Join(known, ", ")
				if s := suggest(ref, known); s != "" {
					hint = fmt.Sprintf("did you mean %q? %s", s, hint)
				}
			}
			v.errorf(at, "unknown-connection", st.label, hint, "connection %s is not defined in osiris.toml", ref)
			return
		}
		st.connection = ref
		return
	}
	if written["connection"] != nil || len(spec.Families) == 0 {
		return // a bad reference was reported by checkField
	}
	for _, family := range spec.Families {
		if alias, ok := v.env.DefaultConnection(family); ok {
			st.connection = "@" + family + "." + alias
			st.effective["connection"] = st.connection
			return
		}
	}
	if spec.ConnectionRequired {
		f := spec.Families[0]
		v.errorf(cfgAt, "missing-config-key", st.label,
			fmt.Sprintf("write connection: \"@%s.<alias>\", or set default = true in one [connections.%s.<alias>]", f, f),
			"%s needs a connection and osiris.toml has no default %s connection", st.component, f)
	}
}

// connectionsOf lists the defined "@family.alias" refs of the families.
func (v *validator) connectionsOf(families ...string) []string {
	var out []string
	for _, r := range v.env.ConnectionRefs() {
		for _, f := range families {
			if strings.HasPrefix(r, "@"+f+".") {
				out = append(out, r)
			}
		}
	}
	return out
}

// checkField checks one value against its schema entry and returns the
// value as it goes into the effective config.
func (v *validator) checkField(st *stepIR, f component.Field, val any, e *yEntry, keyPath string) (any, bool) {
	at := e.val.pos()
	typeErr := func(want, hint string) (any, bool) {
		v.errorf(at, "config-type", st.label, hint, "%s must be %s, not %s", keyPath, want, describeKind(val))
		return nil, false
	}
	switch f.Type {
	case component.TypeString:
		if _, ok := val.(string); !ok {
			return typeErr("a string", scalarQuoteHint(val))
		}
	case component.TypeInteger:
		switch val.(type) {
		case int64, uint64:
		default:
			return typeErr("an integer", numberHint(val))
		}
	case component.TypeNumber:
		if _, ok := toFloat(val); !ok {
			return typeErr("a number", numberHint(val))
		}
	case component.TypeBoolean:
		if _, ok := val.(bool); !ok {
			return typeErr("a boolean", "write true or false")
		}
	case component.TypeStringList:
		switch x := val.(type) {
		case string:
			val = []any{x}
		case []any:
			for i, it := range x {
				if _, ok := it.(string); !ok {
					v.errorf(at, "config-type", st.label, scalarQuoteHint(it), "%s[%d] must be a string, not %s", keyPath, i, describeKind(it))
					return nil, false
				}
			}
		default:
			return typeErr("a string or a list of strings", "")
		}
	case component.TypeMap:
		if _, ok := val.(map[string]any); !ok {
			return typeErr("a mapping", "")
		}
	case component.TypeConnection:
		s, ok := val.(string)
		if !ok || !connectionRef.MatchString(s) {
			hint := `write connection: "@family.alias", for example "@mysql.db_movies"`
			if ok && !strings.HasPrefix(s, "@") && connectionRef.MatchString("@"+s) {
				hint = fmt.Sprintf("did you mean %q?", "@"+s)
			}
			v.errorf(at, "bad-connection-ref", st.label, hint, "%s must be a reference \"@family.alias\", not %s", keyPath, describeValue(val))
			return nil, false
		}
	case component.TypeDuration:
		s, ok := val.(string)
		if !ok {
			return typeErr("a duration", `write a duration such as "10m"`)
		}
		if _, err := parseDuration(s); err != nil {
			v.errorf(at, "config-type", st.label, `write a duration such as "10m"`, "%s %q is not a duration", keyPath, s)
			return nil, false
		}
	}
	if len(f.Enum) > 0 {
		s := fmt.Sprint(val)
		if !contains(f.Enum, s) {
			v.errorf(at, "config-enum", st.label, didYouMean(s, f.Enum), "%s %s is not one of %s", keyPath, describeValue(val), strings.Join(f.Enum, ", "))
			return nil, false
		}
	}
	if f.Check != nil {
		if err := f.Check(val); err != nil {
			v.errorf(at, "config-value", st.label, "osiris components show "+st.component+" describes the key", "%s: %v", keyPath, err)
			return nil, false
		}
	}
	if x, ok := toFloat(val); ok {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false // reported by scanSecrets as bad-value
		}
		if f.Min != nil && x < *f.Min {
			v.errorf(at, "config-range", st.label, "", "%s is %v; the minimum is %v", keyPath, val, *f.Min)
			return nil, false
		}
		if f.Max != nil && x > *f.Max {
			v.errorf(at, "config-range", st.label, "", "%s is %v; the maximum is %v", keyPath, val, *f.Max)
			return nil, false
		}
	}
	return val, true
}

func describeKind(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case int64, uint64, float64, bool:
		return fmt.Sprintf("%s %v", valueKindName(v), x)
	}
	return valueKindName(v)
}

func scalarQuoteHint(v any) string {
	switch v.(type) {
	case int64, uint64, float64, bool:
		return "quote it"
	}
	return ""
}

func numberHint(v any) string {
	if _, ok := v.(string); ok {
		return "write a number without quotes"
	}
	return ""
}

// sortedKeys returns a map's keys in order.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
