package compile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// SecretsEnv is implemented by an Env that knows the workspace's secret
// values (FromWorkspace: the masker, taught by .env, the environment and
// the connections). A param value or a literal in a pipeline that holds
// one is refused: build/ is meant to be committed.
type SecretsEnv interface {
	ContainsSecret(s string) bool
}

func (v *validator) holdsSecret(s string) bool {
	se, ok := v.env.(SecretsEnv)
	return ok && s != "" && se.ContainsSecret(s)
}

const knownSecretHint = "build/ is meant to be committed: pass credentials through a connection in osiris.toml (${VAR} from the environment or .env) and reference it with @family.alias"

// ConnectionEnv is implemented by an Env that can resolve a connection
// (FromWorkspace). The validator resolves the connections its steps use
// only to run the family's component.ConnectionCheck; nothing resolved is
// written anywhere. A connection whose variables are not set is skipped:
// validate and compile work without the secrets, and run reports it.
type ConnectionEnv interface {
	ResolveConnection(ref, family string) (*workspace.Connection, error)
}

// checkConnectionSettings runs the connection family's check (a DSN that
// does not parse) for the step's connection, once per connection.
func (v *validator) checkConnectionSettings(st *stepIR, written map[string]*yEntry, cfgAt pos) {
	ce, ok := v.env.(ConnectionEnv)
	if !ok || st.connection == "" {
		return
	}
	family, _, err := workspace.ParseRef(st.connection)
	if err != nil {
		return
	}
	check := component.ConnectionCheckFor(family)
	if check == nil {
		return
	}
	if v.connChecked == nil {
		v.connChecked = map[string]bool{}
	}
	if v.connChecked[st.connection] {
		return
	}
	v.connChecked[st.connection] = true
	conn, err := ce.ResolveConnection(st.connection, family)
	var missing *workspace.MissingVarError
	if errors.As(err, &missing) {
		return
	}
	if err == nil {
		err = check(conn)
	}
	if err == nil {
		return
	}
	at := cfgAt
	if e := written["connection"]; e != nil {
		at = e.val.pos()
	}
	v.errorf(at, "bad-connection", st.label, "fix the connection in osiris.toml (or the variable it reads)", "%s", err.Error())
}

// checkInputNames refuses a step whose inputs share a name once their ids
// are turned into SQL names: a.b and a_b are both df_a_b to DuckDB (names
// are case-insensitive there, so df_A and df_a clash too).
func (v *validator) checkInputNames() {
	for _, st := range v.steps {
		if !st.idOK || st.node == nil || len(st.needs) < 2 {
			continue
		}
		s := &Step{Needs: st.needs, Inputs: st.inputs}
		seen := map[string]string{}
		reported := map[string]bool{}
		for _, n := range st.needs {
			for _, name := range InputNames(s, n) {
				key := strings.ToLower(name)
				other, dup := seen[key]
				if !dup {
					seen[key] = n
					continue
				}
				if other == n || reported[other+"\x00"+n] {
					continue
				}
				reported[other+"\x00"+n] = true
				at, ok := st.needAt[n]
				if !ok {
					at = st.node.pos()
				}
				v.errorf(at, "input-name-clash", st.label, "rename one of the steps, or give each an inputs: name and use that in the query",
					"inputs %q and %q are both named %s in SQL", other, n, name)
			}
		}
	}
}

// checkIdentifiers refuses names a database would shorten: PostgreSQL cuts
// identifiers to 63 bytes (two tables sharing their first 63 bytes land in
// one), MySQL refuses more than 64. The spec says which keys name database
// objects and the limit; "schema.table" is checked part by part.
func (v *validator) checkIdentifiers(st *stepIR, written map[string]*yEntry) {
	spec := st.spec
	if spec == nil || spec.MaxIdentifierBytes <= 0 {
		return
	}
	for _, key := range spec.IdentifierFields {
		e := written[key]
		if e == nil {
			continue
		}
		var names []string
		switch x := st.effective[key].(type) {
		case string:
			names = strings.Split(x, ".")
			if key != "table" {
				names = []string{x}
			}
		case []any:
			for _, it := range x {
				if s, ok := it.(string); ok {
					names = append(names, s)
				}
			}
		}
		for _, n := range names {
			if len(n) > spec.MaxIdentifierBytes {
				v.errorf(e.val.pos(), "identifier-too-long", st.label,
					fmt.Sprintf("use a name of at most %d bytes", spec.MaxIdentifierBytes),
					"%s.config.%s %q is %d bytes; %s allows %d (%s)", st.path, key, shorten(n), len(n),
					spec.IdentifierDialect, spec.MaxIdentifierBytes, identifierConsequence(spec.IdentifierDialect))
			}
		}
	}
}

func identifierConsequence(dialect string) string {
	if strings.Contains(strings.ToLower(dialect), "postgres") {
		return "it silently cuts longer names, so two names sharing their first bytes become one"
	}
	return "longer names are refused by the server"
}

// shorten keeps a long name readable in a message.
func shorten(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:20] + "…" + s[len(s)-12:]
}

// checkEmptyValues refuses a required name that is empty once params are
// resolved (table: ${params.t} with --param t=): the run would fail at the
// database, after upstream steps ran.
func (v *validator) checkEmptyValues(st *stepIR, written map[string]*yEntry) {
	spec := st.spec
	if spec == nil {
		return
	}
	oneOf := map[string]bool{}
	for _, g := range spec.ExactlyOneOf {
		for _, k := range g {
			oneOf[k] = true
		}
	}
	for _, f := range spec.Fields {
		e := written[f.Name]
		if e == nil || f.Type != component.TypeString || !(f.Required || oneOf[f.Name]) ||
			contains(spec.ReadsPaths, f.Name) || contains(spec.WritesPaths, f.Name) {
			continue
		}
		s, ok := st.effective[f.Name].(string)
		if !ok || strings.TrimSpace(s) != "" {
			continue
		}
		from := ""
		if raw, ok := e.val.str(); ok {
			if m := paramRef.FindStringSubmatch(raw); m != nil {
				from = fmt.Sprintf(" (${params.%s} is empty)", m[1])
			}
		}
		v.errorf(e.val.pos(), "empty-value", st.label, "give it a value", "%s.config.%s is empty%s", st.path, f.Name, from)
	}
}
