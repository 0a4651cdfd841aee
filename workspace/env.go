package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/diag"
)

// DotEnvFile is the name of the optional variables file at the workspace root.
const DotEnvFile = ".env"

// Env is the variables ${VAR} expands from: the process environment, then
// the workspace's .env for names the environment does not set.
type Env struct {
	process map[string]string
	dotenv  map[string]string
	dotLine map[string]int // name → line in .env, for messages
}

// LoadEnv reads root/.env (when present) on top of environ ("NAME=value"
// entries, as from os.Environ). A variable set in environ is never
// overridden by .env. Syntax errors come back as a diag.List, all at once.
func LoadEnv(root string, environ []string) (*Env, error) {
	e := &Env{process: map[string]string{}, dotenv: map[string]string{}, dotLine: map[string]int{}}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		e.process[name] = value
	}
	data, err := os.ReadFile(filepath.Join(root, DotEnvFile))
	if errors.Is(err, fs.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", DotEnvFile, err)
	}
	vars, diags := parseDotEnv(string(data))
	if err := diags.Err(); err != nil {
		return nil, err
	}
	for _, v := range vars {
		e.dotenv[v.name] = v.value
		e.dotLine[v.name] = v.line
	}
	return e, nil
}

// Lookup returns the value of name: the environment's, else .env's.
func (e *Env) Lookup(name string) (string, bool) {
	if e == nil {
		return "", false
	}
	if v, ok := e.process[name]; ok {
		return v, true
	}
	v, ok := e.dotenv[name]
	return v, ok
}

// Source says where name's value comes from: "environment", ".env:LINE",
// or "" when it is not set.
func (e *Env) Source(name string) string {
	if e == nil {
		return ""
	}
	if _, ok := e.process[name]; ok {
		return "environment"
	}
	if l, ok := e.dotLine[name]; ok {
		return fmt.Sprintf("%s:%d", DotEnvFile, l)
	}
	return ""
}

// Names returns every variable name known, sorted.
func (e *Env) Names() []string {
	if e == nil {
		return nil
	}
	seen := make(map[string]struct{}, len(e.process)+len(e.dotenv))
	for n := range e.process {
		seen[n] = struct{}{}
	}
	for n := range e.dotenv {
		seen[n] = struct{}{}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type dotEnvVar struct {
	name, value string
	line        int
}

// parseDotEnv parses .env text: NAME=value, export NAME=value, 'literal',
// "double with \n escapes" (may span lines), # comments (a '#' after
// whitespace starts a comment in an unquoted value). A later line for the
// same name wins, as in shells.
func parseDotEnv(text string) ([]dotEnvVar, diag.List) {
	var (
		vars  []dotEnvVar
		diags diag.List
	)
	bad := func(line, col int, msg, hint string) {
		diags = append(diags, diag.Diagnostic{File: DotEnvFile, Line: line, Col: col, Severity: diag.Error,
			Code: "env-syntax", Message: msg, Hint: hint})
	}
	text = strings.TrimPrefix(strings.ReplaceAll(text, "\r\n", "\n"), "\ufeff")
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		raw := lines[i]
		s := strings.TrimLeft(raw, " \t")
		indent := len(raw) - len(s)
		if s == "" || s[0] == '#' {
			continue
		}
		if rest, ok := strings.CutPrefix(s, "export "); ok {
			trimmed := strings.TrimLeft(rest, " \t")
			indent += len(s) - len(trimmed)
			s = trimmed
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			// The line is not echoed: it may be a pasted secret.
			bad(lineNo, indent+1, "line has no '='", "write NAME=value")
			continue
		}
		name := strings.TrimRight(s[:eq], " \t")
		if !validVarName(name) {
			bad(lineNo, indent+1, fmt.Sprintf("invalid variable name %q", name),
				"names are letters, digits and _, not starting with a digit")
			continue
		}
		val := strings.TrimLeft(s[eq+1:], " \t")
		valCol := len(raw) - len(val) + 1
		var value string
		switch {
		case val == "":
		case val[0] == '\'':
			end := strings.IndexByte(val[1:], '\'')
			if end < 0 {
				bad(lineNo, valCol, fmt.Sprintf("%s: unterminated single quote", name), "close the quote on the same line")
				continue
			}
			value = val[1 : 1+end]
			if !onlyComment(val[2+end:]) {
				bad(lineNo, valCol, fmt.Sprintf("%s: text after the closing quote", name), "quote the whole value")
				continue
			}
		case val[0] == '"':
			// A double-quoted value may continue over the next lines
			// (PEM keys); collect until the closing quote.
			body := val[1:]
			startLine := lineNo
			var b strings.Builder
			closed := false
			for {
				j := 0
				for ; j < len(body); j++ {
					c := body[j]
					if c == '\\' && j+1 < len(body) {
						j++
						switch body[j] {
						case 'n':
							b.WriteByte('\n')
						case 't':
							b.WriteByte('\t')
						case 'r':
							b.WriteByte('\r')
						default: // \" \\ \$ and anything else: the character itself
							b.WriteByte(body[j])
						}
						continue
					}
					if c == '"' {
						closed = true
						break
					}
					b.WriteByte(c)
				}
				if closed {
					if !onlyComment(body[j+1:]) {
						bad(i+1, 1, fmt.Sprintf("%s: text after the closing quote", name), "quote the whole value")
					}
					break
				}
				if i+1 >= len(lines) {
					break
				}
				b.WriteByte('\n')
				i++
				body = lines[i]
			}
			if !closed {
				bad(startLine, valCol, fmt.Sprintf("%s: unterminated double quote", name), "close the quote")
				continue
			}
			value = b.String()
		default:
			value = val
			if k := strings.Index(value, " #"); k >= 0 {
				value = value[:k]
			} else if k := strings.Index(value, "\t#"); k >= 0 {
				value = value[:k]
			}
			value = strings.TrimRight(value, " \t")
		}
		vars = append(vars, dotEnvVar{name: name, value: value, line: lineNo})
	}
	return vars, diags
}

func onlyComment(s string) bool {
	s = strings.TrimLeft(s, " \t")
	return s == "" || s[0] == '#'
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Expand replaces ${NAME} and ${NAME:-default} (default when NAME is unset
// or empty) using lookup, and $$ with a literal $. Anything else after a $
// is kept as written. It returns the expanded text and the names that were
// needed but unset (no default), each once, in order of appearance.
func Expand(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var (
		b       strings.Builder
		missing []string
	)
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			b.WriteByte(c)
			continue
		}
		inner := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(inner, ":-")
		if !validVarName(name) {
			b.WriteByte(c) // not ours (e.g. a literal "${ }" in SQL); keep as written
			continue
		}
		v, ok := lookup(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			if !containsString(missing, name) {
				missing = append(missing, name)
			}
		}
		i += 2 + end
	}
	return b.String(), missing
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
