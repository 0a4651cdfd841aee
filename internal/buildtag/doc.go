// Package buildtag stops a build without the duckdb_arrow tag with one
// line that says what to do, instead of the compiler's errors about the
// DuckDB driver's Arrow API (`undefined: duckdbdriver.Arrow`). The DuckDB
// component imports it; a build that lacks the tag fails here first, and
// the packages that need the tag are not compiled.
package buildtag
