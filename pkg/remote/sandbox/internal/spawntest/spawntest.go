// Package spawntest holds what the sandbox kinds' tests share: a stand-in
// for the osiris binary and a way to write one.
package spawntest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/osiris-go/osiris/pkg/remote/sandbox/internal/spawn"
)

// FakeWorker stands in for the osiris binary: it prints its arguments and
// one variable to stderr and echoes stdin to stdout, enough to see a kind's
// plumbing (provisioning by hash, argv, env, stdio, kill).
const FakeWorker = "#!/bin/sh\necho \"args: $*\" >&2\necho \"env: OSIRIS_T=$OSIRIS_T\" >&2\nexec cat\n"

// WriteFake writes body as an executable named osiris in a temporary
// directory and returns its path and SHA-256.
func WriteFake(t *testing.T, body string) (path, sha string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "osiris")
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	sha, err := spawn.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, sha
}
