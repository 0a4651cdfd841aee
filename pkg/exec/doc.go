// Package exec is the osiris run engine: it executes a compiled manifest's
// DAG of steps, runs the hybrid cache (every step output teed to a parquet
// artifact, to memory while the run's budget allows, to a row counter and a
// table digest), emits the run's event stream and metrics, and records a run
// locally (the run directory and the run index).
//
// The same Engine.Run serves `osiris run`, `osiris watch` and the remote
// sandbox worker; it knows nothing of terminals, transports or sandboxes and
// never switches on component names: drivers come from the component
// registry. Reading runs back (listing, diffing, reports) belongs to
// pkg/runlog, which builds on ReadIndex and the files recorded here.
package exec
