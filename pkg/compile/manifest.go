package compile

// ManifestFormat versions the layout of manifest.yaml; part of compiler_fp.
const ManifestFormat = "osiris.manifest/v1"

// Manifest is the compiled, secret-free plan of one pipeline: what the
// engine executes. It is written as build/…/manifest.yaml and read back by
// LoadManifest. Steps are in a fixed topological order (Kahn's algorithm,
// ties broken by declaration order).
type Manifest struct {
	Format   string           `json:"manifest_format" yaml:"manifest_format"`
	Pipeline ManifestPipeline `json:"pipeline" yaml:"pipeline"`
	Profile  string           `json:"profile" yaml:"profile"`
	// Params are the effective params after resolution.
	Params       map[string]any `json:"params" yaml:"params"`
	Steps        []Step         `json:"steps" yaml:"steps"`
	Fingerprints Fingerprints   `json:"fingerprints" yaml:"fingerprints"`
	// ManifestHash is sha256:<hex> of the manifest with this field empty.
	ManifestHash string `json:"manifest_hash,omitempty" yaml:"manifest_hash,omitempty"`
}

// ManifestPipeline identifies the source pipeline.
type ManifestPipeline struct {
	Name        string         `json:"name" yaml:"name"`
	Slug        string         `json:"slug" yaml:"slug"` // file name without extension
	File        string         `json:"file" yaml:"file"` // workspace-relative, forward slashes
	Description string         `json:"description,omitempty" yaml:"description,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty" yaml:"metadata,omitempty"`
}

// Step is one compiled step.
type Step struct {
	ID        string `json:"id" yaml:"id"`
	Component string `json:"component" yaml:"component"`
	Mode      string `json:"mode" yaml:"mode"`
	// Needs are the upstream step ids in declaration order.
	Needs []string `json:"needs" yaml:"needs"`
	// ImplicitNeeds is true when Needs came from Osiris-Python's "previous
	// step" rule (no needs key written).
	ImplicitNeeds bool `json:"implicit_needs,omitempty" yaml:"implicit_needs,omitempty"`
	// Inputs name upstream steps for the step (name → step id), sorted by name.
	Inputs []NamedInput `json:"inputs,omitempty" yaml:"inputs,omitempty"`
	// Connection is the resolved reference "@family.alias" (the family's
	// default filled in), or "" for none. Never the connection's values.
	Connection string `json:"connection,omitempty" yaml:"connection,omitempty"`
	// Config is the effective config: defaults filled, params resolved.
	Config  map[string]any `json:"config" yaml:"config"`
	Cache   string         `json:"cache" yaml:"cache"`                         // "auto", "off" or a duration
	Timeout string         `json:"timeout,omitempty" yaml:"timeout,omitempty"` // duration or ""
	// CfgPath is "cfg/<id>.json", relative to the manifest directory.
	CfgPath string `json:"cfg_path" yaml:"cfg_path"`
	// Fingerprint is step_fp: component, mode, effective config, upstream step_fps.
	Fingerprint string `json:"step_fp" yaml:"step_fp"`
}

// NamedInput is one entry of a step's `inputs:`.
type NamedInput struct {
	Name string `json:"name" yaml:"name"`
	Step string `json:"step" yaml:"step"`
}

// Fingerprints are sha256:<hex> of canonical JSON (spec 02).
type Fingerprints struct {
	OMLFp      string            `json:"oml_fp" yaml:"oml_fp"`
	ParamsFp   string            `json:"params_fp" yaml:"params_fp"`
	RegistryFp string            `json:"registry_fp" yaml:"registry_fp"`
	CompilerFp string            `json:"compiler_fp" yaml:"compiler_fp"`
	StepFp     map[string]string `json:"step_fp" yaml:"step_fp"`
}

// Step returns the step with id, or nil.
func (m *Manifest) Step(id string) *Step {
	for i := range m.Steps {
		if m.Steps[i].ID == id {
			return &m.Steps[i]
		}
	}
	return nil
}

// Consumers returns the ids of steps that need id, in manifest order.
func (m *Manifest) Consumers(id string) []string {
	var out []string
	for _, s := range m.Steps {
		for _, n := range s.Needs {
			if n == id {
				out = append(out, s.ID)
				break
			}
		}
	}
	return out
}

// ShortHash is the first 7 hex characters of the manifest hash.
func (m *Manifest) ShortHash() string {
	h := m.ManifestHash
	if len(h) > 7 && h[:7] == "sha256:" {
		h = h[7:]
	}
	if len(h) > 7 {
		h = h[:7]
	}
	return h
}
