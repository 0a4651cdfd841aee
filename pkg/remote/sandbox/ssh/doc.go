// Package ssh is the `ssh` sandbox kind: the worker runs on another
// machine as `<dir>/bin/osiris-<sha256> worker --stdio --dir <dir>`,
// started by the system ssh client (so the user's ~/.ssh/config, agent
// and known_hosts apply), and speaks the protocol over the session's
// stdin/stdout.
//
// The one ssh session runs a fixed /bin/sh script that looks for that
// binary (and tells the machine's OS/arch); if it is missing, this osiris
// (or `binary = "path"`) is sent through the session's stdin, checked with
// sha256sum on the remote side, and only then renamed into place and made
// executable — so each version is uploaded once per machine and directory —
// and then the script execs the worker in the same session. The remote
// needs /bin/sh, head and sha256sum (or shasum).
//
// ssh runs with BatchMode=yes (no password prompt can hang a run) and
// ConnectTimeout=5, so an unreachable host or a refused key fails within
// seconds with an error naming the cause. A refused key, an unknown host
// key or a hostname that does not resolve are configuration errors (exit
// 2); a host that does not answer is a failed run (exit 1). Every word of
// the remote command is quoted for a POSIX login shell; no value from a
// pipeline is ever on it.
//
// Registered as kind "ssh" in package sandbox; import it for its side
// effect.
package ssh
