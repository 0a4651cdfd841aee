// Package incremental holds the end-to-end tests of the SQL writers'
// incremental write modes and schema evolution (issue 22, writer side):
// write_mode merge and delete+insert, schema_evolution add and fail, and
// the schema_changed event — the real osiris binary reading a MariaDB
// table and loading it into MariaDB, PostgreSQL and DuckDB at once, and
// each target compared with the source afterwards.
//
// It has no code of its own; everything is in its _test.go files, built on
// the harness in internal/e2e.
//
// Databases: the MariaDB and PostgreSQL database osiris_t_incr; every test
// uses tables named after its name and the test process id, dropped at the
// end.
package incremental
