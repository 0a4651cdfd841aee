package workspace

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/osiris-go/osiris/pkg/diag"
)

// ConnectionsYAMLFile is Osiris-Python's connections file, read when
// osiris.toml has no [connections].
const ConnectionsYAMLFile = "osiris_connections.yaml"

// Limits for osiris_connections.yaml: it lists a few connections; anything
// bigger or alias-heavy is a mistake or an attack ("billion laughs").
const (
	maxConnectionsYAMLBytes = 1 << 20
	maxConnectionsYAMLAlias = 100
)

// loadConnectionsYAML reads the Osiris-Python file:
//
//	version: 1            # optional
//	connections:
//	  <family>:
//	    <alias>: {field: value, ..., default: true}
//
// Problems come back as diagnostics; err is for I/O failures only.
func loadConnectionsYAML(path, name string) (map[string]map[string]*ConnectionConfig, diag.List, error) {
	var diags diag.List
	report := func(sev diag.Severity, code string, line, col int, hint, format string, args ...any) {
		diags = append(diags, diag.Diagnostic{File: name, Line: line, Col: col, Severity: sev, Code: code,
			Message: fmt.Sprintf(format, args...), Hint: hint})
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	if fi.Size() > maxConnectionsYAMLBytes {
		report(diag.Error, "connections-file", 0, 0, "keep only connections in it",
			"file is %d bytes, more than the %d allowed", fi.Size(), maxConnectionsYAMLBytes)
		return nil, diags, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		line, col := 1, 1
		msg := err.Error()
		var ye yaml.Error
		if errors.As(err, &ye) {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				line, col = tk.Position.Line, tk.Position.Column
			}
		}
		report(diag.Error, "connections-file", line, col, "fix the YAML syntax", "not valid YAML: %s", msg)
		return nil, diags, nil
	}
	aliases := 0
	ast.Walk(visitFunc(func(n ast.Node) {
		if n.Type() == ast.AliasType {
			aliases++
		}
	}), docBody(file))
	if aliases > maxConnectionsYAMLAlias {
		report(diag.Error, "connections-file", 1, 1, "write the values out", "%d YAML aliases, more than the %d allowed", aliases, maxConnectionsYAMLAlias)
		return nil, diags, nil
	}
	var raw any
	if err := yaml.UnmarshalWithOptions(data, &raw, yaml.UseOrderedMap()); err != nil {
		line, col := 1, 1
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
			line, col = ye.GetToken().Position.Line, ye.GetToken().Position.Column
		}
		report(diag.Error, "connections-file", line, col, "fix the YAML", "cannot read: %s", err.Error())
		return nil, diags, nil
	}
	pos := yamlKeyPositions(docBody(file))
	at := func(path ...string) (int, int) {
		for n := len(path); n > 0; n-- {
			if p, ok := pos[pathKey(path[:n]...)]; ok {
				return p.Line, p.Col
			}
		}
		return 1, 1
	}
	out := map[string]map[string]*ConnectionConfig{}
	if raw == nil {
		return out, diags, nil // empty file
	}
	top, ok := raw.(yaml.MapSlice)
	if !ok {
		report(diag.Error, "connections-file", 1, 1, "start the file with `connections:`", "top level must be a mapping")
		return out, diags, nil
	}
	for _, item := range top {
		key := fmt.Sprint(item.Key)
		switch key {
		case "version":
		case "connections":
			families, ok := item.Value.(yaml.MapSlice)
			if !ok {
				if item.Value != nil {
					l, c := at("connections")
					report(diag.Error, "connections-file", l, c, "list families under it: mysql:, supabase:, …", "connections must be a mapping of families")
				}
				continue
			}
			for _, fam := range families {
				family := fmt.Sprint(fam.Key)
				fl, fc := at("connections", family)
				entries, ok := fam.Value.(yaml.MapSlice)
				if !ok || !nameRE.MatchString(family) {
					report(diag.Error, "connections-file", fl, fc, "write <family>: {<alias>: {fields}}",
						"connections.%s must be a mapping of aliases with a valid family name", family)
					continue
				}
				if msg, hint := checkConnectionFamily(family); msg != "" {
					report(diag.Error, "unknown-connection-family", fl, fc, hint, "%s", msg)
					continue
				}
				conns := map[string]*ConnectionConfig{}
				for _, ent := range entries {
					alias := fmt.Sprint(ent.Key)
					al, ac := at("connections", family, alias)
					fields, ok := ent.Value.(yaml.MapSlice)
					if !ok || !nameRE.MatchString(alias) {
						report(diag.Error, "connections-file", al, ac, "write <alias>: {field: value, …}",
							"connections.%s.%s must be a mapping of fields with a valid alias name", family, alias)
						continue
					}
					cc := &ConnectionConfig{Family: family, Alias: alias, Fields: map[string]any{}, File: name, Line: al}
					for _, f := range fields {
						k := fmt.Sprint(f.Key)
						if k == "default" {
							b, ok := f.Value.(bool)
							if !ok {
								l, c := at("connections", family, alias, k)
								report(diag.Error, "config-type", l, c, "write true or false",
									"connections.%s.%s.default must be a boolean", family, alias)
							}
							cc.Default = b
							continue
						}
						if msg, hint := checkConnectionKey(family, k, true); msg != "" {
							l, c := at("connections", family, alias, k)
							report(diag.Error, "unknown-config-key", l, c, hint, "connections.%s.%s.%s: %s", family, alias, k, msg)
							continue
						}
						cc.Fields[k] = normalizeYAML(f.Value)
					}
					conns[alias] = cc
				}
				var defaults []*ConnectionConfig
				for _, cc := range conns {
					if cc.Default {
						defaults = append(defaults, cc)
					}
				}
				sort.Slice(defaults, func(i, j int) bool { return defaults[i].Line < defaults[j].Line })
				for _, cc := range defaults[min(1, len(defaults)):] {
					l, c := at("connections", family, cc.Alias, "default")
					report(diag.Error, "duplicate-default", l, c, "keep default: true on one connection of the family",
						"family %q has more than one default connection: %s (line %d) and %s", family, defaults[0].Ref(), defaults[0].Line, cc.Ref())
				}
				out[family] = conns
			}
		default:
			l, c := at(key)
			report(diag.Warning, "connections-file", l, c, "osiris reads only version and connections", "key %q is ignored", key)
		}
	}
	return out, diags, nil
}

type visitFunc func(ast.Node)

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	f(n)
	return f
}

func docBody(f *ast.File) ast.Node {
	if f == nil || len(f.Docs) == 0 || f.Docs[0] == nil {
		return nil
	}
	return f.Docs[0].Body
}

// yamlKeyPositions maps key paths of nested mappings to their positions.
func yamlKeyPositions(root ast.Node) map[string]keyPos {
	pos := map[string]keyPos{}
	var walk func(n ast.Node, path []string)
	walk = func(n ast.Node, path []string) {
		var values []*ast.MappingValueNode
		switch m := n.(type) {
		case *ast.MappingNode:
			values = m.Values
		case *ast.MappingValueNode:
			values = []*ast.MappingValueNode{m}
		case *ast.TagNode:
			walk(m.Value, path)
			return
		case *ast.AnchorNode:
			walk(m.Value, path)
			return
		default:
			return
		}
		for _, mv := range values {
			if mv == nil || mv.Key == nil {
				continue
			}
			key := mv.Key.GetToken().Value
			if s, ok := mv.Key.(*ast.StringNode); ok {
				key = s.Value
			}
			p := append(path[:len(path):len(path)], key)
			if tk := mv.Key.GetToken(); tk != nil && tk.Position != nil {
				if _, seen := pos[pathKey(p...)]; !seen {
					pos[pathKey(p...)] = keyPos{Line: tk.Position.Line, Col: tk.Position.Column}
				}
			}
			walk(mv.Value, p)
		}
	}
	if root != nil {
		walk(root, nil)
	}
	return pos
}

// normalizeYAML makes decoded YAML values look like decoded TOML ones
// (int64, float64, map[string]any, []any) so drivers see one set of types.
func normalizeYAML(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint64:
		if x <= 1<<63-1 {
			return int64(x)
		}
		return float64(x)
	case uint32:
		return int64(x)
	case uint:
		return int64(x)
	case float32:
		return float64(x)
	case yaml.MapSlice:
		m := make(map[string]any, len(x))
		for _, it := range x {
			m[fmt.Sprint(it.Key)] = normalizeYAML(it.Value)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalizeYAML(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeYAML(e)
		}
		return out
	default:
		return v
	}
}
