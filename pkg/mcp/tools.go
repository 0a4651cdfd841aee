package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/osiris-go/osiris/internal/atomicfile"
	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/runlog"
	"github.com/osiris-go/osiris/workspace"
)

// Tool inputs: the JSON Schema of each tool is generated from these types.
type (
	noArgs         struct{}
	connectionArgs struct {
		ConnectionID string `json:"connection_id" jsonschema:"a connection reference @family.alias, for example @mysql.sakila"`
	}
	discoveryArgs struct {
		ConnectionID string `json:"connection_id" jsonschema:"a connection reference @family.alias, for example @mysql.sakila"`
		Samples      int    `json:"samples,omitempty" jsonschema:"sample rows to read from each table (0 to 100, default 0); values are masked"`
	}
	validateArgs struct {
		OMLContent string `json:"oml_content,omitempty" jsonschema:"the pipeline YAML text to validate (give this or pipeline)"`
		Pipeline   string `json:"pipeline,omitempty" jsonschema:"a pipeline file of the workspace, relative to its root (give this or oml_content)"`
	}
	saveArgs struct {
		OMLContent string `json:"oml_content" jsonschema:"the pipeline YAML text; it is validated first and not written when it has errors"`
		Filename   string `json:"filename" jsonschema:"file name under the workspace's pipelines folder, such as daily_sales.yaml"`
	}
	componentArgs struct {
		Name string `json:"name" jsonschema:"a component name, such as mysql.extractor"`
	}
	pipelineArgs struct {
		Pipeline string `json:"pipeline" jsonschema:"a pipeline file of the workspace, relative to its root, such as pipelines/movies_offline.yaml"`
	}
	runArgs struct {
		Pipeline string         `json:"pipeline" jsonschema:"a pipeline file (or compiled manifest directory) of the workspace, relative to its root"`
		Params   map[string]any `json:"params,omitempty" jsonschema:"param values by name, as --param NAME=VALUE"`
		Remote   any            `json:"remote,omitempty" jsonschema:"run in a sandbox: true for the default one, or its name (osiris.toml [remote.NAME]); omit to run locally"`
		NoCache  bool           `json:"no_cache,omitempty" jsonschema:"execute every step; reuse no step outputs of earlier runs"`
	}
	logsListArgs struct {
		Pipeline string `json:"pipeline,omitempty" jsonschema:"only runs of this pipeline (file, or its name without .yaml)"`
		Status   string `json:"status,omitempty" jsonschema:"only these statuses, comma-separated: success, failed, cancelled, running, killed"`
		Limit    int    `json:"limit,omitempty" jsonschema:"at most this many runs, newest first (default 20)"`
	}
	logsShowArgs struct {
		Run string `json:"run" jsonschema:"a run id, a unique prefix of one, last, or last:PIPELINE"`
	}
	logsDiffArgs struct {
		A string `json:"a" jsonschema:"the earlier run: an id, a prefix, last or last:PIPELINE"`
		B string `json:"b" jsonschema:"the later run: an id, a prefix, last or last:PIPELINE"`
	}
)

func (s *Server) addTools() {
	tool(s, "connections_list", "List the workspace's connections (@family.alias), with secret values masked.", s.connectionsList)
	tool(s, "connections_doctor", "Check that one connection is reachable, as `osiris connections doctor` does.", s.connectionsDoctor)
	tool(s, "components_list", "List the built-in components: name, role, modes, connection families.", s.componentsList)
	tool(s, "component_show", "Show one component's config keys: types, defaults, enums, required keys.", s.componentShow)
	tool(s, "discovery_request", "Discover a database connection: tables, columns with types, keys, row estimates and up to `samples` masked sample rows per table.", s.discoveryRequest)
	tool(s, "oml_schema_get", "The JSON Schema (2020-12) of pipeline files, generated from the component specs.", s.omlSchemaGet)
	tool(s, "oml_validate", "Validate a pipeline (its YAML text in oml_content, or a workspace file in pipeline). Problems come back as file:line:col: error[code] lines.", s.omlValidate)
	tool(s, "oml_save", "Validate a pipeline and save it under the workspace's pipelines folder.", s.omlSave)
	tool(s, "compile", "Compile a pipeline into build/, as `osiris compile` does.", s.compile)
	tool(s, "run", "Run a pipeline as `osiris run` does; progress comes as MCP progress notifications, and cancelling the request cancels the run.", s.run)
	tool(s, "logs_list", "List recorded runs and compiles, newest first.", s.logsList)
	tool(s, "logs_show", "Show one recorded run: status, steps, rows, error.", s.logsShow)
	tool(s, "logs_diff", "What changed between two runs of a pipeline.", s.logsDiff)
}

// tool registers a handler that returns its answer as JSON, or an error
// the client sees as a tool error.
func tool[In any](s *Server, name, desc string, h func(context.Context, *sdk.CallToolRequest, In) (any, error)) {
	sdk.AddTool(s.Server, &sdk.Tool{Name: name, Description: desc}, func(ctx context.Context, req *sdk.CallToolRequest, in In) (*sdk.CallToolResult, any, error) {
		s.log.Info("tool call", "tool", name)
		out, err := h(ctx, req, in)
		if err != nil {
			s.log.Info("tool error", "tool", name, "error", err.Error())
			return toolError(out, err), nil, nil
		}
		return answer(out), nil, nil
	})
}

// answer is a tool result: the value as indented JSON text, and as
// structured content when it is an object.
func answer(v any) *sdk.CallToolResult {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return toolError(nil, err)
	}
	res := &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: string(b)}}}
	if len(b) > 0 && b[0] == '{' {
		res.StructuredContent = json.RawMessage(b)
	}
	return res
}

// toolError is a failed tool call: diagnostics as the CLI prints them
// (file:line:col: error[code]: …), one per line, and the structured
// diagnostics; other errors as the CLI's "osiris: …" line. partial, when
// set, is what there is to show besides (a failed run's record).
func toolError(partial any, err error) *sdk.CallToolResult {
	var dl diag.List
	var text string
	out := map[string]any{}
	if errors.As(err, &dl) {
		lines := make([]string, len(dl))
		for i, d := range dl {
			lines[i] = d.String()
		}
		text = strings.Join(lines, "\n")
		out["diagnostics"] = dl
	} else {
		text = "osiris: " + err.Error()
		out["error"] = err.Error()
		var ue *diag.UsageError
		out["usage_error"] = errors.As(err, &ue)
	}
	if partial != nil {
		out["result"] = partial
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	res := &sdk.CallToolResult{
		IsError:           true,
		Content:           []sdk.Content{&sdk.TextContent{Text: text}, &sdk.TextContent{Text: string(b)}},
		StructuredContent: json.RawMessage(b),
	}
	return res
}

func (s *Server) connectionsList(ctx context.Context, _ *sdk.CallToolRequest, _ noArgs) (any, error) {
	return map[string]any{"connections": s.host.Connections()}, nil
}

func (s *Server) connectionsDoctor(ctx context.Context, _ *sdk.CallToolRequest, in connectionArgs) (any, error) {
	if !strings.HasPrefix(in.ConnectionID, "@") {
		return nil, diag.Usage("connection_id %q is not a reference @family.alias (connections_list shows them)", in.ConnectionID)
	}
	return s.host.Doctor(ctx, in.ConnectionID), nil
}

type componentRow struct {
	Name        string   `json:"name"`
	Role        string   `json:"role"`
	Modes       []string `json:"modes"`
	Families    []string `json:"families,omitempty"`
	Description string   `json:"description"`
	AliasOf     string   `json:"alias_of,omitempty"`
}

func (s *Server) componentsList(context.Context, *sdk.CallToolRequest, noArgs) (any, error) {
	var rows []componentRow
	for _, sp := range component.Specs() {
		rows = append(rows, componentRow{Name: sp.Name, Role: string(sp.Role), Modes: sp.Modes, Families: sp.Families, Description: sp.Description, AliasOf: sp.AliasOf})
	}
	return map[string]any{"components": rows}, nil
}

func (s *Server) componentShow(_ context.Context, _ *sdk.CallToolRequest, in componentArgs) (any, error) {
	sp, ok := component.Lookup(in.Name)
	if !ok {
		return nil, diag.Usage("no component %q; components_list shows them", in.Name)
	}
	return sp, nil
}

func (s *Server) discoveryRequest(ctx context.Context, _ *sdk.CallToolRequest, in discoveryArgs) (any, error) {
	return component.Discover(ctx, s.ws, in.ConnectionID, component.DiscoverOptions{Samples: in.Samples})
}

func (s *Server) omlSchemaGet(context.Context, *sdk.CallToolRequest, noArgs) (any, error) {
	b, err := compile.JSONSchema()
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// validation is the answer of oml_validate and the refusal of oml_save.
type validation struct {
	File        string            `json:"file"`
	Valid       bool              `json:"valid"`
	Diagnostics []diag.Diagnostic `json:"diagnostics"`
}

func (s *Server) omlValidate(_ context.Context, _ *sdk.CallToolRequest, in validateArgs) (any, error) {
	env := compile.FromWorkspace(s.ws)
	opts := compile.Options{Profile: s.opts.Profile}
	var file string
	var ds diag.List
	switch {
	case (in.OMLContent == "") == (in.Pipeline == ""):
		return nil, diag.Usage("give either oml_content (the YAML text) or pipeline (a workspace file), not both or neither")
	case in.Pipeline != "":
		p, err := s.workspaceFile(in.Pipeline)
		if err != nil {
			return nil, err
		}
		file = p
		ds = compile.Validate(env, p, opts)
	default:
		// Text not yet saved is checked as if it were a file of the
		// pipelines folder (relative paths, the slug).
		file = filepath.Join(s.ws.Path(s.ws.Config.Paths.Pipelines), "oml_content.yaml")
		_, ds = compile.CompileSource(env, file, []byte(in.OMLContent), opts)
	}
	v := validation{File: s.ws.Files.Rel(file), Valid: !ds.HasErrors(), Diagnostics: nonNil(ds)}
	if ds.HasErrors() {
		return v, ds
	}
	return v, nil
}

func nonNil(l diag.List) []diag.Diagnostic {
	if l == nil {
		return []diag.Diagnostic{}
	}
	return l
}

func (s *Server) omlSave(_ context.Context, _ *sdk.CallToolRequest, in saveArgs) (any, error) {
	target, err := s.saveTarget(in.Filename)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.OMLContent) == "" {
		return nil, diag.Usage("oml_content is empty; give the pipeline's YAML text")
	}
	_, ds := compile.CompileSource(compile.FromWorkspace(s.ws), target, []byte(in.OMLContent), compile.Options{Profile: s.opts.Profile})
	rel := s.ws.Files.Rel(target)
	if ds.HasErrors() {
		return validation{File: rel, Valid: false, Diagnostics: ds}, ds
	}
	_, statErr := os.Stat(target)
	if err := writeFileAtomic(target, []byte(in.OMLContent)); err != nil {
		return nil, fmt.Errorf("saving %s: %w", rel, err)
	}
	s.log.Info("pipeline saved", "file", rel)
	s.addPipelineResource(target)
	return map[string]any{"file": rel, "saved": true, "replaced": statErr == nil, "diagnostics": nonNil(ds)}, nil
}

// saveTarget is where oml_save may write filename: a .yaml/.yml file in
// the pipelines folder (or a folder of it), reached without .., absolute
// paths, hidden names or symlinks that lead elsewhere, and none of the
// workspace's own files.
func (s *Server) saveTarget(filename string) (string, error) {
	pipelines := s.ws.Config.Paths.Pipelines
	refuse := func(why string) error {
		return diag.Usage("filename %q %s; give a name such as daily_sales.yaml, saved under %s/", filename, why, pipelines)
	}
	name := filepath.ToSlash(strings.TrimSpace(filename))
	switch {
	case name == "":
		return "", refuse("is empty")
	case filepath.IsAbs(filename) || strings.HasPrefix(name, "/") || filepath.VolumeName(filename) != "":
		return "", refuse("is absolute")
	case strings.ContainsRune(filename, '\\') || strings.ContainsRune(filename, 0):
		return "", refuse("holds a backslash or NUL")
	}
	parts := strings.Split(name, "/")
	for _, p := range parts {
		switch {
		case p == "..":
			return "", refuse("goes up with ..")
		case p == "" || p == ".":
			return "", refuse("has an empty or . path segment")
		case strings.HasPrefix(p, "."):
			return "", refuse("names a hidden file or folder")
		}
	}
	// "pipelines/x.yaml" means the same file as "x.yaml".
	if prefix := strings.Split(filepath.ToSlash(filepath.Clean(pipelines)), "/"); len(parts) > len(prefix) && strings.Join(parts[:len(prefix)], "/") == strings.Join(prefix, "/") {
		parts = parts[len(prefix):]
	}
	base := parts[len(parts)-1]
	if ext := filepath.Ext(base); ext != ".yaml" && ext != ".yml" {
		return "", refuse("is not a .yaml or .yml file")
	}
	if base == workspace.ConfigFileName || base == workspace.ConnectionsYAMLFile {
		return "", refuse("is a name of the workspace's own configuration")
	}
	dir := s.ws.Path(pipelines)
	target := filepath.Join(append([]string{dir}, parts...)...)
	for _, p := range []string{s.ws.Config.Paths.Build, s.ws.Config.Paths.RunLogs, s.ws.Config.Paths.State} {
		if within(target, s.ws.Path(p)) {
			return "", refuse("lies in " + p + "/, which osiris writes itself")
		}
	}
	// The folder that exists must really be inside the pipelines folder.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	existing := filepath.Dir(target)
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		existing = filepath.Dir(existing)
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil || !within(real, realDir) {
		return "", refuse("leads out of the pipelines folder through a symlink")
	}
	if st, err := os.Lstat(target); err == nil && st.Mode()&os.ModeSymlink != 0 {
		return "", refuse("is a symlink")
	}
	return target, nil
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func writeFileAtomic(path string, data []byte) error {
	return atomicfile.Write(path, data, atomicfile.Options{Sync: true, MkdirAll: true})
}

// workspaceFile resolves a path the client gives (relative to the root,
// or absolute) to an existing file or folder inside the workspace.
func (s *Server) workspaceFile(p string) (string, error) {
	if strings.TrimSpace(p) == "" {
		return "", diag.Usage("pipeline is empty; give a pipeline file relative to the workspace root, such as pipelines/daily.yaml")
	}
	abs := p
	if !filepath.IsAbs(p) {
		abs = filepath.Join(s.ws.Root, filepath.FromSlash(p))
	}
	abs = filepath.Clean(abs)
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", diag.Usage("%s: no such pipeline file in the workspace", p)
	}
	root, err := filepath.EvalSymlinks(s.ws.Root)
	if err != nil {
		return "", err
	}
	if !within(real, root) {
		return "", diag.Usage("%s is outside the workspace; osiris reads only the workspace's files", p)
	}
	return abs, nil
}

func (s *Server) compile(ctx context.Context, _ *sdk.CallToolRequest, in pipelineArgs) (any, error) {
	p, err := s.workspaceFile(in.Pipeline)
	if err != nil {
		return nil, err
	}
	res, ds, err := s.host.Compile(ctx, p)
	res.Diagnostics = nonNil(ds)
	if err != nil {
		return res, err
	}
	if ds.HasErrors() {
		return res, ds
	}
	return res, nil
}

func (s *Server) run(ctx context.Context, req *sdk.CallToolRequest, in runArgs) (any, error) {
	p, err := s.workspaceFile(in.Pipeline)
	if err != nil {
		return nil, err
	}
	rr := RunRequest{Pipeline: p, NoCache: in.NoCache, Params: map[string]string{}}
	for k, v := range in.Params {
		rr.Params[k] = fmt.Sprint(v)
	}
	switch x := in.Remote.(type) {
	case nil:
	case bool:
		rr.Remote = x
	case string:
		rr.Remote, rr.Sandbox = x != "", x
	default:
		return nil, diag.Usage("remote is true (the default sandbox) or a sandbox name, not %v", x)
	}
	sink := &progressSink{ctx: ctx, session: req.Session, token: req.Params.GetProgressToken()}
	ctx, done, err := s.startRun(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	s.log.Info("run", "pipeline", s.ws.Files.Rel(p), "remote", rr.Remote, "sandbox", rr.Sandbox)
	res, err := s.host.Run(ctx, rr, sink)
	if res != nil {
		s.addRunResources(res.RunID)
		if err == nil && res.Status != exec.StatusSuccess {
			err = fmt.Errorf("run %s %s", res.RunID, res.Status)
		}
	}
	if err != nil {
		if res != nil {
			return res, err
		}
		return nil, err
	}
	return res, nil
}

// progressSink turns run events into MCP progress notifications (when the
// client asked for them with a progress token): one per step started and
// one per step finished, so progress counts up to twice the steps. Step
// results, warnings and errors also go out as log messages.
type progressSink struct {
	ctx     context.Context
	session *sdk.ServerSession
	token   any

	mu    sync.Mutex
	n     int
	total int
}

func (p *progressSink) Emit(e exec.Event) {
	var msg string
	level := sdk.LoggingLevel("debug")
	switch e.Event {
	case exec.EventRunStart:
		p.mu.Lock()
		if n, ok := e.Fields["steps"].(int); ok {
			p.total = 2 * n
		}
		p.mu.Unlock()
		msg = "run started"
	case exec.EventStepStart:
		msg = "step " + e.Step + " started"
	case exec.EventStepComplete:
		msg = fmt.Sprintf("step %s done: %v rows", e.Step, e.Fields["rows_out"])
		if e.Fields["cache"] == "hit" {
			msg += " (cached)"
		}
		level = "info"
	case exec.EventStepError:
		msg = fmt.Sprintf("step %s failed: %v", e.Step, e.Fields["error"])
		level = "error"
	case exec.EventStepWarning:
		_ = p.session.Log(p.ctx, &sdk.LoggingMessageParams{Level: "warning", Logger: "osiris", Data: fmt.Sprintf("step %s: %v", e.Step, e.Fields["message"])})
		return
	case exec.EventStepSkipped:
		msg = "step " + e.Step + " skipped"
	default:
		return
	}
	_ = p.session.Log(p.ctx, &sdk.LoggingMessageParams{Level: level, Logger: "osiris", Data: msg})
	if p.token == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	total := float64(p.total)
	if p.n > p.total {
		total = 0
	}
	_ = p.session.NotifyProgress(p.ctx, &sdk.ProgressNotificationParams{ProgressToken: p.token, Progress: float64(p.n), Total: total, Message: msg})
}

func (s *Server) logsList(_ context.Context, _ *sdk.CallToolRequest, in logsListArgs) (any, error) {
	f := runlog.Filter{Pipeline: in.Pipeline, Limit: in.Limit}
	if f.Limit <= 0 {
		f.Limit = 20
	}
	if in.Status != "" {
		f.Status = strings.Split(in.Status, ",")
	}
	runs, notice, err := s.store.List(f)
	if err != nil {
		return nil, err
	}
	return withNotice(map[string]any{"runs": nonNilRuns(runs)}, notice), nil
}

func nonNilRuns(r []runlog.Run) []runlog.Run {
	if r == nil {
		return []runlog.Run{}
	}
	return r
}

func withNotice(m map[string]any, n runlog.Notice) map[string]any {
	if n != "" {
		m["notice"] = string(n)
	}
	return m
}

func (s *Server) logsShow(_ context.Context, _ *sdk.CallToolRequest, in logsShowArgs) (any, error) {
	r, _, err := s.store.Select(in.Run, "", s.opts.Profile)
	if err != nil {
		return nil, err
	}
	return s.store.Show(r)
}

func (s *Server) logsDiff(_ context.Context, _ *sdk.CallToolRequest, in logsDiffArgs) (any, error) {
	ra, _, err := s.store.Select(in.A, exec.RecordKindRun, s.opts.Profile)
	if err != nil {
		return nil, err
	}
	rb, _, err := s.store.Select(in.B, exec.RecordKindRun, s.opts.Profile)
	if err != nil {
		return nil, err
	}
	return s.store.DiffRuns(ra, rb)
}
