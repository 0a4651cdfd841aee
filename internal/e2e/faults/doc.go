// Package faults holds the end-to-end fault, concurrency and secrets tests:
// the real osiris binary against the real MariaDB and PostgreSQL, with
// failures injected from outside the process (a server-side KILL of the
// extractor's connection, pg_terminate_backend during COPY, SIGINT,
// SIGKILL, an unreachable port, a missing variable, a full disk on a small
// tmpfs), two or more runs started at the same moment, and canary secrets
// searched for in everything osiris writes or prints.
//
// Every fault test asserts spec 08's promise: the target is unchanged, the
// exit code is the documented one, and the run directory and the run index
// are complete (status.json with the failed step and error, events.jsonl
// ending in run_error or run_cancelled with contiguous seq, osiris.log, and
// both index lines) — or, for SIGKILL, that the run is listed as
// incomplete and the next run works.
//
// It has no code of its own; everything is in its _test.go files, built on
// the harness in internal/e2e. It is not for data correctness (that is
// internal/e2e/data).
//
// Databases: MariaDB and PostgreSQL databases whose names start with
// osiris_t_flt; every test uses its own table names, so the tests can run
// in parallel with each other and with other packages' tests.
package faults
