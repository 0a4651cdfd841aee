package compile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/workspace"
)

// OMLVersion is the pipeline format version osiris reads.
const OMLVersion = "0.1.0"

// compatOMLVersions are versions Osiris-Python writes whose pipelines osiris
// reads as 0.1.0. Rule: such a pipeline is accepted with a warning when
// every key in it is one osiris understands (no unknown top-level or step
// key; unknown config keys are errors anyway), and refused otherwise,
// because a key osiris would ignore may carry meaning in that version.
var compatOMLVersions = []string{"0.2.0"}

var (
	// stepIDPattern: ids become path segments (cfg/<id>.json, artifacts/<id>/).
	stepIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	// profilePattern: the profile is a path segment of build/pipelines/<profile>/.
	profilePattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	paramNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	inputNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// paramRef is ${params.NAME}; anyPlaceholder is every ${...}.
	paramRef       = regexp.MustCompile(`\$\{\s*params\.([^}\s]*)\s*\}`)
	anyPlaceholder = regexp.MustCompile(`\$\{[^}]*\}`)
	inputRef       = regexp.MustCompile(`^\$\{\s*([^}\s]+)\s*\}$`)
	connectionRef  = regexp.MustCompile(`^@([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$`)
)

var topLevelKeys = []string{"oml_version", "name", "description", "metadata", "params", "profiles", "steps"}

var stepKeys = []string{"id", "component", "mode", "config", "needs", "inputs", "cache", "timeout", "description"}

// legacyKeys are keys of older pipeline dialects, with what to write instead.
var legacyTopLevelKeys = map[string]string{
	"version":    `use oml_version: "0.1.0"`,
	"connectors": "connections live in osiris.toml as [connections.<family>.<alias>]; steps reference them with connection: \"@family.alias\"",
	"tasks":      "use steps: a list of steps with id, component, mode and config",
	"outputs":    "write outputs with a writer step, such as filesystem.csv_writer, that needs the step producing them",
}

var legacyStepKeys = map[string]string{
	"uses": "use component:",
	"with": "use config:",
}

var modes = []string{"read", "write", "transform"}

type pos struct{ line, col int }

func (n *yNode) pos() pos  { return pos{n.line, n.col} }
func (e *yEntry) pos() pos { return pos{e.line, e.col} }

// validator holds one pass over one pipeline.
type validator struct {
	env   Env
	opts  Options
	file  string // workspace-relative, forward slashes
	diags diag.List

	root    *yNode
	profile string
	// compatVersion is set when oml_version is one of compatOMLVersions.
	compatVersion   string
	compatVersionAt pos
	// ignoredKeys are the unknown top-level and step keys, as "name" (line N).
	ignoredKeys []string

	params     map[string]*paramDecl
	paramOrder []string
	// paramValues are the effective values of params that have one.
	paramValues map[string]any

	steps []*stepIR
	byID  map[string]*stepIR

	filesCache  *workspace.Files // the path policy (files())
	connChecked map[string]bool  // connections checkConnectionSettings saw
}

// stepIR is a step as the validator understood it.
type stepIR struct {
	idx   int
	path  string // steps[i]
	node  *yNode
	id    string // as written (may be invalid)
	idOK  bool   // valid and unique: takes part in the graph
	label string // for diagnostics

	component string
	spec      *component.Spec
	mode      string

	hasNeedsKey bool
	needsPos    pos
	needs       []string
	inputNeeds  []string // steps named only through inputs
	// needAt is where each dependency was written (the step itself for an
	// implicit one), for graph errors found after all steps are read.
	needAt   map[string]pos
	implicit bool
	inputs   []NamedInput

	cache, timeout string
	// resolved is the config as written with params resolved (for oml_fp);
	// effective adds defaults and the default connection.
	resolved   map[string]any
	effective  map[string]any
	connection string
	// badNeeds counts needs and inputs naming no usable step (reported
	// where they are written, so graph checks do not pile on).
	badNeeds int
	// paths are the files the step reads and writes, resolved (paths.go).
	paths []pathUse
}

func (v *validator) add(sev diag.Severity, p pos, code, step, hint, format string, args ...any) {
	v.diags = append(v.diags, diag.Diagnostic{
		File: v.file, Line: p.line, Col: p.col, Severity: sev, Code: code, Step: step,
		Message: fmt.Sprintf(format, args...), Hint: hint,
	})
}

func (v *validator) errorf(p pos, code, step, hint, format string, args ...any) {
	v.add(diag.Error, p, code, step, hint, format, args...)
}

func (v *validator) warnf(p pos, code, step, hint, format string, args ...any) {
	v.add(diag.Warning, p, code, step, hint, format, args...)
}

// Validate reads and validates a pipeline; file is absolute or relative to
// the workspace root. It returns every problem found, errors and warnings.
func Validate(env Env, file string, opts Options) diag.List {
	_, diags := Compile(env, file, opts)
	return diags
}

// Compile validates a pipeline and, when it has no errors, builds its
// manifest. The diagnostics hold the warnings in any case.
func Compile(env Env, file string, opts Options) (*Manifest, diag.List) {
	rel, abs := workspaceRel(env.Root(), file)
	src, err := readPipeline(abs)
	var tooLarge *fileTooLarge
	switch {
	case errors.As(err, &tooLarge):
		return nil, diag.List{{File: rel, Severity: diag.Error, Code: "file-too-large", Message: err.Error(),
			Hint: "a pipeline describes steps; keep data in files the steps read"}}
	case err != nil:
		// The *PathError's own text names the absolute path; say it relatively.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, diag.List{{File: rel, Severity: diag.Error, Code: "read-file", Message: "cannot read the pipeline: " + err.Error(),
			Hint: "check the path; pipelines are relative to the workspace root"}}
	}
	return CompileSource(env, rel, src, opts)
}

// readPipeline reads at most MaxFileSize+1 bytes, so a huge file is
// refused by size without being loaded whole.
func readPipeline(abs string) ([]byte, error) {
	f, err := os.Open(abs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a pipeline file", filepath.Base(abs))
	}
	if st.Size() > MaxFileSize {
		return nil, &fileTooLarge{size: st.Size()}
	}
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxFileSize {
		return nil, &fileTooLarge{size: int64(len(src))}
	}
	return src, nil
}

type fileTooLarge struct{ size int64 }

func (e *fileTooLarge) Error() string {
	return fmt.Sprintf("pipeline file is %s; the limit is %s", humanBytes(e.size), humanBytes(MaxFileSize))
}

// workspaceRel returns the path to show (workspace-relative, forward
// slashes; the base name for a file outside the workspace) and the absolute
// path to read.
func workspaceRel(root, file string) (rel, abs string) {
	abs = file
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(root, file)
	}
	abs = filepath.Clean(abs)
	r, err := filepath.Rel(root, abs)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return filepath.Base(abs), abs
	}
	return filepath.ToSlash(r), abs
}

var utf8BOM = []byte("\xef\xbb\xbf")

// CompileSource validates and compiles pipeline text. file is the
// workspace-relative name used in diagnostics and in the manifest.
func CompileSource(env Env, file string, src []byte, opts Options) (*Manifest, diag.List) {
	v := &validator{env: env, opts: opts, file: filepath.ToSlash(file), byID: map[string]*stepIR{}}
	// A UTF-8 byte-order mark (Windows editors write one) is not content,
	// as for osiris.toml and .env.
	v.run(bytes.TrimPrefix(src, utf8BOM))
	v.diags.Sort()
	if v.diags.HasErrors() {
		return nil, v.diags
	}
	m, err := v.manifest()
	if err != nil {
		v.errorf(pos{}, "internal", "", "", "building the manifest: %v", err)
		return nil, v.diags
	}
	return m, v.diags
}

func (v *validator) run(src []byte) {
	root, problems := parseTree(src)
	if len(problems) > 0 && root == nil {
		for _, p := range problems {
			v.errorf(pos{p.line, p.col}, p.code, "", p.hint, "%s", p.message)
		}
		return
	}
	v.root = root
	if root.kind != kindMap {
		v.errorf(root.pos(), "not-a-mapping", "", `a pipeline is a mapping with oml_version, name and steps`,
			"the top level of a pipeline must be a mapping, not %s", root.kindName())
		return
	}
	v.profile = v.activeProfile()
	v.checkTopLevel()
	v.checkParams()
	v.collectSteps()
	// Duplicate keys are known by path; name the step once steps are known.
	for _, p := range problems {
		v.errorf(pos{p.line, p.col}, p.code, v.stepForPath(p.path), p.hint, "%s", p.message)
	}
	for _, st := range v.steps {
		v.checkStep(st)
	}
	v.checkGraph()
	v.checkSlugName()
	v.checkSlug()
	v.checkInputNames()
	v.checkWriteTargets()
	v.checkTargets()
	v.checkMetadataSecrets()
	v.checkCompatVersion()
}

// checkCompatVersion refuses a compat oml_version when osiris would ignore
// a key of the pipeline (see compatOMLVersions).
func (v *validator) checkCompatVersion() {
	if v.compatVersion == "" {
		return
	}
	if len(v.ignoredKeys) == 0 {
		return
	}
	for i, d := range v.diags {
		if d.Code == "oml-version" && d.Line == v.compatVersionAt.line {
			v.diags = append(v.diags[:i], v.diags[i+1:]...)
			break
		}
	}
	v.errorf(v.compatVersionAt, "oml-version", "", `remove the keys osiris does not know, or write oml_version: "0.1.0"`,
		"oml_version %q is read as \"0.1.0\" only when every key is understood; osiris does not know %s", v.compatVersion, strings.Join(v.ignoredKeys, ", "))
}

func (v *validator) activeProfile() string {
	p := v.opts.Profile
	if p == "" {
		p = v.env.DefaultProfile()
	}
	if p == "" {
		p = DefaultProfile
	}
	if !profilePattern.MatchString(p) {
		v.errorf(pos{}, "bad-profile", "", "profile names are letters, digits, _ . - (they name a folder under build/)",
			"profile %q is not a valid name", p)
	}
	return p
}

// stepForPath returns the label of the step a YAML path is inside.
func (v *validator) stepForPath(path string) string {
	if !strings.HasPrefix(path, "steps[") {
		return ""
	}
	end := strings.IndexByte(path, ']')
	var i int
	if _, err := fmt.Sscanf(path[len("steps["):end], "%d", &i); err != nil || i < 0 || i >= len(v.steps) {
		return ""
	}
	if st := v.steps[i]; st != nil {
		return st.label
	}
	return ""
}

func (v *validator) checkTopLevel() {
	r := v.root
	for _, e := range r.entries {
		if hint, legacy := legacyTopLevelKeys[e.key]; legacy {
			v.errorf(e.pos(), "legacy-key", "", hint, "%q is not an OML 0.1.0 key", e.key)
			continue
		}
		// x-… keys are free (a place for anchors), as in docker-compose.
		if !contains(topLevelKeys, e.key) && !strings.HasPrefix(e.key, "x-") {
			v.warnf(e.pos(), "unknown-top-level-key", "", didYouMean(e.key, topLevelKeys),
				"unknown top-level key %q is ignored", e.key)
			v.ignoredKeys = append(v.ignoredKeys, fmt.Sprintf("%q (line %d)", e.key, e.line))
		}
	}
	top := pos{1, 1}
	if ov := r.get("oml_version"); ov == nil {
		v.errorf(top, "missing-key", "", `add oml_version: "0.1.0"`, "the pipeline has no oml_version")
	} else if s, ok := ov.val.str(); ok {
		switch {
		case s == OMLVersion:
		case contains(compatOMLVersions, s):
			v.compatVersion, v.compatVersionAt = s, ov.val.pos()
			v.warnf(ov.val.pos(), "oml-version", "", `write oml_version: "0.1.0" to silence this`,
				"oml_version %q is read as \"0.1.0\" (every key of this pipeline is understood)", s)
		default:
			v.errorf(ov.val.pos(), "oml-version", "", `osiris reads oml_version: "0.1.0"`, "oml_version %q is not supported", s)
		}
	} else if ov.val.kind == kindScalar {
		v.errorf(ov.val.pos(), "oml-version", "", `quote it: oml_version: "0.1.0"`,
			"oml_version is the number %s, not the string \"0.1.0\"", ov.val.text)
	} else {
		v.errorf(ov.val.pos(), "oml-version", "", `write oml_version: "0.1.0"`, "oml_version must be the string \"0.1.0\", not %s", ov.val.kindName())
	}
	if n := r.get("name"); n == nil {
		v.errorf(top, "missing-key", "", "add name: <pipeline-name>", "the pipeline has no name")
	} else if s, ok := n.val.str(); !ok || strings.TrimSpace(s) == "" {
		v.errorf(n.val.pos(), "bad-value", "", "write a name such as name: movies-daily", "name must be a non-empty string")
	}
	if d := r.get("description"); d != nil && d.val.kind != kindNull {
		if _, ok := d.val.str(); !ok {
			v.errorf(d.val.pos(), "bad-value", "", "", "description must be a string, not %s", d.val.kindName())
		}
	}
	if m := r.get("metadata"); m != nil && m.val.kind != kindNull && m.val.kind != kindMap {
		v.errorf(m.val.pos(), "bad-value", "", "metadata is a free mapping copied into the manifest", "metadata must be a mapping, not %s", m.val.kindName())
	}
	if s := r.get("steps"); s == nil {
		v.errorf(top, "missing-key", "", "add steps: a list of steps with id, component, mode and config", "the pipeline has no steps")
	} else if s.val.kind != kindSeq {
		v.errorf(s.val.pos(), "bad-value", "", "write steps as a list: each step starts with \"- id: ...\"", "steps must be a list, not %s", s.val.kindName())
	} else if len(s.val.items) == 0 {
		v.errorf(s.val.pos(), "bad-value", "", "add at least one step", "steps is empty")
	}
}

// collectSteps reads ids first, so needs and inputs can name later steps.
func (v *validator) collectSteps() {
	s := v.root.get("steps")
	if s == nil || s.val.kind != kindSeq {
		return
	}
	lower := map[string]*stepIR{}
	for i, sn := range s.val.items {
		st := &stepIR{idx: i, path: fmt.Sprintf("steps[%d]", i), node: sn}
		v.steps = append(v.steps, st)
		if sn.kind != kindMap {
			st.node = nil
			v.errorf(sn.pos(), "not-a-mapping", "", "each step is a mapping with id, component, mode and config",
				"%s must be a mapping, not %s", st.path, sn.kindName())
			continue
		}
		idE := sn.get("id")
		if idE == nil {
			v.errorf(sn.pos(), "missing-key", "", "add id: <step-id>", "%s has no id", st.path)
			continue
		}
		id, ok := idE.val.str()
		if !ok {
			v.errorf(idE.val.pos(), "bad-step-id", "", "quote it", "%s.id must be a string, not %s", st.path, idE.val.kindName())
			continue
		}
		st.id, st.label = id, id
		if !stepIDPattern.MatchString(id) {
			v.errorf(idE.val.pos(), "bad-step-id", id,
				"ids name folders and files: letters, digits, _ . -, starting with a letter or digit, at most 64 characters",
				"step id %q is not allowed", id)
			continue
		}
		if prev, dup := v.byID[id]; dup {
			v.errorf(idE.val.pos(), "duplicate-step-id", id, "step ids must be unique", "step id %q is already used by %s (line %d)", id, prev.path, prev.node.line)
			continue
		}
		if prev, dup := lower[strings.ToLower(id)]; dup {
			v.errorf(idE.val.pos(), "duplicate-step-id", id, "ids name files, and some file systems ignore case",
				"step id %q differs only in case from %q (%s)", id, prev.id, prev.path)
			continue
		}
		st.idOK = true
		v.byID[id] = st
		lower[strings.ToLower(id)] = st
	}
}

func (v *validator) stepIDs() []string {
	ids := make([]string, 0, len(v.byID))
	for id := range v.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (v *validator) checkStep(st *stepIR) {
	if st.node == nil {
		return
	}
	n := st.node
	for _, e := range n.entries {
		if hint, legacy := legacyStepKeys[e.key]; legacy {
			v.errorf(e.pos(), "legacy-key", st.label, hint, "%q is not an OML 0.1.0 step key", e.key)
			continue
		}
		if !contains(stepKeys, e.key) {
			v.warnf(e.pos(), "unknown-step-key", st.label, didYouMean(e.key, stepKeys), "unknown step key %q is ignored", e.key)
			v.ignoredKeys = append(v.ignoredKeys, fmt.Sprintf("%q (line %d)", e.key, e.line))
		}
	}
	v.checkComponent(st)
	v.checkNeeds(st)
	v.checkInputs(st)
	v.combineNeeds(st)
	v.checkCacheTimeout(st)
	v.checkConfig(st)
}

func (v *validator) checkComponent(st *stepIR) {
	n := st.node
	ce := n.get("component")
	switch {
	case ce == nil && n.get("uses") != nil:
		// reported as legacy-key
	case ce == nil:
		v.errorf(n.pos(), "missing-key", st.label, "add component: <name>; osiris components list shows them", "%s has no component", st.path)
	default:
		name, ok := ce.val.str()
		if !ok {
			v.errorf(ce.val.pos(), "bad-value", st.label, "", "component must be a string, not %s", ce.val.kindName())
			break
		}
		st.component = name
		spec, found := lookupSpec(name)
		if !found {
			hint := didYouMean(name, component.Names())
			if hint == "" {
				hint = "osiris components list shows the components"
			}
			v.errorf(ce.val.pos(), "unknown-component", st.label, hint, "unknown component %q", name)
			break
		}
		st.spec = &spec
	}
	me := n.get("mode")
	if me == nil {
		hint := "add mode: read, write or transform"
		if st.spec != nil {
			hint = "add mode: " + strings.Join(st.spec.Modes, " or ")
		}
		v.errorf(n.pos(), "missing-key", st.label, hint, "%s has no mode", st.path)
		return
	}
	mode, ok := me.val.str()
	if !ok {
		v.errorf(me.val.pos(), "bad-mode", st.label, "", "mode must be read, write or transform, not %s", me.val.kindName())
		return
	}
	st.mode = mode
	if !contains(modes, mode) {
		v.errorf(me.val.pos(), "bad-mode", st.label, didYouMean(mode, modes), "mode %q is not one of read, write, transform", mode)
		return
	}
	if st.spec != nil && !st.spec.HasMode(mode) {
		v.errorf(me.val.pos(), "bad-mode", st.label, "use mode: "+strings.Join(st.spec.Modes, " or "),
			"%s does not support mode %q", st.component, mode)
	}
}

func (v *validator) checkNeeds(st *stepIR) {
	ne := st.node.get("needs")
	if ne == nil {
		return
	}
	st.hasNeedsKey = true
	st.needsPos = ne.pos()
	var items []*yNode
	switch ne.val.kind {
	case kindNull:
	case kindSeq:
		items = ne.val.items
	case kindScalar:
		items = []*yNode{ne.val} // a single id is accepted as a one-element list
	default:
		v.errorf(ne.val.pos(), "bad-value", st.label, "write needs: [step-id, ...]", "needs must be a list of step ids, not %s", ne.val.kindName())
		return
	}
	for _, it := range items {
		id, ok := it.str()
		if !ok {
			v.errorf(it.pos(), "bad-value", st.label, "quote it", "needs entries are step ids (strings), not %s", it.kindName())
			continue
		}
		v.addNeed(st, id, it.pos(), "needs")
	}
}

// addNeed records one dependency after checking it exists.
func (v *validator) addNeed(st *stepIR, id string, p pos, via string) bool {
	if st.needAt == nil {
		st.needAt = map[string]pos{}
	}
	if _, seen := st.needAt[id]; !seen && id != st.id && v.byID[id] != nil {
		st.needAt[id] = p
	}
	if via == "inputs" {
		if !v.checkNeed(st, id, p, via) {
			return false
		}
		if !contains(st.inputNeeds, id) {
			st.inputNeeds = append(st.inputNeeds, id)
		}
		return true
	}
	if !v.checkNeed(st, id, p, via) {
		return false
	}
	if !contains(st.needs, id) {
		st.needs = append(st.needs, id)
	}
	return true
}

// checkNeed reports a dependency on itself or on a step that does not exist.
func (v *validator) checkNeed(st *stepIR, id string, p pos, via string) bool {
	if id == st.id {
		v.errorf(p, "self-need", st.label, "remove it", "step %s itself", map[string]string{"needs": "needs", "inputs": "takes an input from"}[via])
		return false
	}
	if _, ok := v.byID[id]; !ok {
		st.badNeeds++
		for _, other := range v.steps {
			if other.id == id && !other.idOK {
				// The step exists but its id was refused (bad-step-id,
				// duplicate): that error is the cause; say nothing here.
				return false
			}
		}
		code := "unknown-need"
		if via == "inputs" {
			code = "bad-input-ref"
		}
		v.errorf(p, code, st.label, didYouMean(id, v.stepIDs()), "%s %q, which no step has", map[string]string{"needs": "needs", "inputs": "takes an input from"}[via], id)
		return false
	}
	return true
}

func (v *validator) checkInputs(st *stepIR) {
	ie := st.node.get("inputs")
	if ie == nil || ie.val.kind == kindNull {
		return
	}
	if ie.val.kind != kindMap {
		v.errorf(ie.val.pos(), "bad-input-ref", st.label, `write inputs: {name: "${step-id.df}"}`, "inputs must be a mapping, not %s", ie.val.kindName())
		return
	}
	for _, e := range ie.val.entries {
		if !inputNamePattern.MatchString(e.key) {
			v.errorf(e.pos(), "bad-input-ref", st.label, "input names become SQL table names: letters, digits and _",
				"input name %q is not a valid table name", e.key)
			continue
		}
		ref, ok := e.val.str()
		m := inputRef.FindStringSubmatch(ref)
		if !ok || m == nil {
			v.errorf(e.val.pos(), "bad-input-ref", st.label, `write "${step-id.df}"`,
				"inputs.%s must reference a step as \"${step-id.df}\"", e.key)
			continue
		}
		target := m[1]
		if _, known := v.byID[target]; !known && strings.HasSuffix(target, ".df") {
			target = strings.TrimSuffix(target, ".df")
		}
		if v.addNeed(st, target, e.val.pos(), "inputs") {
			st.inputs = append(st.inputs, NamedInput{Name: e.key, Step: target})
		}
	}
	sort.Slice(st.inputs, func(i, j int) bool { return st.inputs[i].Name < st.inputs[j].Name })
}

// combineNeeds computes a step's dependencies: the needs as written, then
// steps named only in inputs (in declaration order, so reordering the
// inputs: keys does not change the manifest). With neither, the implicit
// rule (Osiris-Python's, made safe for "extract → write" pair lists):
//   - a step in mode read gets no dependency: extractors are roots and run
//     in parallel;
//   - a transform or writer depends on the nearest earlier step that
//     produces a table, skipping writers (they produce none), so
//     "extract-a, write-a, extract-b, write-b" pairs each writer with its
//     own extractor.
func (v *validator) combineNeeds(st *stepIR) {
	if st.hasNeedsKey || len(st.inputNeeds) > 0 {
		sort.SliceStable(st.inputNeeds, func(i, j int) bool {
			return v.byID[st.inputNeeds[i]].idx < v.byID[st.inputNeeds[j]].idx
		})
		for _, id := range st.inputNeeds {
			if !contains(st.needs, id) {
				st.needs = append(st.needs, id)
			}
		}
		return
	}
	if st.mode == "read" {
		return
	}
	for i := st.idx - 1; i >= 0; i-- {
		prev := v.steps[i]
		if prev.node == nil || !producesTable(prev) {
			continue
		}
		if !prev.idOK {
			return // an invalid id was reported; guessing past it would mislead
		}
		st.needs = []string{prev.id}
		st.implicit = true
		if st.needAt == nil {
			st.needAt = map[string]pos{}
		}
		st.needAt[prev.id] = st.node.pos()
		return
	}
}

// producesTable reports whether a step's output can feed another step:
// every component role but write. An unknown component counts by its mode.
func producesTable(st *stepIR) bool {
	if st.spec != nil {
		return st.spec.Role != component.RoleWrite
	}
	return st.mode != "write"
}

func (v *validator) checkCacheTimeout(st *stepIR) {
	st.cache = "auto"
	if ce := st.node.get("cache"); ce != nil && ce.val.kind != kindNull {
		val := v.resolveValue(st, ce.val, st.path+".cache")
		switch x := val.(type) {
		case bool:
			st.cache = map[bool]string{true: "auto", false: "off"}[x]
		case string:
			if x == "auto" || x == "off" {
				st.cache = x
			} else if d, err := parseDuration(x); err == nil && d > 0 {
				st.cache = strings.TrimSpace(x) // as the engine and the cache parse it
			} else {
				v.errorf(ce.val.pos(), "bad-cache", st.label, `use "auto", "off" or a duration such as "10m"`, "cache %q is not auto, off or a duration", x)
			}
		default:
			v.errorf(ce.val.pos(), "bad-cache", st.label, `use "auto", "off" or a duration such as "10m"`, "cache must be a string, not %s", valueKindName(val))
		}
	}
	if te := st.node.get("timeout"); te != nil && te.val.kind != kindNull {
		val := v.resolveValue(st, te.val, st.path+".timeout")
		s, ok := val.(string)
		d, err := parseDuration(s)
		if !ok || err != nil || d <= 0 {
			v.errorf(te.val.pos(), "bad-timeout", st.label, `write a duration such as "30m" or "90s"`, "timeout %s is not a positive duration", describeValue(val))
			return
		}
		st.timeout = strings.TrimSpace(s) // the engine parses it with time.ParseDuration
	}
}

func (v *validator) checkMetadataSecrets() {
	for _, key := range []string{"name", "description", "metadata"} {
		if e := v.root.get(key); e != nil {
			v.scanSecrets(e.val, key, "", "")
		}
	}
}

// scanSecrets reports secret-named keys holding literals and strings that
// carry a credential, anywhere below n, and values JSON cannot hold.
func (v *validator) scanSecrets(n *yNode, path, step, family string) {
	switch n.kind {
	case kindScalar:
		if s, ok := n.value.(string); ok && workspace.HasCredential(s) {
			v.errorf(n.pos(), "inline-secret", step, secretHint(family), "inline credential at %s (a URL or DSN with a password)", path)
		} else if v.holdsSecret(n.text) || (ok && v.holdsSecret(s)) {
			v.errorf(n.pos(), "inline-secret", step, knownSecretHint, "%s holds the value of a secret this workspace knows (a password, token or DSN from the environment, .env or a connection)", path)
		}
		if f, ok := n.value.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			v.errorf(n.pos(), "bad-value", step, "write a finite number", "%s is %s, which a manifest cannot hold", path, n.text)
		}
	case kindMap:
		for _, e := range n.entries {
			p := path + "." + e.key
			if workspace.IsSecretKey(e.key) && isLiteralSecret(e.val) {
				v.errorf(e.pos(), "inline-secret", step, secretHint(family), "inline secret at %s", p)
				continue
			}
			v.scanSecrets(e.val, p, step, family)
		}
	case kindSeq:
		for i, it := range n.items {
			v.scanSecrets(it, fmt.Sprintf("%s[%d]", path, i), step, family)
		}
	}
}

func secretHint(family string) string {
	if family == "" {
		family = "<family>"
	}
	return "move it into a connection in osiris.toml and reference it with `@" + family + ".<alias>`"
}

// isLiteralSecret: a value written under a secret-named key that would end
// up in build/. A ${VAR} reference is not (it is never expanded here) and
// neither is "@family.alias"; ${params.X} is, because params are compiled in.
func isLiteralSecret(n *yNode) bool {
	switch n.kind {
	case kindNull:
		return false
	case kindMap:
		return false // its own keys are checked one by one
	case kindSeq:
		return len(n.items) > 0
	}
	s, ok := n.value.(string)
	if !ok {
		return true
	}
	s = strings.TrimSpace(s)
	if s == "" || connectionRef.MatchString(s) {
		return false
	}
	if anyPlaceholder.MatchString(s) && anyPlaceholder.FindString(s) == s && !paramRef.MatchString(s) {
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%v (%s)", x, valueKindName(v))
	}
}
