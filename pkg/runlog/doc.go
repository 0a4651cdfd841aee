// Package runlog reads recorded runs back: the run index
// (<state>/index/runs.jsonl, rebuilt from the run directories when it is
// missing or damaged), listing and selecting runs (`last`,
// `last:<pipeline>`, unique id prefixes), a run's detail and events (also
// while it is still going), diffs between two runs, retention (gc), and the
// static HTML site: run_logs/index.html and a self-contained report.html
// per run directory.
//
// It reads what pkg/exec records and writes only derived files (the index
// when it rebuilds or collects it, the HTML pages) and, for gc, removes run
// directories. It never runs a pipeline and never touches build/. Packages
// never print: the CLI (cmd/osiris/logs.go) formats what this package
// returns.
package runlog
