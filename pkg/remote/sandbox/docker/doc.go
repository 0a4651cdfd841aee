// Package docker is the `docker` sandbox kind: the worker runs as
// `docker run -i --rm IMAGE` with its store in a named volume (or a
// directory of the Docker host), talking the protocol over the container's
// stdin/stdout.
//
// Nothing assumes that the Docker daemon shares the client's disk (a
// remote DOCKER_HOST works the same): the container starts under /bin/sh
// with a fixed script that looks for bin/osiris-<sha256> in the volume;
// when it is missing, the binary is sent over the container's stdin,
// checked with sha256sum and renamed into place, and then the script
// execs the worker (so the image needs /bin/sh, head and sha256sum). Files
// travel through the protocol; the workspace is never bind-mounted.
// osiris never pulls an image: a missing one is a configuration error
// (exit 2) saying how to get it. Containers run with `--log-driver none`
// so the daemon keeps no copy of the stream, and `--pull never`.
//
// Registered as kind "docker" in package sandbox; import it for its
// side effect.
package docker
