// Package sqlsandbox holds the end-to-end tests of what SQL in a pipeline
// (duckdb.processor, duckdb.extractor) may read and write, through the
// real binary: escapes through symlinks and other spellings refused for
// read and write, the files a query reads known before it runs (validate
// --remote), non-deterministic queries executed every run, and DuckDB
// sessions on one database file opened by parallel steps.
package sqlsandbox
