// Package watch is osiris watch mode: it runs pipelines, watches the
// workspace (pipeline files, osiris.toml, .env and every file a step reads)
// and reruns what a saved change affects, until its context is cancelled.
//
// The loop is Hugo's: file events (inotify through fsnotify, or polling of
// modification times and sizes with Options.Poll) are collected until
// Options.Debounce passes without a new one, then the changed pipelines are
// recompiled and the affected ones rerun. A pipeline that no longer
// validates is reported and keeps its last good manifest; a run still in
// progress for a pipeline that must rerun is cancelled (writers roll back)
// and recorded before the new run starts. run_logs/, build/ and .osiris/ are
// never watched, and a file a pipeline writes never reruns that pipeline, so
// a run cannot trigger itself. A change that leaves a pipeline's manifest
// unchanged (a comment) reruns nothing; after osiris.toml or .env changed,
// only the pipelines whose manifest or used configuration (Project.UsedConfig:
// resolved connections, secrets included, kept as a keyed hash in memory)
// changed rerun. A pipeline named in Options.Pipelines that is deleted and
// comes back is watched again. With Options.Retry a failed run is rerun
// after that long.
//
// Each pipeline has one runner goroutine. A request and its wake token are
// set and taken together under the pipeline's lock, so a token always means
// a request not yet taken: a run is cancelled as superseded only for a newer
// request, which then runs.
//
// It is not the engine and not the terminal: compiling and running go
// through Project, which the command implements with the same code as
// `osiris run`; what happens is handed to Options.Report, and the command
// prints it. Within a rerun the step cache of pkg/exec serves the steps
// whose inputs did not change.
package watch
