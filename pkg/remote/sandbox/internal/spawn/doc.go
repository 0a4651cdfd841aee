// Package spawn is what the local, docker and ssh sandbox kinds share: a worker
// started as a local command (`docker run -i …`, `ssh … HOST …`) whose
// stdin/stdout carry the protocol, and the provisioning of the osiris
// binary by hash through such a command's stdin.
//
// It is not a sandbox kind itself and knows nothing of docker or ssh: each
// kind builds its command lines and turns a failed command into an error
// that names the cause.
package spawn
