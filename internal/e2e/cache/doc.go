// Package cache holds the end-to-end tests of the step cache through the
// osiris binary against the real MariaDB and PostgreSQL: a run never skips
// a write (append twice, a dropped table, params 1 → 2 → 1, a changed dsn),
// a file read is never served stale (same-size edits with the old mtime,
// also after --no-cache), cached artifacts belong to one run directory
// each, and `osiris watch --reuse-writes` skips only an unchanged replace
// writer and reports it.
package cache
