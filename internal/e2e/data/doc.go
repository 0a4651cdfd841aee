// Package data holds the end-to-end data tests of the run engine: the real
// osiris binary, real MariaDB and PostgreSQL, and assertions on the data that
// lands in the targets and artifacts (row counts, table digests, exact
// values, hybrid-cache equivalence, type round trips, batch boundaries).
//
// It has no code of its own; everything is in its _test.go files, built on
// the harness in internal/e2e. It is not for failure injection (crashes,
// kills, timeouts): those live in the faults tests.
//
// Databases: MariaDB and PostgreSQL databases whose names start with
// osiris_t_e2e; every test uses its own table names so that the tests can
// run in parallel with each other and with other packages' tests.
package data
