package compile

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
)

// Slug names a pipeline's folder under build/ and run_logs/: the file's
// name without extension, prefixed by its sub-folders of the pipelines
// folder joined with "." — pipelines/daily.yaml is "daily",
// pipelines/sales/daily.yaml is "sales.daily" — so that two pipelines of
// one name in different folders never share a folder. A file outside the
// pipelines folder keeps its base name. file is workspace-relative (slash
// or OS separators); pipelinesDir is [paths].pipelines, workspace-relative.
// Two files that still share a slug (pipelines/a.x.yaml and
// pipelines/a/x.yaml, or x.yaml and x.yml) are refused by the validator.
func Slug(file string) string { return SlugIn(file, "pipelines") }

// SlugIn is Slug with the workspace's pipelines folder.
func SlugIn(file, pipelinesDir string) string {
	f := path.Clean(strings.ReplaceAll(file, `\`, "/"))
	base := path.Base(f)
	if ext := path.Ext(base); ext != "" && ext != base {
		base = strings.TrimSuffix(base, ext)
	}
	dir := path.Clean(strings.ReplaceAll(pipelinesDir, `\`, "/"))
	rel, ok := strings.CutPrefix(path.Dir(f), dir+"/")
	if !ok || dir == "." || path.IsAbs(f) != path.IsAbs(dir) {
		return base
	}
	return strings.ReplaceAll(rel, "/", ".") + "." + base
}

// ComputeHash returns manifest_hash: the fingerprint of the manifest with
// ManifestHash left out.
func (m *Manifest) ComputeHash() (string, error) {
	c := *m
	c.ManifestHash = ""
	return Fingerprint(&c)
}

// manifest builds the manifest of a pipeline that validated without errors.
func (v *validator) manifest() (*Manifest, error) {
	order, err := v.order()
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		Format:  ManifestFormat,
		Profile: v.profile,
		Params:  map[string]any{},
		Steps:   make([]Step, 0, len(order)),
	}
	for k, val := range v.paramValues {
		m.Params[k] = val
	}
	m.Pipeline = ManifestPipeline{Slug: v.slug(), File: v.file}
	m.Pipeline.Name, _ = v.root.get("name").val.str()
	if d := v.root.get("description"); d != nil {
		m.Pipeline.Description, _ = d.val.str()
	}
	if md := v.root.get("metadata"); md != nil && md.val.kind == kindMap && len(md.val.entries) > 0 {
		m.Pipeline.Metadata, _ = md.val.plain().(map[string]any)
	}

	stepFps := make(map[string]string, len(order))
	for _, st := range order {
		s := Step{
			ID:            st.id,
			Component:     st.component,
			Mode:          st.mode,
			Needs:         append([]string{}, st.needs...),
			ImplicitNeeds: st.implicit,
			Inputs:        st.inputs,
			Connection:    st.connection,
			Config:        st.effective,
			Cache:         st.cache,
			Timeout:       st.timeout,
			CfgPath:       "cfg/" + st.id + ".json",
		}
		fp, err := stepFingerprint(&s, stepFps)
		if err != nil {
			return nil, fmt.Errorf("step %q: %w", st.id, err)
		}
		s.Fingerprint = fp
		stepFps[st.id] = fp
		m.Steps = append(m.Steps, s)
	}

	fps := Fingerprints{StepFp: stepFps}
	if fps.OMLFp, err = Fingerprint(v.omlDocument()); err != nil {
		return nil, fmt.Errorf("oml_fp: %w", err)
	}
	if fps.ParamsFp, err = Fingerprint(m.Params); err != nil {
		return nil, fmt.Errorf("params_fp: %w", err)
	}
	if fps.RegistryFp, err = registryFingerprint(m.Steps); err != nil {
		return nil, fmt.Errorf("registry_fp: %w", err)
	}
	if fps.CompilerFp, err = CompilerFingerprint(); err != nil {
		return nil, fmt.Errorf("compiler_fp: %w", err)
	}
	m.Fingerprints = fps
	if m.ManifestHash, err = m.ComputeHash(); err != nil {
		return nil, fmt.Errorf("manifest_hash: %w", err)
	}
	return m, nil
}

// stepFingerprint is step_fp: component, mode, effective config, the named
// inputs and the upstream steps' ids and step_fps in needs order.
func stepFingerprint(s *Step, upstream map[string]string) (string, error) {
	type up struct {
		Step string `json:"step"`
		Fp   string `json:"fp"`
	}
	ups := make([]up, len(s.Needs))
	for i, n := range s.Needs {
		ups[i] = up{Step: n, Fp: upstream[n]}
	}
	inputs := s.Inputs
	if inputs == nil {
		inputs = []NamedInput{}
	}
	return Fingerprint(map[string]any{
		"component": s.Component,
		"mode":      s.Mode,
		"config":    s.Config,
		"inputs":    inputs,
		"upstream":  ups,
	})
}

// omlDocument is what oml_fp hashes: the pipeline as parsed, with params
// resolved in the steps, without the params and profiles sections.
func (v *validator) omlDocument() map[string]any {
	doc, _ := v.root.plain().(map[string]any)
	delete(doc, "params")
	delete(doc, "profiles")
	steps := make([]any, 0, len(v.steps))
	for _, st := range v.steps {
		sd, _ := st.node.plain().(map[string]any)
		if _, ok := sd["config"]; ok {
			sd["config"] = st.resolved
		}
		if _, ok := sd["cache"]; ok {
			sd["cache"] = st.cache
		}
		if _, ok := sd["timeout"]; ok {
			sd["timeout"] = st.timeout
		}
		steps = append(steps, sd)
	}
	doc["steps"] = steps
	return doc
}

// registryFingerprint is registry_fp: the specs of the components used,
// sorted by name.
func registryFingerprint(steps []Step) (string, error) {
	seen := map[string]bool{}
	var names []string
	for _, s := range steps {
		if !seen[s.Component] {
			seen[s.Component] = true
			names = append(names, s.Component)
		}
	}
	sort.Strings(names)
	specs := make([]component.Spec, 0, len(names))
	for _, n := range names {
		spec, ok := lookupSpec(n)
		if !ok {
			return "", fmt.Errorf("component %q is not registered", n)
		}
		specs = append(specs, spec)
	}
	return Fingerprint(specs)
}

// CompilerFingerprint is compiler_fp: the osiris version and the manifest
// format.
func CompilerFingerprint() (string, error) {
	return Fingerprint(map[string]string{"osiris_version": Version, "manifest_format": ManifestFormat})
}
