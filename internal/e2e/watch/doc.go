// Package watch holds the end-to-end tests of `osiris watch`: the real
// binary watching a real workspace, edited the way a user edits it, with the
// step cache and (for cancellation) a real PostgreSQL target.
package watch
