// Package remote holds the end-to-end tests of remote runs with the local
// sandbox kind (bubblewrap when installed): the remotetest table, plus
// what only the local kind can show (hermetic bwrap, the sandbox directory
// on this disk). The docker and ssh kinds run the same table from
// internal/e2e/sandboxes.
package remote
