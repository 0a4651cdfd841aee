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
package exec
