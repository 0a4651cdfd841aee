package compile

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/osiris-go/osiris/workspace"
)

// paramDecl is one entry of `params:`.
type paramDecl struct {
	name   string
	at     pos
	typ    string // string, integer, number, boolean
	def    any
	hasDef bool
	defAt  pos
	defOK  bool // the default passed its own checks
	enum   []any
	min    *float64
	max    *float64
}

// paramTypeNames maps accepted spellings to the canonical type; int and
// bool are what Osiris-Python pipelines write.
var paramTypeNames = map[string]string{
	"string": "string", "str": "string",
	"integer": "integer", "int": "integer",
	"number": "number", "float": "number",
	"boolean": "boolean", "bool": "boolean",
}

var paramDeclKeys = []string{"type", "default", "enum", "min", "max", "description", "required"}

// checkParams reads declarations, profiles, --param and OSIRIS_PARAM_*,
// and computes the effective values.
func (v *validator) checkParams() {
	v.params = map[string]*paramDecl{}
	v.paramValues = map[string]any{}
	if pe := v.root.get("params"); pe != nil && pe.val.kind != kindNull {
		if pe.val.kind != kindMap {
			v.errorf(pe.val.pos(), "bad-param", "", "write params: {name: {type: integer, default: 1}}", "params must be a mapping, not %s", pe.val.kindName())
		} else {
			for i := range pe.val.entries {
				v.declareParam(&pe.val.entries[i])
			}
		}
	}
	profileParams := v.checkProfiles()

	// --param names must be declared: a typo would otherwise be silent.
	cli := make([]string, 0, len(v.opts.Params))
	for name := range v.opts.Params {
		cli = append(cli, name)
	}
	sort.Strings(cli)
	for _, name := range cli {
		if _, ok := v.params[name]; !ok {
			v.errorf(pos{}, "unknown-param", "", didYouMean(name, v.paramOrder), "--param %s: the pipeline declares no param %q", name, name)
		}
	}

	var missing []*paramDecl
	for _, name := range v.paramOrder {
		d := v.params[name]
		val, src, at, ok := v.paramValue(d, profileParams)
		if !ok {
			if src == "" {
				missing = append(missing, d)
			}
			continue
		}
		if src == "default" {
			if !d.defOK {
				continue // reported where the default is declared
			}
		} else if !v.checkParamConstraints(d, val, src, at) {
			continue
		}
		if workspace.IsSecretKey(name) {
			v.errorf(d.at, "inline-secret", "", "params are compiled into build/; "+secretHint(""), "param %q is named like a secret", name)
			continue
		}
		if s, ok := val.(string); ok && workspace.HasCredential(s) {
			v.errorf(at, "inline-secret", "", "params are compiled into build/; "+secretHint(""), "param %q holds a credential (a URL or DSN with a password)", name)
			continue
		}
		if v.holdsSecret(formatParam(val)) {
			v.errorf(at, "inline-secret", "", knownSecretHint, "param %q (%s) holds the value of a secret this workspace knows (a password, token or DSN from the environment, .env or a connection); params are compiled into build/", name, src)
			continue
		}
		v.paramValues[name] = val
	}
	if len(missing) > 0 {
		names := make([]string, len(missing))
		for i, d := range missing {
			names[i] = d.name
		}
		v.errorf(missing[0].at, "param-missing", "", fmt.Sprintf("pass --param %s=..., set OSIRIS_PARAM_%s, or give a default or a profile value", names[0], strings.ToUpper(names[0])),
			"params without a value: %s", strings.Join(names, ", "))
	}
}

func (v *validator) declareParam(e *yEntry) {
	if !paramNamePattern.MatchString(e.key) {
		v.errorf(e.pos(), "bad-param", "", "param names are letters, digits and _, not starting with a digit", "param name %q is not valid", e.key)
		return
	}
	d := &paramDecl{name: e.key, at: e.pos()}
	switch e.val.kind {
	case kindNull:
	case kindScalar, kindSeq:
		// Shorthand `name: value` declares a default.
		d.def, d.hasDef, d.defAt = e.val.plain(), true, e.val.pos()
	case kindMap:
		for _, k := range e.val.entries {
			switch k.key {
			case "type":
				t, _ := k.val.str()
				canon, ok := paramTypeNames[t]
				if !ok {
					v.errorf(k.val.pos(), "bad-param", "", "types are string, integer, number, boolean", "param %q has unknown type %s", e.key, describeValue(k.val.plain()))
					return
				}
				d.typ = canon
			case "default":
				if k.val.kind != kindNull {
					d.def, d.hasDef, d.defAt = k.val.plain(), true, k.val.pos()
				}
			case "enum":
				if k.val.kind != kindSeq {
					v.errorf(k.val.pos(), "bad-param", "", "write enum: [a, b]", "param %q: enum must be a list", e.key)
					return
				}
				for _, it := range k.val.items {
					d.enum = append(d.enum, it.plain())
				}
			case "min", "max":
				f, ok := toFloat(k.val.plain())
				if !ok {
					v.errorf(k.val.pos(), "bad-param", "", "", "param %q: %s must be a number", e.key, k.key)
					return
				}
				if k.key == "min" {
					d.min = &f
				} else {
					d.max = &f
				}
			case "description", "required":
			default:
				v.warnf(k.pos(), "unknown-param-key", "", didYouMean(k.key, paramDeclKeys), "param %q: unknown key %q is ignored", e.key, k.key)
			}
		}
	default:
		return
	}
	if d.typ == "" {
		d.typ = inferParamType(d.def)
	}
	v.params[d.name] = d
	v.paramOrder = append(v.paramOrder, d.name)
	if d.hasDef {
		d.defOK = v.checkParamConstraints(d, d.def, "default", d.defAt)
	}
}

func inferParamType(def any) string {
	switch def.(type) {
	case int64, uint64:
		return "integer"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "string"
}

// checkProfiles checks every profile's params and returns the active one's.
func (v *validator) checkProfiles() map[string]*yNode {
	active := map[string]*yNode{}
	pe := v.root.get("profiles")
	if pe == nil || pe.val.kind == kindNull {
		return active
	}
	if pe.val.kind != kindMap {
		v.errorf(pe.val.pos(), "bad-param", "", "write profiles: {prod: {params: {...}}}", "profiles must be a mapping, not %s", pe.val.kindName())
		return active
	}
	for _, prof := range pe.val.entries {
		if prof.val.kind == kindNull {
			continue
		}
		if prof.val.kind != kindMap {
			v.errorf(prof.val.pos(), "bad-param", "", "write profiles: {prod: {params: {...}}}", "profile %q must be a mapping, not %s", prof.key, prof.val.kindName())
			continue
		}
		for _, k := range prof.val.entries {
			if k.key != "params" {
				v.warnf(k.pos(), "unknown-top-level-key", "", "profiles hold params only", "profile %q: unknown key %q is ignored", prof.key, k.key)
				continue
			}
			if k.val.kind == kindNull {
				continue
			}
			if k.val.kind != kindMap {
				v.errorf(k.val.pos(), "bad-param", "", "", "profiles.%s.params must be a mapping, not %s", prof.key, k.val.kindName())
				continue
			}
			for _, pv := range k.val.entries {
				d, ok := v.params[pv.key]
				if !ok {
					v.errorf(pv.pos(), "unknown-param", "", didYouMean(pv.key, v.paramOrder), "profile %q sets param %q, which the pipeline does not declare", prof.key, pv.key)
					continue
				}
				if prof.key == v.profile {
					active[pv.key] = pv.val
				} else if pv.val.kind != kindNull {
					v.checkParamConstraints(d, pv.val.plain(), "profile "+prof.key, pv.val.pos())
				}
			}
		}
	}
	return active
}

// paramValue returns the effective value: --param, then OSIRIS_PARAM_NAME,
// then the active profile, then the default. ok is false when there is no
// usable value; src is "" when there is none at all.
func (v *validator) paramValue(d *paramDecl, profile map[string]*yNode) (val any, src string, at pos, ok bool) {
	if s, set := v.opts.Params[d.name]; set {
		val, err := parseParamText(d.typ, s)
		if err != nil {
			v.errorf(d.at, "param-type", "", "", "--param %s: %v", d.name, err)
			return nil, "--param", d.at, false
		}
		return val, "--param", d.at, true
	}
	for _, name := range envNames(d.name) {
		if s, set := v.env.LookupEnv(name); set {
			val, err := parseParamText(d.typ, s)
			if err != nil {
				v.errorf(d.at, "param-type", "", "", "%s: %v", name, err)
				return nil, name, d.at, false
			}
			return val, name, d.at, true
		}
	}
	if n, set := profile[d.name]; set && n.kind != kindNull {
		return n.plain(), "profile " + v.profile, n.pos(), true
	}
	if d.hasDef {
		return d.def, "default", d.defAt, true
	}
	return nil, "", d.at, false
}

func envNames(name string) []string {
	exact := "OSIRIS_PARAM_" + name
	upper := "OSIRIS_PARAM_" + strings.ToUpper(name)
	if exact == upper {
		return []string{exact}
	}
	return []string{exact, upper}
}

// parseParamText converts a command-line or environment value to the type.
func parseParamText(typ, s string) (any, error) {
	switch typ {
	case "integer":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	case "number":
		t := strings.TrimSpace(s)
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case "boolean":
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean (true or false)", s)
		}
		return b, nil
	}
	return s, nil
}

// checkParamConstraints checks a value against the declared type, enum,
// min and max, reporting at `at`.
func (v *validator) checkParamConstraints(d *paramDecl, val any, src string, at pos) bool {
	ok := true
	switch d.typ {
	case "integer":
		switch x := val.(type) {
		case int64, uint64:
		case float64:
			ok = false
			v.errorf(at, "param-type", "", "", "param %q (%s) is %v; the param is an integer", d.name, src, x)
		default:
			ok = false
			v.errorf(at, "param-type", "", quoteHint(val), "param %q (%s) is %s; the param is an integer", d.name, src, valueKindName(val))
		}
	case "number":
		if _, isNum := toFloat(val); !isNum {
			ok = false
			v.errorf(at, "param-type", "", "", "param %q (%s) is %s; the param is a number", d.name, src, valueKindName(val))
		}
	case "boolean":
		if _, isBool := val.(bool); !isBool {
			ok = false
			v.errorf(at, "param-type", "", "write true or false", "param %q (%s) is %s; the param is a boolean", d.name, src, valueKindName(val))
		}
	case "string":
		if _, isStr := val.(string); !isStr {
			ok = false
			v.errorf(at, "param-type", "", "quote it", "param %q (%s) is %s; the param is a string", d.name, src, valueKindName(val))
		}
	}
	if !ok {
		return false
	}
	if len(d.enum) > 0 {
		found := false
		var names []string
		for _, e := range d.enum {
			names = append(names, fmt.Sprint(e))
			if valuesEqual(e, val) {
				found = true
			}
		}
		if !found {
			v.errorf(at, "param-enum", "", didYouMean(fmt.Sprint(val), names), "param %q (%s) is %s; allowed: %s", d.name, src, describeValue(val), strings.Join(names, ", "))
			return false
		}
	}
	if f, isNum := toFloat(val); isNum {
		if d.min != nil && f < *d.min {
			v.errorf(at, "param-range", "", "", "param %q (%s) is %v; the minimum is %v", d.name, src, val, *d.min)
			return false
		}
		if d.max != nil && f > *d.max {
			v.errorf(at, "param-range", "", "", "param %q (%s) is %v; the maximum is %v", d.name, src, val, *d.max)
			return false
		}
	}
	return true
}

func quoteHint(val any) string {
	if _, ok := val.(string); ok {
		return "write the number without quotes"
	}
	return ""
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func valuesEqual(a, b any) bool {
	fa, okA := toFloat(a)
	fb, okB := toFloat(b)
	if okA && okB {
		return fa == fb
	}
	return reflect.DeepEqual(a, b)
}

// resolveValue returns n as a plain value with ${params.NAME} resolved in
// every string, reporting unknown params and unexpanded ${ENV} placeholders.
func (v *validator) resolveValue(st *stepIR, n *yNode, path string) any {
	switch n.kind {
	case kindScalar:
		s, ok := n.value.(string)
		if !ok {
			return n.value
		}
		return v.resolveString(st, s, n.pos(), path)
	case kindMap:
		m := make(map[string]any, len(n.entries))
		for _, e := range n.entries {
			m[e.key] = v.resolveValue(st, e.val, path+"."+e.key)
		}
		return m
	case kindSeq:
		out := make([]any, len(n.items))
		for i, it := range n.items {
			out[i] = v.resolveValue(st, it, fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	}
	return nil
}

func (v *validator) resolveString(st *stepIR, s string, at pos, path string) any {
	if !strings.Contains(s, "${") {
		return s
	}
	label := ""
	if st != nil {
		label = st.label
	}
	for _, m := range anyPlaceholder.FindAllString(s, -1) {
		if !paramRef.MatchString(m) {
			v.warnf(at, "env-placeholder", label, "${VAR} belongs in connection values in osiris.toml; reference the connection with @family.alias",
				"%s at %s is not expanded in a pipeline", m, path)
			break
		}
	}
	refs := paramRef.FindAllStringSubmatchIndex(s, -1)
	if len(refs) == 0 {
		return s
	}
	resolvable := true
	for _, r := range refs {
		name := s[r[2]:r[3]]
		if _, declared := v.params[name]; !declared {
			v.errorf(at, "unknown-param", label, didYouMean(name, v.paramOrder), "${params.%s} at %s: the pipeline declares no param %q", name, path, name)
			resolvable = false
		} else if _, has := v.paramValues[name]; !has {
			resolvable = false // reported as param-missing or a bad value
		}
	}
	if !resolvable {
		return s
	}
	// A placeholder that is the whole value keeps the param's type.
	if len(refs) == 1 && refs[0][0] == 0 && refs[0][1] == len(s) {
		return v.paramValues[s[refs[0][2]:refs[0][3]]]
	}
	var b strings.Builder
	last := 0
	for _, r := range refs {
		b.WriteString(s[last:r[0]])
		b.WriteString(formatParam(v.paramValues[s[r[2]:r[3]]]))
		last = r[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// unresolvedParam reports whether val still holds a ${params.X} that has
// no value (undeclared, missing, or refused): resolveString leaves such
// text in place.
func (v *validator) unresolvedParam(val any) bool {
	switch x := val.(type) {
	case string:
		for _, m := range paramRef.FindAllStringSubmatch(x, -1) {
			if _, ok := v.paramValues[m[1]]; !ok {
				return true
			}
		}
	case map[string]any:
		for _, it := range x {
			if v.unresolvedParam(it) {
				return true
			}
		}
	case []any:
		for _, it := range x {
			if v.unresolvedParam(it) {
				return true
			}
		}
	}
	return false
}

// formatParam renders a param inside a longer string.
func formatParam(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		if math.Abs(x) < 1e21 {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func parseDuration(s string) (time.Duration, error) {
	return time.ParseDuration(strings.TrimSpace(s))
}
