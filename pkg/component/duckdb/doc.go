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
// The package needs the duckdb_arrow build tag.
//
// It is not the engine: it never writes artifacts or counts rows for events.
package duckdb

// A build without the duckdb_arrow tag stops in internal/buildtag with one
// line that names the tag.
import _ "github.com/osiris-go/osiris/internal/buildtag"
