package spawn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/osiris-go/osiris/internal/atomicfile"
	"github.com/osiris-go/osiris/internal/filehash"
)

// workerScript starts the worker in one session (one ssh connection, one
// container), provisioning its binary by hash on the way. It runs under
// /bin/sh with $1 = the sandbox directory ("~/…" and relative paths are
// taken relative to $HOME), $2 = the binary's SHA-256, $3 = a random
// name for the temporary file (so concurrent first starts, even as PID 1
// of two containers on one volume, never share it), $4 = "pidfile" or
// "-" (see WorkerArgs), $5 = the binary's identity as the client last saw
// it verified (or "-"), and the rest NAME=value variables for the worker.
// A binary already there is verified against its name (sha256sum) before
// every start — unless its identity (`ls -lic --full-time`: inode, mode,
// size, and the ctime no one can set back) is the one the client saw
// verified, i.e. it is that very file, unchanged; one that does not match
// (a wrapper put in its place, a truncated copy) is removed and uploaded
// again, never run. It reports the identity ("osiris-provision-id …"), then
// answers one line,
// "osiris-provision present|missing OS ARCH DIR". When missing, it reads a
// decimal size line and that many bytes (the binary) from stdin into a
// temporary file, checks the SHA-256 there, and only then renames it to
// bin/osiris-<sha256> and answers "osiris-provision stored" (or "…
// mismatch GOT" and exits). Then it execs the worker, whose stdin/stdout
// are the session's from there on. Nothing of a pipeline is ever on this
// command line: only the directory, a hash and the worker's environment.
const workerScript = `set -eu
d=$1 h=$2 nonce=$3 pidfile=$4 known=$5
shift 5
case $d in "~") d=$HOME ;; "~/"*) d=$HOME/${d#"~/"} ;; /*) ;; *) d=$HOME/$d ;; esac
f=$d/bin/osiris-$h
sum() { if command -v sha256sum >/dev/null 2>&1; then got=$(sha256sum "$1"); else got=$(shasum -a 256 "$1"); fi; got=${got%% *}; }
idof() { id=$(ls -lic --full-time "$1" 2>/dev/null) || id=; }
ok=
if [ -f "$f" ] && [ ! -L "$f" ] && [ -x "$f" ]; then
  idof "$f"
  if [ -n "$id" ] && [ "$id" = "$known" ]; then ok=1; else
    sum "$f"
    if [ "$got" = "$h" ]; then ok=1; else echo "osiris: $f has sha256 $got, not its name: replacing it" >&2; fi
  fi
fi
if [ -n "$ok" ]; then
  echo "osiris-provision-id $id"
  echo "osiris-provision present $(uname -s) $(uname -m) $d"
else
  rm -rf "$f"
  mkdir -p "$d/bin"
  t=$d/bin/.osiris-$h.$nonce
  trap 'rm -f "$t"' EXIT
  trap 'rm -f "$t"; exit 1' HUP INT TERM PIPE
  echo "osiris-provision missing $(uname -s) $(uname -m) $d"
  IFS= read -r n
  case $n in ''|*[!0-9]*) echo "osiris-provision bad-size"; exit 3 ;; esac
  head -c "$n" > "$t"
  sum "$t"
  if [ "$got" != "$h" ]; then echo "osiris-provision mismatch $got"; exit 3; fi
  chmod 755 "$t"
  mv -f "$t" "$f"
  trap - EXIT HUP INT TERM PIPE
  idof "$f"
  echo "osiris-provision-id $id"
  echo "osiris-provision stored"
fi
if [ "$pidfile" = pidfile ]; then mkdir -p "$d/pids" && echo $$ > "$d/pids/$nonce"; fi
exec env "$@" "$f" worker --stdio --dir "$d"
`

// WorkerArgs is the argv after the shell's path ("/bin/sh") that starts
// the worker of binary sha in dir with env: "-c SCRIPT osiris-worker DIR
// SHA NONCE NAME=value...". With pidfile the script first writes the
// worker's pid to DIR/pids/NONCE (see PIDFile): a kind whose worker does
// not die with its connection (ssh: a stopped process ignores the closed
// session) kills it by that pid.
func WorkerArgs(dir, sha string, env []string, pidfile bool, knownID string) (args []string, nonce string) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	nonce = hex.EncodeToString(b)
	pf := "-"
	if pidfile {
		pf = "pidfile"
	}
	if knownID == "" {
		knownID = "-"
	}
	args = []string{"-c", workerScript, "osiris-worker", dir, sha, nonce, pf, knownID}
	return append(args, env...), nonce
}

// KillScript is a /bin/sh script that SIGKILLs the worker whose pid the
// start script wrote to DIR/pids/NONCE ($1 = DIR as the start script
// expanded it, $2 = NONCE), waits (up to 5 s) until it is gone, and
// removes the file.
const KillScript = `f=$1/pids/$2; if [ -f "$f" ]; then p=$(cat "$f"); kill -KILL "$p" 2>/dev/null; i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; rm -f "$f"; fi; exit 0`

// Provisioned is what the start script found and did.
type Provisioned struct {
	OS, Arch string // uname -s, uname -m of the sandbox
	Dir      string // the sandbox directory, ~ expanded
	Uploaded int64  // bytes of binary sent (0 when it was there)
	// ID is the verified binary's identity, for the next start's knownID
	// (see WorkerArgs); "" when the sandbox cannot tell it.
	ID string
}

// ErrNoAnswer is returned when the start script ended before answering;
// the caller explains why from the command's exit status and stderr.
var ErrNoAnswer = errors.New("the sandbox ended the session before answering")

// ErrCorrupted is returned when the sandbox computed another SHA-256 for
// the uploaded binary than the one it was sent under.
var ErrCorrupted = errors.New("the osiris binary arrived corrupted")

// AnswerTimeout bounds the wait for each answer of the start script (the
// upload itself is bounded only by ctx).
var AnswerTimeout = 20 * time.Second

// Handshake drives a Process started with WorkerArgs until its worker
// runs: it reads the script's answer and, when the binary is missing,
// uploads binary. check, if set, may refuse the sandbox's OS/arch before
// anything is uploaded. Lines before the answer (a login banner) are
// skipped. On success p's Stdout is at the worker's first byte. On error
// the caller kills p (ErrCorrupted: the script exits by itself).
func Handshake(ctx context.Context, p *Process, binary string, check func(Provisioned) error) (Provisioned, error) {
	var res Provisioned
	first, err := p.answer(ctx)
	if err != nil {
		return res, err
	}
	f := strings.SplitN(first, " ", 4)
	if len(f) != 4 || (f[0] != "present" && f[0] != "missing") {
		return res, fmt.Errorf("unexpected answer from the sandbox's start script: %q", first)
	}
	res.OS, res.Arch, res.Dir = f[1], f[2], f[3]
	if f[0] == "present" {
		res.ID = p.provID
		return res, nil
	}
	if check != nil {
		if err := check(res); err != nil {
			return res, err
		}
	}
	in, err := os.Open(binary)
	if err != nil {
		return res, fmt.Errorf("open the osiris binary to upload: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return res, err
	}
	if _, err := io.WriteString(p.Stdin(), strconv.FormatInt(st.Size(), 10)+"\n"); err != nil {
		return res, fmt.Errorf("upload the osiris binary: %w", err)
	}
	n, err := io.Copy(p.Stdin(), in)
	res.Uploaded = n
	if err != nil {
		return res, fmt.Errorf("upload the osiris binary (%d bytes sent): %w", n, err)
	}
	last, err := p.answer(ctx)
	if err != nil {
		return res, err
	}
	if last != "stored" {
		return res, fmt.Errorf("%w (%s; sent %d bytes): nothing was installed", ErrCorrupted, last, n)
	}
	res.ID = p.provID
	return res, nil
}

// answer reads the next "osiris-provision …" line, within AnswerTimeout.
// Reading cannot be interrupted, so on timeout or cancel the process is
// killed, which ends the read.
func (p *Process) answer(ctx context.Context) (string, error) {
	type line struct {
		s   string
		err error
	}
	ch := make(chan line, 1)
	go func() {
		for {
			s, err := p.stdout.ReadString('\n')
			if err != nil {
				ch <- line{err: ErrNoAnswer}
				return
			}
			s = strings.TrimRight(s, "\r\n")
			if id, ok := strings.CutPrefix(s, "osiris-provision-id "); ok {
				p.provID = id
				continue
			}
			if rest, ok := strings.CutPrefix(s, "osiris-provision "); ok {
				ch <- line{s: rest}
				return
			}
		}
	}()
	timer := time.NewTimer(AnswerTimeout)
	defer timer.Stop()
	select {
	case l := <-ch:
		return l.s, l.err
	case <-timer.C:
		p.Kill()
		drain(ch)
		return "", fmt.Errorf("no answer from the sandbox within %s", AnswerTimeout)
	case <-ctx.Done():
		p.Kill()
		drain(ch)
		return "", ctx.Err()
	}
}

// drain waits a little for the reader goroutine that a kill has ended.
func drain[T any](ch <-chan T) {
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
	}
}

// KnownID reads the binary identity a kind remembered in memo ("" when
// none); Remember stores it. The memo lives on the client's disk, out of
// the sandbox's reach.
func KnownID(memo string) string {
	if memo == "" {
		return ""
	}
	b, _ := os.ReadFile(memo)
	return strings.TrimSpace(string(b))
}

// Remember stores id in memo (nothing when either is empty).
func Remember(memo, id string) {
	if memo == "" || id == "" {
		return
	}
	_ = atomicfile.Write(memo, []byte(id+"\n"), atomicfile.Options{MkdirAll: true})
}

// FileSHA256 is the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	h, _, err := filehash.FileHex(path)
	return h, err
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
