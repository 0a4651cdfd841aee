package main

import (
	"flag"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/templates"
)

func (a *app) cmdInit(args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	force := fs.Bool("force", false, "overwrite an existing workspace's scaffold files")
	pos, err := a.parseFlags(fs, args, "init [DIR] [--force]")
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return diag.Usage("init takes at most one DIR, got %d arguments", len(pos))
	}
	base, err := a.workDir()
	if err != nil {
		return err
	}
	dir := base
	if len(pos) == 1 {
		dir = pos[0]
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(base, dir)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "osiris.toml")); err == nil && !*force {
		return diag.Usage("%s already has an osiris.toml; use --force to overwrite the scaffold files", dir)
	}
	name := projectName(filepath.Base(dir))
	written, err := writeScaffold(dir, name)
	if err != nil {
		return err
	}
	rel := dir
	if r, err := filepath.Rel(base, dir); err == nil && !strings.HasPrefix(r, "..") {
		rel = r
	}
	if a.json {
		return a.printJSON(map[string]any{"dir": dir, "files": written})
	}
	a.outf("Created workspace %q in %s (%d files).\n\nTry next:\n", name, rel, len(written))
	cd := ""
	if rel != "." {
		cd = "cd " + shellQuote(rel) + " && "
	}
	a.outf("  %sosiris validate\n", cd)
	a.outf("  %sosiris run pipelines/movies_offline.yaml\n", cd)
	return nil
}

// writeScaffold copies the embedded init templates into dir.
func writeScaffold(dir, name string) ([]string, error) {
	var written []string
	err := fs.WalkDir(templates.Init, "init", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "init")
		rel = strings.TrimPrefix(rel, "/")
		if rel == "" {
			return os.MkdirAll(dir, 0o755)
		}
		if nn, ok := templates.InitRename[path.Base(rel)]; ok {
			rel = path.Join(path.Dir(rel), nn)
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := templates.Init.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == "osiris.toml" {
			b = []byte(strings.ReplaceAll(string(b), "{{.Name}}", name))
		}
		if err := os.WriteFile(target, b, 0o644); err != nil {
			return err
		}
		written = append(written, filepath.ToSlash(rel))
		return nil
	})
	return written, err
}

var nonName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func projectName(s string) string {
	n := strings.Trim(nonName.ReplaceAllString(s, "-"), "-.")
	if n == "" {
		return "workspace"
	}
	return n
}

func shellQuote(s string) string {
	if regexp.MustCompile(`^[A-Za-z0-9_./-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
