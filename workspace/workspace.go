package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/osiris-go/osiris/pkg/diag"
)

// Workspace is a loaded workspace: its root, validated config, variables
// and the masker that knows its secrets.
type Workspace struct {
	Root       string // absolute
	ConfigFile string // absolute path of osiris.toml
	Config     Config
	Env        *Env // process environment + .env (process env wins)
	Files      *Files
	// Masker is pre-loaded with every secret known at load: variables whose
	// name is secret or whose value holds a credential, and connection
	// fields that are secret after expanding what can be expanded.
	Masker *Masker
	// ConnectionsFile is where Config.Connections came from:
	// "osiris.toml", "osiris_connections.yaml", or "" when there are none.
	ConnectionsFile string
	// Warnings are problems that do not stop loading (e.g. an ignored
	// osiris_connections.yaml).
	Warnings diag.List
}

// Load reads and validates root/osiris.toml and root/.env with the
// process environment. Invalid input comes back as a diag.List holding
// every problem found, each with file:line:col and a code.
func Load(root string) (*Workspace, error) {
	return LoadWithEnv(root, os.Environ())
}

// LoadWithEnv is Load with the variables taken from environ ("NAME=value")
// instead of the process environment, for tests and the sandbox worker.
func LoadWithEnv(root string, environ []string) (*Workspace, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("load workspace %s: %w", root, err)
	}
	configFile := filepath.Join(abs, ConfigFileName)
	data, err := os.ReadFile(configFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &diag.UsageError{Err: &noWorkspaceError{dir: abs}}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", configFile, err)
	}
	cfg, hasConnections, diags := parseConfig(ConfigFileName, string(data))
	w := &Workspace{Root: abs, ConfigFile: configFile, Config: cfg, Masker: NewMasker()}
	if len(cfg.Connections) > 0 {
		w.ConnectionsFile = ConfigFileName
	}

	yamlPath := filepath.Join(abs, ConnectionsYAMLFile)
	if _, err := os.Stat(yamlPath); err == nil {
		if hasConnections {
			w.Warnings = append(w.Warnings, diag.Diagnostic{File: ConnectionsYAMLFile, Severity: diag.Warning,
				Code: "connections-file", Message: ConnectionsYAMLFile + " is ignored because " + ConfigFileName + " has [connections]",
				Hint: "keep connections in one place"})
		} else {
			conns, ydiags, err := loadConnectionsYAML(yamlPath, ConnectionsYAMLFile)
			if err != nil {
				return nil, err
			}
			for _, d := range ydiags {
				if d.Severity == diag.Warning {
					w.Warnings = append(w.Warnings, d)
				} else {
					diags = append(diags, d)
				}
			}
			w.Config.Connections = conns
			if len(conns) > 0 {
				w.ConnectionsFile = ConnectionsYAMLFile
			}
		}
	}

	env, err := LoadEnv(abs, environ)
	if err != nil {
		var envDiags diag.List
		if !errors.As(err, &envDiags) {
			return nil, err
		}
		diags = append(diags, envDiags...)
	}
	if err := diags.Err(); err != nil {
		diags.Sort()
		return nil, diags
	}
	w.Env = env
	if diags := checkPathsLayout(abs, w.Config.Paths, string(data)); len(diags) > 0 {
		diags.Sort()
		return nil, diags
	}
	if w.Files, err = NewFilesWithPaths(abs, w.Config.Paths); err != nil {
		return nil, err
	}
	if diags := w.checkPathSymlinks(string(data)); len(diags) > 0 {
		diags.Sort()
		return nil, diags
	}
	w.preloadSecrets()
	return w, nil
}

// preloadSecrets teaches the masker every secret known before any
// connection is resolved, so that even a message printed during load or
// compile cannot show one.
func (w *Workspace) preloadSecrets() {
	for _, name := range w.Env.Names() {
		v, _ := w.Env.Lookup(name)
		if shellPathVars[name] {
			continue
		}
		if IsSecretKey(name) || HasCredential(v) {
			w.Masker.Add(v)
		}
	}
	for _, aliases := range w.Config.Connections {
		for _, cc := range aliases {
			vals := make(map[string]any, len(cc.Fields))
			for k, v := range cc.Fields {
				// Missing variables are ignored here; they are reported
				// when the connection is resolved.
				vals[k], _ = expandValue(v, w.Env.Lookup)
			}
			w.Masker.Add(secretValues(vals)...)
		}
	}
}

// shellPathVars end in a secret word ("pwd") but hold the current
// directory; masking them would hide every path in every message.
var shellPathVars = map[string]bool{"PWD": true, "OLDPWD": true}

// checkPathSymlinks refuses a relative [paths] value that leads out of
// the workspace through a symlink (dangling or not): relative means inside.
func (w *Workspace) checkPathSymlinks(text string) diag.List {
	var out diag.List
	pos := tomlKeyPositions(text)
	p := w.Config.Paths
	for _, kv := range []struct{ key, val string }{
		{"pipelines", p.Pipelines}, {"build", p.Build}, {"run_logs", p.RunLogs}, {"state", p.State},
	} {
		if kv.val == "" || filepath.IsAbs(kv.val) {
			continue
		}
		real, err := realPath(w.Path(kv.val))
		reason := ""
		switch {
		case err != nil:
			reason = "cannot be resolved: " + err.Error()
		case !within(real, w.Files.realRoot()):
			reason = "leads out of the workspace through a symlink (to " + real + ")"
		default:
			continue
		}
		at, ok := pos[pathKey("paths", kv.key)]
		if !ok {
			at = keyPos{Line: 1, Col: 1}
		}
		out = append(out, diag.Diagnostic{File: ConfigFileName, Line: at.Line, Col: at.Col, Severity: diag.Error, Code: "config-path",
			Message: fmt.Sprintf("paths.%s %q %s", kv.key, kv.val, reason),
			Hint:    "write the absolute path to put it outside the workspace on purpose"})
	}
	return out
}

// Path returns the absolute path of a Paths value (or any workspace-relative
// path); an absolute path is returned as is.
func (w *Workspace) Path(rel string) string {
	if filepath.IsAbs(rel) {
		return filepath.Clean(rel)
	}
	return filepath.Join(w.Root, filepath.FromSlash(rel))
}
