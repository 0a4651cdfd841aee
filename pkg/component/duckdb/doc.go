// Package duckdb holds the DuckDB components (duckdb.processor,
// duckdb.writer, duckdb.extractor) and the DuckDB plumbing other drivers
// share: a Session (one database, one connection, its Arrow handle), Arrow
// views over record readers, queries returned as Arrow streams that keep the
// database alive until released, and Rebatch.
//
// Data crosses between Go and DuckDB only as Arrow (the C data interface):
// never row by row through database/sql.
//
// Types through DuckDB (input Arrow type → what a SELECT * returns):
// intN/uintN, float32/64, bool, utf8, binary, date32 and decimal128(p≤38)
// come back unchanged (uint64 stays uint64 via UBIGINT); large_utf8 comes
// back as utf8; timestamp[s|ms|us|ns] keeps its unit; a timestamp with any
// time zone becomes TIMESTAMPTZ and comes back as timestamp[us, tz=UTC]
// (the same instants; the session time zone is always UTC). DuckDB's own
// HUGEINT/UHUGEINT come out as decimal128(38,0). decimal256 (MySQL
// DECIMAL(p,s) or PostgreSQL numeric(p,s) with p > 38) is refused before
// DuckDB sees it, naming the column, DuckDB's 38-digit limit and the casts
// that fit (DECIMAL(38,s), or text to keep every digit): no DuckDB type
// holds it without loss.
//
// duckdb.writer reads its input through a view over the Arrow stream (that
// is how DuckDB's C API scans Arrow, and the view it makes is persistent).
// The view gets a random name, is created inside the write's transaction and
// dropped before the commit, so no database file ever holds it: a view over
// a stream that is gone crashes whoever reads it. The osiris_write_input
// view that earlier versions left in a file is dropped on the file's next
// write.
//
// Column names equal except for case are refused (DuckDB would rename one
// silently): in the processor's and the extractor's results and in the
// writer's input, before the database is opened.
//
// What SQL reads (sqlio.go). AnalyzeQuery parses a query with DuckDB's own
// parser (json_serialize_sql, in a shared in-memory database that never
// runs a query; results are cached by query text: ~10 ms to open it once,
// ~0.3 ms per new query, ~25 ns per cached one) and walks the tree: the
// first argument of every file function (read_csv, read_csv_auto,
// read_parquet, parquet_scan, read_json*, read_ndjson*, read_text,
// read_blob, glob, sniff_csv, parquet_metadata/_schema/…, any other read_*
// or *_scan) and every replacement scan (FROM 'x.csv', a name ending in
// .csv, .tsv, .parquet, .json, .jsonl or .ndjson, optionally .gz/.zst) is a
// read, as written — a glob stays a glob; query('…') is parsed in turn. A
// path argument that is not a string literal (or a list of them) makes the
// reads unknown, with where it is; now(), current_timestamp, current_date,
// today(), random(), uuid(), gen_random_uuid(), setseed(), nextval() and
// USING SAMPLE without a seed make the query non-deterministic. That is the
// IO hook of duckdb.processor and duckdb.extractor: component.StepPaths
// gives the validator, the engine's step cache, remote sync and watch the
// same list. ${params.x} is substituted before (compiled configs).
//
// SQL only reads. json_serialize_sql handles SELECT statements only (also
// several, DESCRIBE, SUMMARIZE, SHOW, VALUES, FROM-first); anything else —
// COPY … TO, EXPORT DATABASE, CREATE (also TEMP), INSERT, ATTACH, SET,
// PRAGMA, INSTALL/LOAD — is refused at validate and again by the driver
// (NotSelectError), pointing to a filesystem.csv_writer or duckdb.writer
// step: no component lets a query declare an output, and a file written by
// SQL would be invisible to the engine, the cache and remote sync. The
// driver also applies the workspace rules to each literal path before
// DuckDB sees the query (a clear message instead of "Permission Error").
//
// Confinement (access.go): a processor whose reads are known may read
// exactly those files (QueryAccess: each literal path, a glob's folder when
// it is data) plus its temp directory, so the step cache's key and remote
// sync can never miss a file the query reads — a read the parser did not
// see fails. Otherwise (a path built at run time; duckdb.extractor, whose
// database instance is shared by every session on the file) a session may
// read Files.DataPaths: real paths, no folder that is or holds a protected
// entry (see package workspace), plus its temp directory and database
// file. DuckDB refuses the rest itself, also paths built at run time. A database file has one DuckDB instance per
// process (duckdb-go's instance cache) whose settings every session shares,
// so OpenConfined holds a per-file lock from open until the instance is
// confined: ten duckdb.extractor steps opening one file at once used to
// fail at random ("Cannot change allowed_paths when enable_external_access
// is disabled", 3 of 7 runs of a 10-branch pipeline). One instance per step
// is not possible for a file (the instance cache hands out the open one,
// and a second instance of one file in a process cannot take its lock);
// the lock is held only for the open and four SET statements, and steps on
// different files do not share it. 50 rounds of 10 concurrent extractors on
// one file take about 6 s on a loaded 2-core machine, with 0 failures
// (TestParallelExtractorsOneFile; the old code failed in round 2).
//
// The package needs the duckdb_arrow build tag.
//
// It is not the engine: it never writes artifacts or counts rows for events.
package duckdb

// A build without the duckdb_arrow tag stops in internal/buildtag with one
// line that names the tag.
import _ "github.com/osiris-go/osiris/internal/buildtag"
