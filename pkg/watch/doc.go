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
// unchanged (a comment) reruns nothing.
//
// It is not the engine and not the terminal: compiling and running go
// through Project, which the command implements with the same code as
// `osiris run`; what happens is handed to Options.Report, and the command
// prints it. Within a rerun the step cache of pkg/exec serves the steps
// whose inputs did not change.
package watch
