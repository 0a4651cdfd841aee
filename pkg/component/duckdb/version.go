package duckdb

import "github.com/duckdb/duckdb-go/v2/mapping"

// LibraryVersion is the version of the DuckDB library linked into the
// binary (for `osiris version`).
func LibraryVersion() string { return mapping.LibraryVersion() }
