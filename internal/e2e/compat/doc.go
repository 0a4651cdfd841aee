// Package compat holds the end-to-end tests of Osiris-Python compatibility
// (issue 7): pipelines written the way that project's documentation and
// examples write them — extract → write pairs without `needs`, MySQL →
// DuckDB `input_df` → Supabase with CSV debug taps, its CSV writer keys —
// validate and run unchanged against real MariaDB and PostgreSQL; and every
// pipeline of the test suite that validates does not fail at run time before
// its first step (validate and run agree).
//
// Databases are named osiris_compat_* (MariaDB and PostgreSQL alike).
package compat
