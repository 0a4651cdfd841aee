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
//
// # Memory
//
// One budget ([run] memory_budget) bounds the run's data in memory, shared
// this way (share.go):
//
//   - Held step outputs come first: each output's Arrow batches stay in
//     memory while the sum of all held outputs fits the budget; a step whose
//     batches no longer fit drops its copy and its consumers read parquet.
//     A copy goes as soon as every consumer is done with it.
//   - A step's own engine (DuckDB) gets the rest: Request.WorkingMemory is
//     the budget less what held outputs use, never less than a quarter of
//     the budget or 64 MiB. duckdb.* drivers set it as DuckDB's
//     memory_limit and spill beyond it to the step's temp directory
//     (<run>/.tmp/<step>; database files spill to <file>.tmp).
//   - A consumer that copies an input into its own engine reads it with
//     component.OpenOnce: when no other consumer needs the memory copy, the
//     batches are handed over and each is freed (with its share of the
//     budget) as DuckDB takes it, and the freed pages go back to the
//     operating system, so one table is never held twice. DoneReading then
//     counts the consumer off; the processor raises DuckDB's limit by what
//     the input left.
//
// Budgets "0" and "unlimited" give DuckDB no limit (its default, 80 % of
// RAM). What the budget does not count: the batches in flight per running
// step, parquet encoding buffers, and the Go runtime's own overhead (the
// CLI's GOMEMLIMIT of budget + 128 MiB keeps the garbage collector close).
// Those are bounded by bytes, not only rows: a batch (drivers,
// Request.BatchBytes), a parquet row group being encoded and a batch read
// back from parquet each hold at most about an eighth of the budget
// (between 1 MiB and 64 MiB; 64 MiB for budgets "0" and "unlimited"), so
// wide TEXT/BLOB values neither overflow Arrow's 32-bit offsets nor
// multiply the process's memory.
//
// # Streaming
//
// With [run] streaming (the default; Options.Streaming), a consumer may
// start while its upstream still runs (stream.go): once the upstream's tee
// knows the schema its output is open, and the scheduler starts a ready
// consumer and subscribes it before any step started with it takes a
// batch. Every batch then goes to the parquet artifact, the digest and the
// stream; a subscriber's reader hands the batches over as they are
// published and lets each go once it has moved past it, and a batch every
// subscriber has taken leaves memory unless the stream still holds the
// whole table for a consumer that has not started (while the budget
// allows, as without streaming). The stream ends for its readers only
// after the producing step has completed: artifact committed, digest and
// step_complete recorded. So a writer, which commits only at the end of
// its input, never commits a table whose upstream failed: the upstream's
// failure is its readers' error, and the consumer ends cancelled (the
// upstream is the run's failed step). A failing consumer stops the run as
// any failed step does, its upstream included.
//
// Memory: beyond what it holds for consumers not yet started, a stream
// keeps at most four batches ahead of its slowest subscriber, counted in
// the budget when they fit (like batches in flight otherwise). When it is
// that far ahead, a subscriber with one input applies back-pressure (the
// producer waits; it waits on nothing else, so this cannot deadlock); a
// subscriber with several inputs may be busy reading another one, so it is
// detached instead and reads the rest from the committed parquet artifact,
// from the first row it did not get. A consumer that starts too late to
// get every batch waits for the step's end and reads memory or parquet as
// without streaming. inputs_resolved says stream, memory or parquet.
//
// Only steps the step cache would execute anyway stream, since a step's
// key needs its inputs' table digests: writers (unless --reuse-writes)
// and, without a step cache or with --no-cache, transforms. Their key is
// computed when the inputs are complete. With streaming = false a step
// starts only after all its inputs completed, as before streaming existed.
//
// # Step cache
//
// RunEnv.StepCache (stepcache.go and the files it names) reuses the output
// of an extractor or transform from an earlier run of the workspace when
// its key is unchanged: step_fp, the inputs' table digests, the SHA-256 of
// every file it reads (component.StepPaths, the one rule for what a step
// touches), its connection's identity (an HMAC under the workspace's
// identity.key, secrets included) and the engine (StepCache.Engine, the
// parquet codec, batch rows, row-group bytes). Transforms and file
// extractors are reused whenever the key matches; database extractors only
// within `cache: "<duration>"` or with ReuseExtracts. A hit copies (or
// reflinks) the artifact into the new run directory and checks its SHA-256
// first; run directories never share a file.
//
// Writers always execute. Only StepCache.ReuseWrites (`osiris watch
// --reuse-writes`) skips one, never an append: when the write ledger says
// the last thing this workspace wrote to the same target came from the same
// key (writeledger.go). A skipped writer ends with step_skipped, status
// skipped, ReusedRun set and 0 rows everywhere; the run still succeeds.
//
// A step that must not be reused (cache: off, an IO hook's NonDeterministic
// or ReadsUnknown) reports cache "off" and cache_reason, and is not
// recorded. Every step_complete says cache hit, miss or off, and why when
// there is more to say than a matching key: that is how a user sees why a
// step ran (`osiris run -v` prints it).
package exec
