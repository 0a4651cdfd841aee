// Package postgres holds the PostgreSQL/Supabase drivers: supabase.writer
// (alias postgres.writer) and supabase.extractor (alias postgres.extractor).
// It is for moving Arrow tables in and out of PostgreSQL exactly and fast; it
// is not a general SQL client, and it never writes artifacts (the engine
// tees every stream to parquet).
//
// # Writer
//
// Rows go in as one binary COPY spanning all input batches, encoded
// straight from the Arrow buffers (copyenc.go, numeric.go): no per-value
// interface boxing, no text round trip. Every mode runs in one transaction;
// any failure — a constraint violated in the middle of the data, the
// connection killed mid-COPY, the context cancelled — rolls it back and
// leaves the target exactly as it was.
//
//   - append: COPY into the target.
//   - replace: TRUNCATE the target (DELETE when another table references it
//     with a foreign key), then COPY into it, then commit. Measured on
//     PostgreSQL 15 with 500k movies rows into a table keyed on a bigint:
//     TRUNCATE+COPY ≈ 0.55–0.7 s; COPY into an unkeyed staging table, then
//     TRUNCATE+INSERT … SELECT ≈ 0.85–1.05 s; staging + ADD PRIMARY KEY +
//     drop/rename ≈ 0.57 s. The swap is no faster and loses the table's
//     identity (grants, RLS policies — Supabase relies on them —, comments,
//     dependent views, foreign keys), so replace keeps the table and reloads
//     it. After a TRUNCATE the table's keys and indexes are dropped for the
//     load and rebuilt (same names and definitions) before the commit: one
//     index build is faster than maintaining the key row by row (W2, 2M
//     rows: write step 2.1 s → 1.6 s). A duplicate key then fails the
//     rebuild, and the transaction rolls back. Cost of these choices:
//     readers wait on the ACCESS EXCLUSIVE lock for the whole load (they see
//     the old table or the new one, never half).
//   - upsert: COPY into a TEMP staging table (ON COMMIT DROP, the target's
//     column types, no constraints), then INSERT … SELECT … ON CONFLICT
//     (primary_key) DO UPDATE SET every other input column (DO NOTHING when
//     all input columns are key columns). merge is the same mode.
//   - delete+insert: the same staging table, then DELETE … USING (SELECT
//     DISTINCT delete_key FROM staging), then INSERT … SELECT.
//
// Into an existing table, append, merge and delete+insert first apply
// schema_evolution (evolve.go) inside the same transaction: ALTER TABLE
// ADD COLUMN (nullable) for new input columns, ALTER COLUMN TYPE for
// integers and numerics that need widening; text arriving for a number
// column, or a NOT NULL column without a default missing from the input,
// fails before any DDL or COPY runs. With fail, any difference fails.
//
// When an input column's Arrow type has no direct binary encoding into the
// existing target column's type (e.g. utf8 into integer, which only replace
// still accepts: schema_evolution refuses it), the load goes
// through a TEMP staging table with the natural types below and an
// INSERT … SELECT col::target_type, so PostgreSQL's own casts decide.
// Direct encodings: any integer into smallint/integer/bigint (range checked),
// real, double precision and numeric; floats into real/double precision;
// decimals into numeric (PostgreSQL applies the column's typmod); strings into
// text/varchar/char/name/json/xml/enums, jsonb and uuid; binaries into bytea;
// dates into date; timestamps into timestamp and timestamptz; times into
// time; durations into interval.
//
// Input columns are matched to target columns by name (exactly, else one
// case-insensitive match); target columns missing from the input get their
// defaults. After loading, the rows COPY stored (its command tag) and the
// rows the final INSERT wrote are checked against the rows sent and the rows
// the input table reports; any difference fails the step and rolls back.
//
// create_if_missing creates the target (with primary_key) from the Arrow
// schema:
//
//	int8, int16, uint8          smallint
//	int32, uint16               integer
//	int64, uint32               bigint
//	uint64                      numeric(20,0)
//	float32 / float64           real / double precision
//	decimal128/256(p,s)         numeric(p,s)   (s < 0: numeric(p−s,0))
//	utf8, large_utf8, view      text
//	binary (all kinds)          bytea
//	bool                        boolean
//	date32, date64              date
//	timestamp, no time zone     timestamp      (the wall clock, never shifted)
//	timestamp with time zone    timestamptz    (the UTC instant)
//	time32, time64              time
//	duration                    interval       (microseconds, no days/months)
//	null                        text
//
// Binary encodings are exact: numerics as base-10000 digits with weight,
// sign and dscale from the decimal's unscaled integer; dates as days and
// timestamps as microseconds from 2000-01-01. Nanosecond values lose their
// last three digits (PostgreSQL keeps microseconds), counted in a
// "sub-microsecond-truncated" warning.
//
// create_if_missing takes a transaction-scoped advisory lock
// (pg_advisory_xact_lock on the table's name) before creating, so runs that
// find the table missing at once all succeed: the first creates it, the
// others wait and load into it. A PostgreSQL table whose foreign key points
// at its own key (employees.manager_id → employees.id) is reloaded with the
// key rebuilt before that foreign key.
//
// # Extractor
//
// `query`, or `table` (+ schema, columns, where, limit). The statement is
// described first; columns of the types below come back in binary and are
// decoded from pgconn's raw values into Arrow builders (no boxing), every
// other type comes back as text into utf8. Rows are read from the socket
// only as batches of req.BatchRows are asked for; cancelling the context or
// releasing the reader early cancels the query.
//
//	smallint/integer/bigint     int16/int32/int64
//	real/double precision       float32/float64
//	numeric(p,s), p ≤ 38        decimal128(p,s)
//	numeric(p,s), p ≤ 76        decimal256(p,s)
//	numeric unconstrained,      utf8, with a "numeric-as-text" warning
//	  p > 76 or negative scale
//	text/varchar/char/name/json utf8 (jsonb, uuid, enums and all others via text)
//	bytea                       binary
//	boolean                     bool
//	date                        date32
//	timestamp                   timestamp[µs]
//	timestamptz                 timestamp[µs, UTC]
//	time                        time64[µs]
//	interval                    utf8, exact: "1 year 2 months 3 days 04:05:06.5",
//	                            "-1 day -00:00:00.000001", "00:00:00" (see below)
//
// ±infinity dates/timestamps and NaN/±Infinity numerics have no Arrow
// value: they become NULL, counted in a warning.
//
// interval is text because nothing else both holds it exactly and survives
// the parquet artifact: a PostgreSQL interval is three independent fields
// (months, days, microseconds; '1 month' is not '30 days'), Arrow's
// month_day_nano interval matches them but pqarrow cannot write it, and a
// duration would have to count a month as 30 days. The text is the form
// DuckDB prints (each field with its own sign, no conversion between
// fields), which PostgreSQL's interval input and DuckDB's CAST(… AS
// INTERVAL) both read back unchanged; the writer casts it into an interval
// column like any text. A struct {months, days, micros} was the other
// candidate: exact too, but no database reads it back without SQL.
//
// # Connection
//
// req.Conn values: dsn | pg_dsn | url (postgres://…), else host, port,
// database, user, password, sslmode, turned into a connection string by
// workspace's (*Connection).PostgresConnString. Statements use
// the unnamed prepared statement, which works through transaction poolers.
// Error texts are scrubbed of the password and connection string.
//
// Not supported: COPY into a table whose row-level security applies to the
// connecting role (PostgreSQL refuses COPY FROM there; connect as the owner
// or a BYPASSRLS role such as Supabase's service role); nested Arrow types
// (list, struct, map) and dictionaries have no mapping.
package postgres
