package compile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// manifest.yaml is written by this small emitter rather than a YAML
// library's Marshal: the output must be byte-stable across library
// versions, and must read back to exactly the same values (a generic
// marshaller writes 1e+21 unquoted, which reads back as a string).
// Strings are plain only when nothing can misread them, multi-line SQL
// becomes a literal block, everything else is a JSON-style double-quoted
// string (valid YAML).

// orderedMap keeps struct field order in the output.
type orderedMap []kv

type kv struct {
	k string
	v any
}

var (
	plainString = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_./-]*$`)
	yamlWords   = map[string]bool{"true": true, "false": true, "null": true, "yes": true, "no": true,
		"on": true, "off": true, "y": true, "n": true, "nan": true, "inf": true}
)

func marshalManifestYAML(m *Manifest) []byte {
	var w bytes.Buffer
	w.WriteString("# Compiled by osiris; do not edit: manifest_hash covers this content.\n")
	emitMap(&w, 0, manifestDoc(m))
	return w.Bytes()
}

func manifestDoc(m *Manifest) orderedMap {
	pipeline := orderedMap{{"name", m.Pipeline.Name}, {"slug", m.Pipeline.Slug}, {"file", m.Pipeline.File}}
	if m.Pipeline.Description != "" {
		pipeline = append(pipeline, kv{"description", m.Pipeline.Description})
	}
	if len(m.Pipeline.Metadata) > 0 {
		pipeline = append(pipeline, kv{"metadata", m.Pipeline.Metadata})
	}
	steps := make([]any, len(m.Steps))
	for i, s := range m.Steps {
		needs := make([]any, len(s.Needs))
		for j, n := range s.Needs {
			needs[j] = n
		}
		step := orderedMap{{"id", s.ID}, {"component", s.Component}, {"mode", s.Mode}, {"needs", needs}}
		if s.ImplicitNeeds {
			step = append(step, kv{"implicit_needs", true})
		}
		if len(s.Inputs) > 0 {
			inputs := make([]any, len(s.Inputs))
			for j, in := range s.Inputs {
				inputs[j] = orderedMap{{"name", in.Name}, {"step", in.Step}}
			}
			step = append(step, kv{"inputs", inputs})
		}
		if s.Connection != "" {
			step = append(step, kv{"connection", s.Connection})
		}
		cfg := s.Config
		if cfg == nil {
			cfg = map[string]any{}
		}
		step = append(step, kv{"config", cfg}, kv{"cache", s.Cache})
		if s.Timeout != "" {
			step = append(step, kv{"timeout", s.Timeout})
		}
		step = append(step, kv{"cfg_path", s.CfgPath}, kv{"step_fp", s.Fingerprint})
		steps[i] = step
	}
	stepFp := map[string]any{}
	for k, v := range m.Fingerprints.StepFp {
		stepFp[k] = v
	}
	params := m.Params
	if params == nil {
		params = map[string]any{}
	}
	doc := orderedMap{
		{"manifest_format", m.Format},
		{"pipeline", pipeline},
		{"profile", m.Profile},
		{"params", params},
		{"steps", steps},
		{"fingerprints", orderedMap{
			{"oml_fp", m.Fingerprints.OMLFp},
			{"params_fp", m.Fingerprints.ParamsFp},
			{"registry_fp", m.Fingerprints.RegistryFp},
			{"compiler_fp", m.Fingerprints.CompilerFp},
			{"step_fp", stepFp},
		}},
	}
	if m.ManifestHash != "" {
		doc = append(doc, kv{"manifest_hash", m.ManifestHash})
	}
	return doc
}

func toOrdered(v any) (orderedMap, bool) {
	switch x := v.(type) {
	case orderedMap:
		return x, true
	case map[string]any:
		keys := sortedKeys(x)
		om := make(orderedMap, len(keys))
		for i, k := range keys {
			om[i] = kv{k, x[k]}
		}
		return om, true
	}
	return nil, false
}

func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

func emitMap(w *bytes.Buffer, indent int, m orderedMap) {
	for _, e := range m {
		w.WriteString(strings.Repeat(" ", indent))
		w.WriteString(yamlKey(e.k))
		w.WriteByte(':')
		emitValueAfterKey(w, indent, e.v)
	}
}

// emitValueAfterKey writes what follows "key:" (a space and a scalar, or a
// newline and a nested block).
func emitValueAfterKey(w *bytes.Buffer, indent int, v any) {
	if om, ok := toOrdered(v); ok {
		if len(om) == 0 {
			w.WriteString(" {}\n")
			return
		}
		w.WriteByte('\n')
		emitMap(w, indent+2, om)
		return
	}
	if list, ok := asList(v); ok {
		if len(list) == 0 {
			w.WriteString(" []\n")
			return
		}
		w.WriteByte('\n')
		emitList(w, indent+2, list)
		return
	}
	w.WriteByte(' ')
	emitScalar(w, indent+2, v)
}

func emitList(w *bytes.Buffer, indent int, list []any) {
	pad := strings.Repeat(" ", indent)
	for _, it := range list {
		w.WriteString(pad)
		w.WriteByte('-')
		if om, ok := toOrdered(it); ok && len(om) > 0 {
			// "- first: v" then the other keys aligned under "first".
			w.WriteByte(' ')
			w.WriteString(yamlKey(om[0].k))
			w.WriteByte(':')
			emitValueAfterKey(w, indent+2, om[0].v)
			emitMap(w, indent+2, om[1:])
			continue
		}
		if inner, ok := asList(it); ok && len(inner) > 0 {
			w.WriteByte('\n')
			emitList(w, indent+2, inner)
			continue
		}
		emitValueAfterKey(w, indent, it)
	}
}

func yamlKey(k string) string {
	if plainString.MatchString(k) && !yamlWords[strings.ToLower(k)] {
		return k
	}
	return quoteYAML(k)
}

// emitScalar writes a scalar and its newline; blockIndent is the
// indentation of a literal block's lines.
func emitScalar(w *bytes.Buffer, blockIndent int, v any) {
	switch x := v.(type) {
	case nil:
		w.WriteString("null\n")
	case bool:
		w.WriteString(strconv.FormatBool(x) + "\n")
	case int:
		w.WriteString(strconv.Itoa(x) + "\n")
	case int64:
		w.WriteString(strconv.FormatInt(x, 10) + "\n")
	case uint64:
		w.WriteString(strconv.FormatUint(x, 10) + "\n")
	case float64:
		w.WriteString(formatFloatYAML(x) + "\n")
	case json.Number:
		w.WriteString(x.String() + "\n")
	case string:
		switch {
		case plainString.MatchString(x) && !yamlWords[strings.ToLower(x)]:
			w.WriteString(x + "\n")
		case literalBlockSafe(x):
			pad := strings.Repeat(" ", blockIndent)
			body := x
			if strings.HasSuffix(x, "\n") {
				w.WriteString("|\n")
				body = strings.TrimSuffix(x, "\n")
			} else {
				w.WriteString("|-\n")
			}
			for _, line := range strings.Split(body, "\n") {
				if line != "" {
					w.WriteString(pad + line)
				}
				w.WriteByte('\n')
			}
		default:
			w.WriteString(quoteYAML(x) + "\n")
		}
	default:
		w.WriteString(quoteYAML(fmt.Sprint(x)) + "\n")
	}
}

// formatFloatYAML always writes a '.' so the value reads back as a float.
func formatFloatYAML(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if strings.ContainsAny(s, ".nN") { // has a point, or is NaN/Inf (rejected earlier)
		return s
	}
	if i := strings.IndexByte(s, 'e'); i >= 0 {
		return s[:i] + ".0" + s[i:]
	}
	return s + ".0"
}

// literalBlockSafe: a multi-line string that a `|` block reproduces exactly.
func literalBlockSafe(s string) bool {
	if !strings.Contains(s, "\n") || strings.HasSuffix(s, "\n\n") || s == "\n" {
		return false
	}
	if strings.HasPrefix(s, " ") || strings.HasPrefix(s, "\n") {
		return false // would need an indentation indicator
	}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if strings.HasSuffix(line, " ") {
			return false
		}
		for _, r := range line {
			if r == '\t' || r == '\r' || !unicode.IsPrint(r) && r != ' ' {
				return false
			}
			if r == '\uFEFF' {
				return false
			}
		}
	}
	return true
}

// quoteYAML writes a double-quoted YAML scalar using only escapes that
// JSON and YAML share, plus \U for characters outside the BMP that are
// not printable.
func quoteYAML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f || (!unicode.IsPrint(r) && r != ' ') || r == '\uFEFF':
			if r > 0xFFFF {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
