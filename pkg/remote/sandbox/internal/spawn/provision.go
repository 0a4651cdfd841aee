package spawn

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// provisionScript runs in the sandbox under /bin/sh with $1 = the sandbox
// directory ("~/…" is taken relative to $HOME) and $2 = the binary's
// SHA-256; a relative directory is taken relative to $HOME. It answers one line, "osiris-provision present|missing OS ARCH
// DIR"; when missing it reads the binary from stdin into a temporary file,
// checks its SHA-256 there, and only then renames it to bin/osiris-<sha256>
// and answers "osiris-provision stored" (or "… mismatch GOT"). Nothing of
// a pipeline is ever on this command line: only the directory and a hash.
const provisionScript = `set -eu
d=$1 h=$2
case $d in "~") d=$HOME ;; "~/"*) d=$HOME/${d#"~/"} ;; /*) ;; *) d=$HOME/$d ;; esac
f=$d/bin/osiris-$h
if [ -x "$f" ]; then
  echo "osiris-provision present $(uname -s) $(uname -m) $d"
  exit 0
fi
mkdir -p "$d/bin"
t=$d/bin/.osiris-$h.$$
trap 'rm -f "$t"' EXIT
trap 'rm -f "$t"; exit 1' HUP INT TERM PIPE
echo "osiris-provision missing $(uname -s) $(uname -m) $d"
cat > "$t"
if command -v sha256sum >/dev/null 2>&1; then set -- $(sha256sum "$t"); else set -- $(shasum -a 256 "$t"); fi
if [ "$1" != "$h" ]; then echo "osiris-provision mismatch $1"; exit 3; fi
chmod 755 "$t"
mv -f "$t" "$f"
echo "osiris-provision stored"
`

// ProvisionArgs is the argv (after the shell's path) that runs the
// provisioning script for dir and hash: "-c SCRIPT osiris-provision DIR HASH".
func ProvisionArgs(dir, sha string) []string {
	return []string{"-c", provisionScript, "osiris-provision", dir, sha}
}

// Provisioned is what the provisioning script found and did.
type Provisioned struct {
	OS, Arch string // uname -s, uname -m of the sandbox
	Dir      string // the sandbox directory, ~ expanded
	Uploaded int64  // bytes of binary sent (0 when it was there)
}

// BinaryPath is where the worker binary is, in the sandbox.
func (p Provisioned) BinaryPath(sha string) string { return p.Dir + "/bin/osiris-" + sha }

// ErrNoAnswer is returned when the script ended before answering; the
// caller explains why from the command's exit status and stderr.
var ErrNoAnswer = errors.New("the provisioning command ended before answering")

// AnswerTimeout bounds the wait for each answer of the provisioning
// script (the upload itself is bounded only by ctx).
var AnswerTimeout = 20 * time.Second

// ErrCorrupted is returned when the sandbox computed another SHA-256 for
// the uploaded binary than the one it was sent under.
var ErrCorrupted = errors.New("the osiris binary arrived corrupted")

// Provision drives a started provisioning command (ProvisionArgs) over its
// stdin/stdout: it reads the answer and, when the binary is missing,
// uploads binary. check, if set, may refuse the sandbox's OS/arch before
// anything is uploaded. Lines before the answer (a login banner) are
// skipped.
func Provision(ctx context.Context, p *Process, binary string, check func(Provisioned) error) (Provisioned, error) {
	var res Provisioned
	lines := make(chan string, 4)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(p.Stdout())
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "osiris-provision ") {
				lines <- strings.TrimPrefix(l, "osiris-provision ")
			}
		}
	}()
	next := func(limit time.Duration) (string, error) {
		timer := time.NewTimer(limit)
		defer timer.Stop()
		select {
		case <-timer.C:
			return "", fmt.Errorf("no answer from the sandbox within %s", limit)
		case l, ok := <-lines:
			if !ok {
				return "", ErrNoAnswer
			}
			return l, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	first, err := next(AnswerTimeout)
	if err != nil {
		return res, err
	}
	f := strings.SplitN(first, " ", 4)
	if len(f) != 4 || (f[0] != "present" && f[0] != "missing") {
		return res, fmt.Errorf("unexpected answer from the provisioning script: %q", first)
	}
	res.OS, res.Arch, res.Dir = f[1], f[2], f[3]
	if check != nil {
		if err := check(res); err != nil {
			return res, err
		}
	}
	if f[0] == "present" {
		p.Stdin().Close()
		return res, nil
	}
	in, err := os.Open(binary)
	if err != nil {
		return res, fmt.Errorf("open the osiris binary to upload: %w", err)
	}
	defer in.Close()
	n, err := io.Copy(p.Stdin(), in)
	res.Uploaded = n
	if err != nil {
		return res, fmt.Errorf("upload the osiris binary (%d bytes sent): %w", n, err)
	}
	if err := p.Stdin().Close(); err != nil {
		return res, fmt.Errorf("upload the osiris binary: %w", err)
	}
	last, err := next(AnswerTimeout)
	if err != nil {
		return res, err
	}
	if last != "stored" {
		return res, fmt.Errorf("%w (%s; sent %d bytes): nothing was installed", ErrCorrupted, last, n)
	}
	return res, nil
}

// FileSHA256 is the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CheckPlatform refuses a sandbox whose uname differs from this process's
// GOOS/GOARCH, unless the binary was chosen by hand (override).
func CheckPlatform(p Provisioned, override bool) error {
	if override {
		return nil
	}
	goos := map[string]string{"Linux": "linux", "Darwin": "darwin", "FreeBSD": "freebsd"}[p.OS]
	goarch := map[string]string{"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386", "armv7l": "arm"}[p.Arch]
	if goos == runtime.GOOS && goarch == runtime.GOARCH {
		return nil
	}
	return fmt.Errorf("the sandbox is %s/%s and this osiris is %s/%s: set binary = \"path/to/%s-%s/osiris\" in its [remote.…] table",
		p.OS, p.Arch, runtime.GOOS, runtime.GOARCH, orRaw(goos, p.OS), orRaw(goarch, p.Arch))
}

func orRaw(mapped, raw string) string {
	if mapped != "" {
		return mapped
	}
	return strings.ToLower(raw)
}
