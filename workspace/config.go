package workspace

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/osiris-go/osiris/pkg/diag"
)

// Defaults of osiris.toml (01-workspace-cli.md).
const (
	DefaultProfile             = "dev"
	DefaultMemoryBudget        = "512MiB"
	DefaultParquetCompression  = "zstd"
	DefaultMaxParallelSteps    = 2
	DefaultBatchRows           = 65536
	DefaultRunLogsDays         = 14
	DefaultKeepRunsPerPipeline = 100
	DefaultDebounce            = "300ms"
)

// MaxParallelSteps bounds [run].max_parallel_steps. Every running step may
// hold a database connection (a MySQL extract, a Postgres COPY), and
// servers refuse connections beyond a limit (MariaDB's default
// max_connections is 151): 100000 parallel steps made every step fail with
// "Too many connections". A larger value is refused at load, not capped
// silently.
const MaxParallelSteps = 64

// ParquetCompressions are the accepted run.parquet_compression values.
var ParquetCompressions = []string{"zstd", "snappy", "gzip", "none"}

// RemoteKinds are the accepted remote.<name>.kind values.
var RemoteKinds = []string{"local", "docker", "ssh"}

// remoteCommonKeys are the keys every sandbox kind takes.
var remoteCommonKeys = []string{"kind", "pass_env", "default", "keep_runs", "max_store"}

// Sandbox store bounds when [remote.x] sets none: a sandbox stays under a
// few GB (its store, plus one run's tree while it runs).
const (
	DefaultRemoteMaxStore = "2GiB"
	DefaultRemoteKeepRuns = 3
)

// remoteKindKeys are the keys each sandbox kind accepts besides
// remoteCommonKeys: a key of another kind is
// an error naming the kind it belongs to, not silently ignored.
var remoteKindKeys = map[string][]string{
	"local":  {"dir", "network"},
	"docker": {"image", "volume", "network", "docker_host", "binary"},
	"ssh":    {"host", "port", "user", "identity", "ssh_options", "dir", "binary"},
}

// Config is osiris.toml after validation, defaults filled in.
type Config struct {
	Project   ProjectConfig
	Paths     PathsConfig
	Run       RunConfig
	Retention RetentionConfig
	Watch     WatchConfig
	// Connections: family → alias. From osiris.toml's [connections], or
	// from osiris_connections.yaml when osiris.toml has none.
	Connections map[string]map[string]*ConnectionConfig
	// Remote: sandbox name → its config.
	Remote map[string]*RemoteConfig
}

// ProjectConfig is [project].
type ProjectConfig struct {
	Name    string // required
	Profile string // default "dev"; --profile overrides
}

// PathsConfig is [paths]; values are relative to the workspace root (see
// Workspace.Path).
type PathsConfig struct {
	Pipelines string
	Build     string
	RunLogs   string
	State     string
}

// RunConfig is [run].
type RunConfig struct {
	MemoryBudget       string // as written; see MemoryBudgetBytes
	ParquetCompression string
	MaxParallelSteps   int
	BatchRows          int
	// Streaming lets a consumer start on its upstream's batches while the
	// upstream still runs (default true; false runs each step after its
	// inputs completed).
	Streaming bool
}

// RetentionConfig is [retention].
type RetentionConfig struct {
	RunLogsDays         int
	KeepRunsPerPipeline int
}

// WatchConfig is [watch].
type WatchConfig struct {
	Debounce string // Go duration
	Poll     string // "" = file notifications; else a Go duration to poll at
	Retry    string // "" = never; else a Go duration after which a failed pipeline reruns
}

// DebounceDuration returns Debounce parsed (validated at load).
func (w WatchConfig) DebounceDuration() time.Duration {
	d, err := time.ParseDuration(w.Debounce)
	if err != nil {
		d, _ = time.ParseDuration(DefaultDebounce)
	}
	return d
}

// RetryInterval returns Retry parsed; 0 means a failed pipeline waits for a
// change.
func (w WatchConfig) RetryInterval() time.Duration {
	if w.Retry == "" {
		return 0
	}
	d, _ := time.ParseDuration(w.Retry)
	return d
}

// PollInterval returns Poll parsed; 0 means use file notifications.
func (w WatchConfig) PollInterval() time.Duration {
	if w.Poll == "" {
		return 0
	}
	d, _ := time.ParseDuration(w.Poll)
	return d
}

// RemoteConfig is one [remote.<name>] sandbox. String values may hold
// ${VAR}; ResolveRemote expands them.
type RemoteConfig struct {
	Name string
	Kind string // "local" | "docker" | "ssh"
	// ssh: Host ("machine" or "user@machine"), Port (0 = ssh's default),
	// User, Identity (a private key file), SSHOptions (extra arguments
	// for ssh, e.g. ["-o", "ProxyJump=bastion"]).
	Host       string
	Port       int
	User       string
	Identity   string
	SSHOptions []string
	// Dir is the sandbox directory (local, ssh).
	Dir string
	// Binary is the osiris executable to provision instead of this one
	// (another OS/arch).
	Binary string
	// docker: Image to run, Volume (a named volume, or an absolute path on
	// the Docker host) holding the sandbox store, DockerHost (else
	// $DOCKER_HOST). Network is docker's --network ("host" to reach
	// databases on the client's loopback); for local, "none" unshares it.
	Image      string
	Volume     string
	DockerHost string
	Network    string
	PassEnv    []string
	Default    bool
	// KeepRuns is how many recent runs' blobs (inputs and written files)
	// the store keeps whatever its size (nil: DefaultRemoteKeepRuns);
	// MaxStore the bytes above which least-recently-used blobs of other
	// runs are removed (0: DefaultRemoteMaxStore).
	KeepRuns *int
	MaxStore int64
	Line     int // of the table in osiris.toml
}

// StoreBounds returns max_store and keep_runs with defaults applied.
func (r *RemoteConfig) StoreBounds() (maxStore int64, keepRuns int) {
	maxStore, keepRuns = r.MaxStore, DefaultRemoteKeepRuns
	if maxStore == 0 {
		maxStore, _ = ParseSize(DefaultRemoteMaxStore)
	}
	if r.KeepRuns != nil {
		keepRuns = *r.KeepRuns
	}
	return maxStore, keepRuns
}

// DefaultConfig returns the configuration of an osiris.toml holding only
// [project].name.
func DefaultConfig(projectName string) Config {
	return Config{
		Project: ProjectConfig{Name: projectName, Profile: DefaultProfile},
		Paths:   PathsConfig{Pipelines: "pipelines", Build: "build", RunLogs: "run_logs", State: ".osiris"},
		Run: RunConfig{MemoryBudget: DefaultMemoryBudget, ParquetCompression: DefaultParquetCompression,
			MaxParallelSteps: DefaultMaxParallelSteps, BatchRows: DefaultBatchRows, Streaming: true},
		Retention:   RetentionConfig{RunLogsDays: DefaultRunLogsDays, KeepRunsPerPipeline: DefaultKeepRunsPerPipeline},
		Watch:       WatchConfig{Debounce: DefaultDebounce},
		Connections: map[string]map[string]*ConnectionConfig{},
		Remote:      map[string]*RemoteConfig{},
	}
}

// configLoader validates the decoded TOML tree by hand rather than with
// toml's struct decoding: struct decoding stops at the first wrong type,
// and users should see every problem of their file at once.
type configLoader struct {
	file  string // as shown in diagnostics
	pos   map[string]keyPos
	diags diag.List
}

// at returns the position of path, or of its longest written prefix.
func (l *configLoader) at(path []string) keyPos {
	for n := len(path); n > 0; n-- {
		if p, ok := l.pos[pathKey(path[:n]...)]; ok {
			return p
		}
	}
	return keyPos{Line: 1, Col: 1}
}

func (l *configLoader) report(code string, path []string, hint, format string, args ...any) {
	p := l.at(path)
	l.diags = append(l.diags, diag.Diagnostic{File: l.file, Line: p.Line, Col: p.Col, Severity: diag.Error,
		Code: code, Message: fmt.Sprintf(format, args...), Hint: hint})
}

// dotted renders a key path the way it is written in TOML.
func dotted(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		if bareKey.MatchString(p) {
			parts[i] = p
		} else {
			parts[i] = strconv.Quote(p)
		}
	}
	return strings.Join(parts, ".")
}

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// sortedKeys returns t's keys in the order they are written in the file.
func (l *configLoader) sortedKeys(t map[string]any, path []string) []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := l.at(append(path[:len(path):len(path)], keys[i])), l.at(append(path[:len(path):len(path)], keys[j]))
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return keys[i] < keys[j]
	})
	return keys
}

func child(path []string, k string) []string {
	return append(path[:len(path):len(path)], k)
}

// describe names a TOML value's type for messages; values are shown only
// for short scalars of non-secret settings.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) <= 40 {
			return fmt.Sprintf("string %q", x)
		}
		return "a string"
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

func (l *configLoader) table(path []string, v any) (map[string]any, bool) {
	t, ok := v.(map[string]any)
	if !ok {
		l.report("config-type", path, fmt.Sprintf("write it as a table: [%s]", dotted(path)),
			"%s must be a table, got %s", dotted(path), describe(v))
	}
	return t, ok
}

func (l *configLoader) str(path []string, v any, dst *string) bool {
	s, ok := v.(string)
	if !ok {
		l.report("config-type", path, "quote the value", "%s must be a string, got %s", dotted(path), describe(v))
		return false
	}
	*dst = s
	return true
}

func (l *configLoader) integer(path []string, v any, dst *int, min int) bool {
	n, ok := v.(int64)
	if !ok {
		l.report("config-type", path, "write a whole number without quotes",
			"%s must be an integer, got %s", dotted(path), describe(v))
		return false
	}
	if n < int64(min) || n > math.MaxInt32 {
		l.report("config-value", path, fmt.Sprintf("use a whole number from %d", min),
			"%s is %d, out of range", dotted(path), n)
		return false
	}
	*dst = int(n)
	return true
}

// remoteKeysOfKind reports keys of t that belong to another sandbox kind.
func (l *configLoader) remoteKeysOfKind(path []string, t map[string]any, kind string) {
	allowed, ok := remoteKindKeys[kind]
	if !ok {
		return // no or unknown kind: reported already
	}
	for _, k := range l.sortedKeys(t, path) {
		if containsString(remoteCommonKeys, k) || containsString(allowed, k) {
			continue
		}
		var owners []string
		for _, other := range RemoteKinds {
			if containsString(remoteKindKeys[other], k) {
				owners = append(owners, other)
			}
		}
		if len(owners) == 0 {
			continue // an unknown key: reported by fields
		}
		l.report("config-value", child(path, k), fmt.Sprintf("keys of a %s sandbox: kind, %s, pass_env, default, keep_runs, max_store", kind, strings.Join(allowed, ", ")),
			"%s is a key of %s sandboxes, and [%s] is kind %q", dotted(child(path, k)), strings.Join(owners, "/"), dotted(path), kind)
	}
}

// port accepts a TCP port number.
func (l *configLoader) port(path []string, v any, dst *int) {
	var n int
	if !l.integer(path, v, &n, 1) {
		return
	}
	if n > 65535 {
		l.report("config-value", path, "use a port from 1 to 65535", "%s is %d, out of range", dotted(path), n)
		return
	}
	*dst = n
}

func (l *configLoader) boolean(path []string, v any, dst *bool) bool {
	b, ok := v.(bool)
	if !ok {
		l.report("config-type", path, "write true or false without quotes", "%s must be a boolean, got %s", dotted(path), describe(v))
		return false
	}
	*dst = b
	return true
}

// stringList accepts an array of strings, or one string as a one-element list.
func (l *configLoader) stringList(path []string, v any, dst *[]string) bool {
	switch x := v.(type) {
	case string:
		*dst = []string{x}
		return true
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				l.report("config-type", path, `write a list of strings, e.g. ["A", "B"]`,
					"%s[%d] must be a string, got %s", dotted(path), i, describe(e))
				return false
			}
			out = append(out, s)
		}
		*dst = out
		return true
	}
	l.report("config-type", path, `write a list of strings, e.g. ["A", "B"]`,
		"%s must be a list of strings, got %s", dotted(path), describe(v))
	return false
}

func (l *configLoader) unknown(path []string, known []string) {
	key := path[len(path)-1]
	hint := ""
	if s := suggest(key, known); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	} else if len(known) > 0 {
		where := "at the top level"
		if len(path) > 1 {
			where = "in [" + dotted(path[:len(path)-1]) + "]"
		}
		hint = "known keys " + where + ": " + strings.Join(known, ", ")
	}
	l.report("unknown-config-key", path, hint, "unknown key %q", dotted(path))
}

// fields dispatches each key of t to its setter; unknown keys are reported.
func (l *configLoader) fields(path []string, t map[string]any, setters map[string]func(p []string, v any)) {
	known := make([]string, 0, len(setters))
	for k := range setters {
		known = append(known, k)
	}
	sort.Strings(known)
	for _, k := range l.sortedKeys(t, path) {
		set, ok := setters[k]
		if !ok {
			l.unknown(child(path, k), known)
			continue
		}
		set(child(path, k), t[k])
	}
}

// parseConfig validates osiris.toml text into a Config. hasConnections
// reports whether the file has a [connections] key at all (so that
// osiris_connections.yaml is not consulted).
func parseConfig(file, text string) (cfg Config, hasConnections bool, diags diag.List) {
	cfg = DefaultConfig("")
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		return cfg, false, diag.List{syntaxDiag(file, text, err)}
	}
	l := &configLoader{file: file, pos: tomlKeyPositions(text)}
	c := &cfg
	nameSet := false
	top := map[string]func(p []string, v any){
		"project": func(p []string, v any) {
			t, ok := l.table(p, v)
			if !ok {
				nameSet = true // reported already; do not pile on
				return
			}
			l.fields(p, t, map[string]func([]string, any){
				"name": func(p []string, v any) {
					nameSet = true
					if l.str(p, v, &c.Project.Name) && strings.TrimSpace(c.Project.Name) == "" {
						l.report("missing-project-name", p, `write name = "<your project>"`, "[project].name is empty")
					}
				},
				"profile": func(p []string, v any) {
					if l.str(p, v, &c.Project.Profile) && c.Project.Profile == "" {
						c.Project.Profile = DefaultProfile
					}
				},
			})
		},
		"paths": func(p []string, v any) {
			t, ok := l.table(p, v)
			if !ok {
				return
			}
			path := func(dst *string, rootOK bool) func([]string, any) {
				return func(p []string, v any) {
					if !l.str(p, v, dst) {
						return
					}
					if msg, hint := checkConfiguredPath(*dst, rootOK); msg != "" {
						l.report("config-path", p, hint, "%s %s", dotted(p), msg)
					}
				}
			}
			l.fields(p, t, map[string]func([]string, any){
				"pipelines": path(&c.Paths.Pipelines, true),
				"build":     path(&c.Paths.Build, false),
				"run_logs":  path(&c.Paths.RunLogs, false),
				"state":     path(&c.Paths.State, false),
			})
		},
		"run": func(p []string, v any) {
			t, ok := l.table(p, v)
			if !ok {
				return
			}
			l.fields(p, t, map[string]func([]string, any){
				"memory_budget": func(p []string, v any) {
					switch x := v.(type) {
					case int64:
						c.Run.MemoryBudget = strconv.FormatInt(x, 10)
					case string:
						c.Run.MemoryBudget = x
					default:
						l.report("config-type", p, `write a size such as "512MiB"`, "%s must be a size, got %s", dotted(p), describe(v))
						return
					}
					if _, err := c.Run.MemoryBudgetBytes(); err != nil {
						l.report("bad-size", p, `write a size such as "512MiB" or "2GB", "0" (nothing in memory) or "unlimited"`,
							"%s: %v", dotted(p), err)
					}
				},
				"parquet_compression": func(p []string, v any) {
					if l.str(p, v, &c.Run.ParquetCompression) && !containsString(ParquetCompressions, c.Run.ParquetCompression) {
						l.report("config-value", p, "use one of "+strings.Join(ParquetCompressions, ", "),
							"%s: unknown compression %q", dotted(p), c.Run.ParquetCompression)
					}
				},
				"max_parallel_steps": func(p []string, v any) {
					if l.integer(p, v, &c.Run.MaxParallelSteps, 1) && c.Run.MaxParallelSteps > MaxParallelSteps {
						l.report("config-value", p, fmt.Sprintf("use at most %d; each running step may hold its own database connection", MaxParallelSteps),
							"%s is %d, above the limit of %d", dotted(p), c.Run.MaxParallelSteps, MaxParallelSteps)
					}
				},
				"batch_rows": func(p []string, v any) { l.integer(p, v, &c.Run.BatchRows, 1) },
				"streaming":  func(p []string, v any) { l.boolean(p, v, &c.Run.Streaming) },
			})
		},
		"retention": func(p []string, v any) {
			t, ok := l.table(p, v)
			if !ok {
				return
			}
			l.fields(p, t, map[string]func([]string, any){
				"run_logs_days":          func(p []string, v any) { l.integer(p, v, &c.Retention.RunLogsDays, 0) },
				"keep_runs_per_pipeline": func(p []string, v any) { l.integer(p, v, &c.Retention.KeepRunsPerPipeline, 0) },
			})
		},
		"watch": func(p []string, v any) {
			t, ok := l.table(p, v)
			if !ok {
				return
			}
			l.fields(p, t, map[string]func([]string, any){
				"debounce": func(p []string, v any) {
					if l.str(p, v, &c.Watch.Debounce) {
						if d, err := time.ParseDuration(c.Watch.Debounce); err != nil || d < 0 {
							l.report("bad-duration", p, `write a duration such as "300ms" or "1s"`,
								"%s: %q is not a duration", dotted(p), c.Watch.Debounce)
						}
					}
				},
				"poll": func(p []string, v any) {
					if l.str(p, v, &c.Watch.Poll) && c.Watch.Poll != "" {
						if d, err := time.ParseDuration(c.Watch.Poll); err != nil || d <= 0 {
							l.report("bad-duration", p, `write a duration such as "1s", or "" to use file notifications`,
								"%s: %q is not a positive duration", dotted(p), c.Watch.Poll)
						}
					}
				},
				"retry": func(p []string, v any) {
					if l.str(p, v, &c.Watch.Retry) && c.Watch.Retry != "" {
						if d, err := time.ParseDuration(c.Watch.Retry); err != nil || d <= 0 {
							l.report("bad-duration", p, `write a duration such as "30s", or "" to wait for a change`,
								"%s: %q is not a positive duration", dotted(p), c.Watch.Retry)
						}
					}
				},
			})
		},
		"connections": func(p []string, v any) {
			hasConnections = true
			t, ok := l.table(p, v)
			if !ok {
				return
			}
			c.Connections = l.connections(p, t)
		},
		"remote": func(p []string, v any) {
			t, ok := l.table(p, v)
			if !ok {
				return
			}
			c.Remote = l.remotes(p, t)
		},
	}
	l.fields(nil, raw, top)
	if !nameSet {
		l.report("missing-project-name", []string{"project"}, `add name = "<your project>" under [project]`,
			"[project].name is required")
	}
	return cfg, hasConnections, l.diags
}

// checkConfiguredPath applies the path policy to a [paths] value as
// written: relative to the root and inside it, or absolute (honoured as
// written). build, run_logs and state must be folders of their own, not the
// root. Symlinks are checked once the root is known (Load).
func checkConfiguredPath(p string, rootOK bool) (msg, hint string) {
	const keep = "write a folder inside the workspace, or an absolute path to put it elsewhere on purpose"
	if strings.TrimSpace(p) == "" {
		return "is empty", "remove the key to use the default"
	}
	if filepath.IsAbs(p) {
		return "", ""
	}
	clean := filepath.ToSlash(filepath.Clean(filepath.FromSlash(p)))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Sprintf("%q escapes the workspace through ..", p), keep
	}
	if clean == "." && !rootOK {
		return fmt.Sprintf("%q is the workspace root itself", p), "name a folder of its own, such as the default"
	}
	return "", ""
}

// quotedInMessage matches the bits of input the TOML parser quotes in its
// messages ("found \"hunter\" instead"); they may be part of a password.
var quotedInMessage = regexp.MustCompile(`"[^"]*"|'[^']*'`)

// syntaxDiag turns a TOML parse error into a diagnostic. The parser's
// message may quote part of a value, which in [connections] or [remote]
// may be a secret, so quoted input is dropped there.
func syntaxDiag(file, text string, err error) diag.Diagnostic {
	d := diag.Diagnostic{File: file, Line: 1, Col: 1, Severity: diag.Error, Code: "config-syntax",
		Message: "not valid TOML: " + err.Error(), Hint: "fix the syntax; see https://toml.io"}
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return d
	}
	msg := pe.Message
	first, _, _ := strings.Cut(pe.LastKey, ".")
	last := pe.LastKey[strings.LastIndex(pe.LastKey, ".")+1:]
	if first == "connections" || first == "remote" || IsSecretKey(last) {
		msg = quotedInMessage.ReplaceAllString(msg, "…")
	}
	if strings.HasPrefix(pe.Message, "expected value but found") {
		d.Hint = `quote text values: key = "text"`
	}
	d.Message = "not valid TOML: " + msg
	if pe.Position.Line > 0 {
		d.Line = pe.Position.Line
		lineStart := 0
		if pe.Position.Start <= len(text) {
			lineStart = strings.LastIndexByte(text[:pe.Position.Start], '\n') + 1
		}
		d.Col = max(pe.Position.Start-lineStart+1, 1)
	}
	return d
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// connections reads [connections.<family>.<alias>] tables. A family osiris
// does not know and a field it does not read are errors (connkeys.go):
// osiris.toml is strict, so a typo such as databse is not silently dropped.
func (l *configLoader) connections(path []string, t map[string]any) map[string]map[string]*ConnectionConfig {
	out := map[string]map[string]*ConnectionConfig{}
	for _, family := range l.sortedKeys(t, path) {
		fp := child(path, family)
		ft, ok := l.table(fp, t[family])
		if !ok {
			continue
		}
		if !nameRE.MatchString(family) {
			l.report("config-value", fp, "use letters, digits, _ and -", "connection family %q is not a valid name", family)
			continue
		}
		if msg, hint := checkConnectionFamily(family); msg != "" {
			l.report("unknown-connection-family", fp, hint, "%s", msg)
			continue
		}
		aliases := map[string]*ConnectionConfig{}
		for _, alias := range l.sortedKeys(ft, fp) {
			ap := child(fp, alias)
			at, ok := ft[alias].(map[string]any)
			if !ok {
				l.report("config-type", ap, fmt.Sprintf("write it as a table: [%s]", dotted(ap)),
					"connection %s must be a table of fields, got %s", dotted(ap), typeOnly(ft[alias]))
				continue
			}
			if !nameRE.MatchString(alias) {
				l.report("config-value", ap, "use letters, digits, _ and -", "connection alias %q is not a valid name", alias)
				continue
			}
			cc := &ConnectionConfig{Family: family, Alias: alias, Fields: map[string]any{}, File: l.file, Line: l.at(ap).Line}
			for _, k := range l.sortedKeys(at, ap) {
				v := at[k]
				if k == "default" {
					l.boolean(child(ap, k), v, &cc.Default)
					continue
				}
				if msg, hint := checkConnectionKey(family, k, false); msg != "" {
					l.report("unknown-config-key", child(ap, k), hint, "%s: %s", dotted(child(ap, k)), msg)
					continue
				}
				cc.Fields[k] = v
			}
			aliases[alias] = cc
		}
		l.checkOneDefault(family, aliases)
		out[family] = aliases
	}
	return out
}

// typeOnly describes a value without showing it (connection values may be secret).
func typeOnly(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return describe(v)
}

func (l *configLoader) checkOneDefault(family string, aliases map[string]*ConnectionConfig) {
	var defaults []*ConnectionConfig
	for _, c := range aliases {
		if c.Default {
			defaults = append(defaults, c)
		}
	}
	if len(defaults) < 2 {
		return
	}
	sort.Slice(defaults, func(i, j int) bool { return defaults[i].Line < defaults[j].Line })
	first := defaults[0]
	for _, c := range defaults[1:] {
		l.report("duplicate-default", []string{"connections", family, c.Alias, "default"},
			"keep default = true on one connection of the family",
			"family %q has more than one default connection: %s (line %d) and %s", family, first.Ref(), first.Line, c.Ref())
	}
}

func (l *configLoader) remotes(path []string, t map[string]any) map[string]*RemoteConfig {
	out := map[string]*RemoteConfig{}
	var defaults []string
	for _, name := range l.sortedKeys(t, path) {
		rp := child(path, name)
		rt, ok := l.table(rp, t[name])
		if !ok {
			continue
		}
		r := &RemoteConfig{Name: name, Line: l.at(rp).Line}
		l.fields(rp, rt, map[string]func([]string, any){
			"kind": func(p []string, v any) {
				if l.str(p, v, &r.Kind) && !containsString(RemoteKinds, r.Kind) {
					l.report("config-value", p, "use one of "+strings.Join(RemoteKinds, ", "), "%s: unknown sandbox kind %q", dotted(p), r.Kind)
				}
			},
			"host":        func(p []string, v any) { l.str(p, v, &r.Host) },
			"port":        func(p []string, v any) { l.port(p, v, &r.Port) },
			"user":        func(p []string, v any) { l.str(p, v, &r.User) },
			"identity":    func(p []string, v any) { l.str(p, v, &r.Identity) },
			"ssh_options": func(p []string, v any) { l.stringList(p, v, &r.SSHOptions) },
			"dir":         func(p []string, v any) { l.str(p, v, &r.Dir) },
			"binary":      func(p []string, v any) { l.str(p, v, &r.Binary) },
			"image":       func(p []string, v any) { l.str(p, v, &r.Image) },
			"volume":      func(p []string, v any) { l.str(p, v, &r.Volume) },
			"network":     func(p []string, v any) { l.str(p, v, &r.Network) },
			"docker_host": func(p []string, v any) { l.str(p, v, &r.DockerHost) },
			"pass_env":    func(p []string, v any) { l.stringList(p, v, &r.PassEnv) },
			"default":     func(p []string, v any) { l.boolean(p, v, &r.Default) },
			"keep_runs": func(p []string, v any) {
				var n int
				if l.integer(p, v, &n, 0) {
					r.KeepRuns = &n
				}
			},
			"max_store": func(p []string, v any) {
				var s string
				switch x := v.(type) {
				case int64:
					s = strconv.FormatInt(x, 10)
				case string:
					s = x
				default:
					l.report("config-type", p, `write a size such as "2GiB"`, "%s must be a size, got %s", dotted(p), describe(v))
					return
				}
				n, err := ParseSize(s)
				if err != nil {
					l.report("bad-size", p, `write a size such as "2GiB" or "500MB"`, "%s: %v", dotted(p), err)
					return
				}
				r.MaxStore = n
			},
		})
		if _, ok := rt["kind"]; !ok {
			l.report("config-value", rp, `add kind = "local", "docker" or "ssh"`, "[%s] has no kind", dotted(rp))
		}
		l.remoteKeysOfKind(rp, rt, r.Kind)
		switch {
		case r.Kind == "ssh" && r.Host == "":
			l.report("config-value", rp, `add host = "user@machine"`, "[%s] is an ssh sandbox without host", dotted(rp))
		case r.Kind == "docker" && r.Image == "":
			l.report("config-value", rp, `add image = "NAME:TAG" (an image with /bin/sh and sha256sum, of the same OS/arch as the osiris binary)`,
				"[%s] is a docker sandbox without image", dotted(rp))
		case r.Kind == "local" && r.Network != "" && r.Network != "none" && r.Network != "host":
			l.report("config-value", child(rp, "network"), `use network = "none" (no network) or "host"`,
				"%s: unknown network %q for a local sandbox", dotted(child(rp, "network")), r.Network)
		}
		if r.Default {
			defaults = append(defaults, name)
		}
		out[name] = r
	}
	if len(defaults) > 1 {
		l.report("duplicate-default", child(child(path, defaults[1]), "default"), "keep default = true on one sandbox",
			"more than one default sandbox: %s and %s", defaults[0], defaults[1])
	}
	return out
}

// suggest returns the known key closest to key when it is close enough to
// be a typo, else "" (diag.Suggest).
func suggest(key string, known []string) string { return diag.Suggest(key, known) }

// checkPathsLayout refuses [paths] folders that overlap each other or the
// workspace's own files, and osiris's folders written as relative paths
// nested inside a data folder.
// Everything at the root that is not osiris's own is data a step (and its
// SQL) may read or write, so run_logs = "data/logs" would hand run records
// to SQL, run_logs = "pipelines" would make runs pipelines, build = ".env"
// would overwrite the secrets. Positions are those of osiris.toml's text.
func checkPathsLayout(root string, paths PathsConfig, text string) diag.List {
	pos := tomlKeyPositions(text)
	rootReal := root
	if r, err := filepath.EvalSymlinks(root); err == nil {
		rootReal = r
	}
	type entry struct {
		key, val string
		abs      string // cleaned, symlinks resolved
		at       keyPos
		written  bool
	}
	var entries []*entry
	for _, kv := range []struct{ key, val string }{
		{"pipelines", paths.Pipelines}, {"build", paths.Build}, {"run_logs", paths.RunLogs}, {"state", paths.State},
	} {
		if strings.TrimSpace(kv.val) == "" {
			continue
		}
		abs := filepath.Clean(kv.val)
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(root, filepath.FromSlash(kv.val))
		}
		if r, err := realPath(abs); err == nil {
			abs = r
		}
		at, written := pos[pathKey("paths", kv.key)]
		if !written {
			at = keyPos{Line: 1, Col: 1}
		}
		entries = append(entries, &entry{key: kv.key, val: kv.val, abs: abs, at: at, written: written})
	}
	var out diag.List
	bad := map[string]bool{}
	report := func(e *entry, hint, format string, args ...any) {
		if bad[e.key] {
			return // one problem per key is enough to act on
		}
		bad[e.key] = true
		out = append(out, diag.Diagnostic{File: ConfigFileName, Line: e.at.Line, Col: e.at.Col, Severity: diag.Error,
			Code: "config-path", Message: fmt.Sprintf(format, args...), Hint: hint})
	}
	const ownFolder = `use a folder of its own at the workspace root (the default, or e.g. "logs"), or an absolute path outside the workspace`
	for _, e := range entries {
		rel, err := filepath.Rel(rootReal, e.abs)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue // the root (pipelines = ".") or outside the workspace
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		first := parts[0]
		switch {
		case first == ConfigFileName || first == ConnectionsYAMLFile:
			report(e, ownFolder, "paths.%s %q is the workspace's %s", e.key, e.val, first)
		case first == DotEnvFile || strings.HasPrefix(first, DotEnvFile+"."):
			report(e, ownFolder, "paths.%s %q is the secrets file %s", e.key, e.val, first)
		case first == ".git":
			report(e, ownFolder, "paths.%s %q is inside the git repository's .git folder", e.key, e.val)
		case e.key != "pipelines" && len(parts) > 1 && !strings.HasPrefix(first, ".") && !filepath.IsAbs(e.val):
			// An absolute path is honoured as written (the README's rule);
			// the run's confinement still keeps SQL out of it.
			report(e, ownFolder, "paths.%s %q is inside %s/, a data folder that steps and their SQL may read and write", e.key, e.val, first)
		}
	}
	for i, a := range entries {
		for _, b := range entries[i+1:] {
			if a.abs == rootReal || b.abs == rootReal {
				continue // pipelines = "."; compile protects each pipeline file
			}
			if !within(a.abs, b.abs) && !within(b.abs, a.abs) {
				continue
			}
			// Report at the key written later (a default is never the culprit).
			at, other := b, a
			if !b.written || (a.written && (a.at.Line > b.at.Line || (a.at.Line == b.at.Line && a.at.Col > b.at.Col))) {
				at, other = a, b
			}
			how := "is inside"
			switch {
			case a.abs == b.abs:
				how = "is the same folder as"
			case within(other.abs, at.abs):
				how = "holds"
			}
			report(at, "give each of pipelines, build, run_logs and state a folder of its own",
				"paths.%s %q %s paths.%s (%q)", at.key, at.val, how, other.key, other.val)
		}
	}
	return out
}
