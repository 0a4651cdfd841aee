package compile

import (
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// PipelinesEnv is implemented by an Env that knows the workspace's
// pipelines folder ([paths].pipelines, workspace-relative or absolute).
type PipelinesEnv interface {
	PipelinesDir() string
}

func (v *validator) pipelinesDir() string {
	if pe, ok := v.env.(PipelinesEnv); ok && pe.PipelinesDir() != "" {
		d := pe.PipelinesDir()
		if filepath.IsAbs(d) {
			if r, err := filepath.Rel(v.env.Root(), d); err == nil && !strings.HasPrefix(r, "..") {
				return filepath.ToSlash(r)
			}
			return filepath.ToSlash(d)
		}
		return filepath.ToSlash(filepath.Clean(d))
	}
	return "pipelines"
}

// slug is the pipeline's folder name under build/ and run_logs/ (SlugIn).
func (v *validator) slug() string { return SlugIn(v.file, v.pipelinesDir()) }

// checkSlug refuses a pipeline whose slug another file of the pipelines
// folder has too: their manifests and runs would share one folder.
func (v *validator) checkSlug() {
	dir := v.pipelinesDir()
	root := filepath.Join(v.env.Root(), filepath.FromSlash(dir))
	if filepath.IsAbs(filepath.FromSlash(dir)) {
		root = filepath.FromSlash(dir)
	}
	mine := v.slug()
	self := v.pipelineAbs()
	var clash []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if p == self {
			return nil
		}
		rel, err := filepath.Rel(v.env.Root(), p)
		if err != nil {
			return nil
		}
		// Folder names that differ only in case are one folder on macOS and
		// Windows (and after a copy there).
		if strings.EqualFold(SlugIn(filepath.ToSlash(rel), dir), mine) {
			clash = append(clash, filepath.ToSlash(rel))
		}
		return nil
	})
	if len(clash) == 0 {
		return
	}
	sort.Strings(clash)
	caseOnly := ""
	for _, c := range clash {
		if SlugIn(c, dir) != mine {
			caseOnly = " (names that differ only in case are one folder on macOS and Windows)"
		}
	}
	v.errorf(pos{}, "slug-clash", "", "rename one of the files",
		"%s and %s both name the folder %q under build/ and run_logs/%s", v.file, strings.Join(clash, ", "), mine, caseOnly)
}
