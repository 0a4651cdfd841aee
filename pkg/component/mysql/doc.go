// Package mysql holds the MySQL/MariaDB drivers: mysql.extractor streams a
// query or table into Arrow record batches and mysql.writer loads an Arrow
// table into a MySQL table (append, atomic replace, atomic upsert).
//
// The extractor talks to go-sql-driver/mysql at the database/sql/driver
// level (its own driver.Conn, a prepared statement so the server answers in
// the binary protocol) and appends each row straight into typed Arrow
// builders, one batch at a time: nothing is buffered beyond one batch and
// database/sql's per-cell Scan conversions are never paid. Type mapping
// (MySQL → Arrow):
//
//	TINYINT…BIGINT            int8/int16/int32/int64 (MEDIUMINT → int32)
//	… UNSIGNED                uint8/uint16/uint32/uint64
//	DECIMAL(p,s) [UNSIGNED]   decimal128(p,s) for p ≤ 38, decimal256(p,s) above (never a float);
//	                          the declared p, also for UNSIGNED (the driver's arithmetic says p−1)
//	FLOAT / DOUBLE            float32 / float64
//	CHAR, VARCHAR, *TEXT      utf8 (also ENUM, SET and JSON)
//	BINARY, VARBINARY, *BLOB  binary
//	GEOMETRY                  binary WKB (MySQL's 4-byte SRID prefix is stripped, the SRID is lost)
//	BIT(n)                    uint64
//	YEAR                      int16
//	DATE                      date32
//	DATETIME                  timestamp[µs] without zone: the wall clock exactly as stored
//	TIMESTAMP                 timestamp[µs, UTC] (the session runs with time_zone '+00:00')
//	TIME                      utf8 "[-]HHH:MM:SS[.ffffff]" as MySQL prints it (negative and > 24 h
//	                          kept; text because parquet cannot store Arrow durations)
//
// Every connection speaks utf8mb4, whatever charset the DSN asks for (a
// utf8mb4_* collation it names is kept): text arrives as UTF-8, and a text
// value that still is not valid UTF-8 fails the step naming the column.
// Result columns whose names are equal, or equal except for case, are
// refused (MySQL matches column names without case).
//
// Zero dates ('0000-00-00', zero month or day) and invalid dates stored under
// ALLOW_INVALID_DATES become NULL; they are counted per column and reported
// once per step through Request.Warn with code "zero-dates".
//
// The writer streams the Arrow batches as TSV into LOAD DATA LOCAL INFILE
// (a registered io.Reader, no temporary file) and falls back to multi-row
// INSERT statements when the server forbids local infile. replace loads a
// staging table <table>__osiris_new_<tag> (unique per load, so concurrent
// runs never touch each other's) and swaps it in with one RENAME TABLE
// (or, when the target has or is referenced by foreign keys, which CREATE
// TABLE LIKE and RENAME would lose or leave dangling, swaps the rows with
// DELETE + INSERT … SELECT in one transaction);
// upsert (merge) loads a temporary staging table and merges it with INSERT …
// SELECT … ON DUPLICATE KEY UPDATE in one transaction; delete+insert loads
// the same staging table, then DELETE t … JOIN (SELECT DISTINCT delete_key)
// and INSERT … SELECT in one transaction; append loads inside one
// transaction. Every path fails the step, leaving the target untouched, when
// the server drops or changes a row (LOAD DATA LOCAL turns errors into
// warnings, so warnings are checked too) or when the rows written differ from
// the rows received. Atomicity needs a transactional engine (InnoDB).
//
// Into an existing table, append, merge and delete+insert first apply
// schema_evolution (evolve.go): every check runs first, then ALTER TABLE
// ADD COLUMN / MODIFY COLUMN. MySQL commits DDL at once, so these run just
// before the load's transaction rather than inside it.
//
// Cancelling a step (Ctrl-C, a failed sibling, a timeout) sends KILL QUERY
// for the session's statement from a second connection: closing the socket,
// all the client driver does, leaves the server computing the statement.
// Each load holds a named lock (GET_LOCK) for its lifetime; a staging table
// of osiris's own naming whose lock is free was left by a killed run and is
// dropped by the next load of that table. create_if_missing serialises
// creating a table with another named lock, so runs that find it missing at
// once all succeed (the first creates it, the others load into it).
//
// The package is not a general MySQL client: no schema migration, no
// parallel readers, no CDC.
package mysql
