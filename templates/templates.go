// Package templates holds the files osiris writes for users, embedded in the
// binary: the `osiris init` scaffold (init/). Dot-files are stored without
// their dot (env.example → .env.example, gitignore → .gitignore) so that
// tooling does not treat them as this repository's own.
package templates

import "embed"

// Init is the workspace scaffold written by `osiris init`.
//
//go:embed all:init
var Init embed.FS

// InitRename maps scaffold file names to the names they get in a workspace.
var InitRename = map[string]string{
	"env.example": ".env.example",
	"gitignore":   ".gitignore",
}

// Report holds the templates of the static run pages (pkg/runlog):
// report/report.html.tmpl (one run) and report/index.html.tmpl (every run).
// They are html/template files: every value is escaped by context.
//
//go:embed report/*.tmpl
var Report embed.FS
