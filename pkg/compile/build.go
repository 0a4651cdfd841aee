package compile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/osiris-go/osiris/internal/atomicfile"
)

// File names inside a manifest directory and next to it.
const (
	ManifestFile     = "manifest.yaml"
	PlanFile         = "plan.json"
	FingerprintsFile = "fingerprints.json"
	LatestFile       = "LATEST"
	// LastCompileFile, in the state directory, names the most recent
	// compile's manifest directory relative to the build directory.
	LastCompileFile = "last_compile"
)

// ManifestDirName is "<short>-<hash>": the manifest's SHA-256 in hex,
// prefixed by its first 7 characters so listings stay readable.
func ManifestDirName(m *Manifest) string {
	h := strings.TrimPrefix(m.ManifestHash, "sha256:")
	return m.ShortHash() + "-" + h
}

// ManifestRelDir is the manifest directory relative to the build directory:
// pipelines/<profile>/<slug>/<short>-<hash>.
func ManifestRelDir(m *Manifest) string {
	return "pipelines/" + m.Profile + "/" + m.Pipeline.Slug + "/" + ManifestDirName(m)
}

// WriteBuild writes a compiled manifest under root/buildDir (both may be
// relative to root or absolute) and records it as the last compile in
// root/stateDir. Files whose content is unchanged are not rewritten (their
// mtime is kept), so an unchanged recompile leaves the tree untouched; new
// content is written to a temporary file and renamed into place. dir is the
// absolute manifest directory; changed reports whether any file was written.
func WriteBuild(root, buildDir, stateDir string, m *Manifest) (dir string, changed bool, err error) {
	if err := checkWritable(m); err != nil {
		return "", false, err
	}
	files, err := buildFiles(m)
	if err != nil {
		return "", false, err
	}
	buildAbs := joinRoot(root, buildDir)
	pipeDir := filepath.Join(buildAbs, "pipelines", m.Profile, m.Pipeline.Slug)
	dir = filepath.Join(pipeDir, ManifestDirName(m))
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		changed, err = writeNewDir(pipeDir, dir, files)
		if err != nil {
			return "", changed, err
		}
	}
	if !changed { // an existing directory: repair what differs, touch nothing else
		for _, f := range files {
			w, err := writeIfChanged(filepath.Join(dir, filepath.FromSlash(f.name)), f.data)
			if err != nil {
				return "", changed, err
			}
			changed = changed || w
		}
	}
	w, err := writeIfChanged(filepath.Join(pipeDir, LatestFile), []byte(ManifestDirName(m)+"\n"))
	if err != nil {
		return "", changed, err
	}
	changed = changed || w
	w, err = writeIfChanged(filepath.Join(joinRoot(root, stateDir), LastCompileFile), []byte(ManifestRelDir(m)+"\n"))
	if err != nil {
		return "", changed, err
	}
	return dir, changed || w, nil
}

// LastCompile returns the absolute manifest directory of the most recent
// compile recorded in root/stateDir.
func LastCompile(root, buildDir, stateDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(joinRoot(root, stateDir), LastCompileFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no compile recorded in this workspace yet; run osiris compile first")
	}
	if err != nil {
		return "", fmt.Errorf("reading the last compile: %w", err)
	}
	rel := strings.TrimSpace(string(b))
	if rel == "" || escapesWorkspace(rel) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%s/%s holds %q, not a manifest directory; compile again", stateDir, LastCompileFile, rel)
	}
	return filepath.Join(joinRoot(root, buildDir), filepath.FromSlash(rel)), nil
}

func joinRoot(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// checkWritable refuses manifests whose names would not be safe path
// segments (the validator already refuses them in pipelines; a manifest
// built by other code gets the same protection).
func checkWritable(m *Manifest) error {
	if m == nil {
		return errors.New("write build: nil manifest")
	}
	want, err := m.ComputeHash()
	if err != nil {
		return fmt.Errorf("write build: %w", err)
	}
	if m.ManifestHash != want {
		return fmt.Errorf("write build: manifest_hash %s does not match the content (%s)", m.ManifestHash, want)
	}
	if !profilePattern.MatchString(m.Profile) {
		return fmt.Errorf("write build: profile %q is not a valid folder name", m.Profile)
	}
	if !stepIDPattern.MatchString(m.Pipeline.Slug) {
		return fmt.Errorf("write build: pipeline file name %q does not make a valid folder name (letters, digits, _ . -)", m.Pipeline.Slug)
	}
	for _, s := range m.Steps {
		if !stepIDPattern.MatchString(s.ID) {
			return fmt.Errorf("write build: step id %q is not a valid file name", s.ID)
		}
	}
	return nil
}

type buildFile struct {
	name string // slash-separated, relative to the manifest directory
	data []byte
}

func buildFiles(m *Manifest) ([]buildFile, error) {
	manifestYAML := marshalManifestYAML(m)
	// Never write a manifest that would not read back to itself.
	back, err := parseManifest(manifestYAML)
	if err != nil {
		return nil, fmt.Errorf("write build: manifest.yaml does not read back: %w", err)
	}
	if got, err := back.ComputeHash(); err != nil || got != m.ManifestHash {
		return nil, fmt.Errorf("write build: manifest.yaml does not read back to the same manifest (%s ≠ %s, %v)", got, m.ManifestHash, err)
	}
	files := []buildFile{{ManifestFile, manifestYAML}}
	for _, s := range m.Steps {
		cfg := s.Config
		if cfg == nil {
			cfg = map[string]any{}
		}
		b, err := indentedJSON(cfg)
		if err != nil {
			return nil, fmt.Errorf("write build: step %q config: %w", s.ID, err)
		}
		files = append(files, buildFile{s.CfgPath, b})
	}
	plan, err := indentedJSON(Plan(m))
	if err != nil {
		return nil, fmt.Errorf("write build: plan: %w", err)
	}
	fps, err := indentedJSON(struct {
		Fingerprints
		ManifestHash string `json:"manifest_hash"`
	}{m.Fingerprints, m.ManifestHash})
	if err != nil {
		return nil, fmt.Errorf("write build: fingerprints: %w", err)
	}
	return append(files, buildFile{PlanFile, plan}, buildFile{FingerprintsFile, fps}), nil
}

func indentedJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PlanDoc is plan.json: the DAG for tools and the report.
type PlanDoc struct {
	Pipeline string     `json:"pipeline"`
	Nodes    []PlanNode `json:"nodes"`
	Edges    []PlanEdge `json:"edges"`
	// Levels group step ids by depth: level 0 are roots; a step's level is
	// one more than its deepest upstream step's.
	Levels [][]string `json:"levels"`
}

// PlanNode is one step of the plan.
type PlanNode struct {
	ID        string `json:"id"`
	Component string `json:"component"`
	Mode      string `json:"mode"`
	Level     int    `json:"level"`
	Implicit  bool   `json:"implicit_needs,omitempty"`
}

// PlanEdge is one dependency: data flows From → To.
type PlanEdge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Input string `json:"input,omitempty"` // the inputs: name, when named
}

// Plan computes the DAG document of a manifest.
func Plan(m *Manifest) PlanDoc {
	p := PlanDoc{Pipeline: m.Pipeline.Slug, Nodes: []PlanNode{}, Edges: []PlanEdge{}, Levels: [][]string{}}
	level := map[string]int{}
	for _, s := range m.Steps {
		l := 0
		for _, n := range s.Needs {
			if level[n]+1 > l {
				l = level[n] + 1
			}
		}
		level[s.ID] = l
		p.Nodes = append(p.Nodes, PlanNode{ID: s.ID, Component: s.Component, Mode: s.Mode, Level: l, Implicit: s.ImplicitNeeds})
		for len(p.Levels) <= l {
			p.Levels = append(p.Levels, []string{})
		}
		p.Levels[l] = append(p.Levels[l], s.ID)
		for _, n := range s.Needs {
			e := PlanEdge{From: n, To: s.ID}
			for _, in := range s.Inputs {
				if in.Step == n {
					e.Input = in.Name
					break
				}
			}
			p.Edges = append(p.Edges, e)
		}
	}
	return p
}

// writeNewDir writes a manifest directory that does not exist yet: every
// file into a temporary sibling directory, then one rename, so the directory
// appears complete or not at all, with one open and close per file instead
// of a temporary file and a rename each (W5: 1,000 steps, 1,003 files). When
// another compile renamed the same directory first, its content is the same
// (the name is the content hash) and the caller's per-file check confirms it.
func writeNewDir(parent, dir string, files []buildFile) (bool, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return false, fmt.Errorf("write build: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return false, fmt.Errorf("write build: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	if err := os.Chmod(tmp, 0o755); err != nil {
		return false, fmt.Errorf("write build: %w", err)
	}
	made := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f.name))
		if d := filepath.Dir(p); !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return false, fmt.Errorf("write build: %w", err)
			}
			made[d] = true
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return false, fmt.Errorf("write build: %s: %w", f.name, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return false, nil // written by a concurrent compile
		}
		return false, fmt.Errorf("write build: %w", err)
	}
	return true, nil
}

// writeIfChanged writes data to path unless the file already holds exactly
// data. It writes a temporary file in the same directory and renames it, so
// readers never see half a file.
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := atomicfile.Write(path, data, atomicfile.Options{MkdirAll: true}); err != nil {
		return false, fmt.Errorf("write build: %s: %w", filepath.Base(path), err)
	}
	return true, nil
}

// LoadManifest reads dir/manifest.yaml and verifies its manifest_hash, so a
// manifest edited after compile is refused rather than run.
func LoadManifest(dir string) (*Manifest, error) {
	src, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("load manifest: %w", err)
	}
	m, err := parseManifest(src)
	if err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("load manifest %s: format %q is not %q; compile the pipeline again with this osiris", dir, m.Format, ManifestFormat)
	}
	want, err := m.ComputeHash()
	if err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", dir, err)
	}
	if m.ManifestHash != want {
		return nil, fmt.Errorf("load manifest %s: manifest_hash does not match the content (the file was edited after compile); compile the pipeline again", dir)
	}
	return m, nil
}

// parseManifest reads manifest.yaml text with the same positioned parser
// pipelines use, then maps it onto Manifest through JSON.
func parseManifest(src []byte) (*Manifest, error) {
	root, problems := parseTree(src)
	if root == nil || len(problems) > 0 {
		if len(problems) > 0 {
			p := problems[0]
			return nil, fmt.Errorf("line %d:%d: %s", p.line, p.col, p.message)
		}
		return nil, errors.New("not a manifest")
	}
	if root.kind != kindMap {
		return nil, errors.New("not a manifest: the top level is not a mapping")
	}
	if f := root.get("manifest_format"); f == nil {
		return nil, errors.New("not a manifest: no manifest_format")
	} else if s, _ := f.val.str(); s != ManifestFormat {
		return nil, fmt.Errorf("format %q is not %q; compile the pipeline again with this osiris", s, ManifestFormat)
	}
	raw, err := json.Marshal(root.plain())
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	m.Params = normalizeNumbers(m.Params).(map[string]any)
	if m.Params == nil {
		m.Params = map[string]any{}
	}
	if m.Pipeline.Metadata != nil {
		m.Pipeline.Metadata = normalizeNumbers(m.Pipeline.Metadata).(map[string]any)
	}
	for i := range m.Steps {
		if m.Steps[i].Needs == nil {
			m.Steps[i].Needs = []string{}
		}
		if m.Steps[i].Config == nil {
			m.Steps[i].Config = map[string]any{}
		}
		m.Steps[i].Config = normalizeNumbers(m.Steps[i].Config).(map[string]any)
	}
	return &m, nil
}

// normalizeNumbers turns json.Number into int64 (integers) or float64.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
		return x
	case json.Number:
		s := x.String()
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return n
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
		return s
	}
	return v
}
