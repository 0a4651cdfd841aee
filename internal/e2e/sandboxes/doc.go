// Package sandboxes holds the end-to-end tests of the docker and ssh
// sandbox kinds: `osiris run --remote` against the private dockerd and the
// sshd that .ci/sandboxes.sh starts (faults, incremental sync of the
// binary, hermetic containers, secrets). The parity table shared by every
// kind lives with the remote client's tests.
package sandboxes
