// Package local is the `local` sandbox kind: the worker runs as a child
// process in its own directory (.osiris/sandboxes/<name>/ or [remote.x].dir).
// When bubblewrap (`bwrap`) is installed the child runs inside it — new
// mount, pid, ipc and uts namespaces, /usr read-only, only the sandbox
// directory writable, no view of the workspace or the home directory, an
// empty environment, and with network = "none" no network either. Without
// bwrap it is a plain child with a minimal environment; Describe (and so the
// sandbox_started event) says which. OSIRIS_SANDBOX_NO_BWRAP=1 forces the
// plain child (tests of that path, and hosts where user namespaces are
// disabled and bwrap cannot start).
//
// Like every kind it shares no disk with the client as far as the protocol
// is concerned: files arrive through the worker's stdin. Only the osiris
// binary is copied in directly, once per version, to bin/osiris-<sha256>.
package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/osiris-go/osiris/internal/atomicfile"
	"github.com/osiris-go/osiris/internal/filehash"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/pkg/remote/sandbox/internal/spawn"
	"github.com/osiris-go/osiris/workspace"
)

func init() { sandbox.Register("local", New) }

// Sandbox is one configured local sandbox.
type Sandbox struct {
	name    string
	dir     string // absolute
	network string // "" | "host" | "none"
	bwrap   string // path of bwrap, "" for a plain child
	// memo records the identity of the binary copy last verified by hash
	// (see verifiedBefore); "" re-hashes at every start.
	memo string
}

// New builds a local sandbox from its [remote.<name>] table.
func New(cfg *workspace.RemoteConfig, env sandbox.Env) (sandbox.Sandbox, error) {
	dir := cfg.Dir
	if dir == "" {
		dir = filepath.Join(env.StateDir, "sandboxes", cfg.Name)
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(env.Root, dir)
	}
	// The sandbox directory is mounted writable into the jail: the
	// workspace (its .env, osiris.toml, data) or a folder holding it must
	// never be it.
	if env.Root != "" {
		d := filepath.Clean(dir)
		if rel, err := filepath.Rel(d, filepath.Clean(env.Root)); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			return nil, diag.Usage("remote %q: dir = %q (osiris.toml line %d) is the workspace or a folder holding it, which the sandbox would see and write (with .env): use a directory of its own, e.g. dir = \".osiris/sandboxes/%s\"", cfg.Name, cfg.Dir, cfg.Line, cfg.Name)
		}
	}
	switch cfg.Network {
	case "", "host", "none":
	default:
		return nil, fmt.Errorf("remote %q: network %q: a local sandbox takes \"host\" (the default) or \"none\"", cfg.Name, cfg.Network)
	}
	s := &Sandbox{name: cfg.Name, dir: filepath.Clean(dir), network: cfg.Network}
	if env.StateDir != "" {
		// Outside the sandbox directory: the worker cannot write it.
		s.memo = filepath.Join(env.StateDir, "sandboxes", "."+cfg.Name+".binary")
	}
	if p, err := exec.LookPath("bwrap"); err == nil && os.Getenv("OSIRIS_SANDBOX_NO_BWRAP") == "" {
		s.bwrap = p
	}
	return s, nil
}

// Describe says where the sandbox is and how it is confined.
func (s *Sandbox) Describe() sandbox.Description {
	iso := "plain"
	if s.bwrap != "" {
		iso = "bwrap"
		if s.network == "none" {
			iso = "bwrap, no network"
		}
	}
	return sandbox.Description{Name: s.name, Kind: "local", Isolation: iso, Where: s.dir}
}

// Dir is the sandbox directory.
func (s *Sandbox) Dir() string { return s.dir }

// Start provisions the binary and starts the worker.
func (s *Sandbox) Start(ctx context.Context, opts sandbox.StartOptions) (sandbox.Process, error) {
	for _, d := range []string{s.dir, filepath.Join(s.dir, "bin"), filepath.Join(s.dir, "home"), filepath.Join(s.dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("remote %q: %w", s.name, err)
		}
	}
	bin, uploaded, err := provisionBinary(s.dir, opts.Binary, opts.BinarySHA256, s.memo)
	if err != nil {
		return nil, fmt.Errorf("remote %q: %w", s.name, err)
	}
	var c spawn.Command
	if s.bwrap != "" {
		inside := "/sandbox"
		args := []string{
			"--die-with-parent", "--new-session",
			"--unshare-user-try", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
			"--ro-bind", "/usr", "/usr",
		}
		for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
			if t, err := os.Readlink(d); err == nil {
				args = append(args, "--symlink", t, d)
			} else if st, err := os.Stat(d); err == nil && st.IsDir() {
				args = append(args, "--ro-bind", d, d)
			}
		}
		// Name resolution and TLS roots, read-only; nothing else of /etc.
		for _, f := range []string{"/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates", "/etc/localtime"} {
			args = append(args, "--ro-bind-try", f, f)
		}
		if s.network == "none" {
			args = append(args, "--unshare-net")
		}
		args = append(args,
			"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
			"--bind", s.dir, inside, "--chdir", inside,
			"--clearenv",
			"--setenv", "PATH", "/usr/bin:/bin",
			"--setenv", "HOME", inside+"/home",
			"--setenv", "TMPDIR", inside+"/tmp",
		)
		for _, kv := range opts.Env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				args = append(args, "--setenv", k, v)
			}
		}
		args = append(args, "--", inside+"/bin/"+filepath.Base(bin), "worker", "--stdio", "--dir", inside)
		c = spawn.Command{Path: s.bwrap, Args: args}
	} else {
		c = spawn.Command{Path: bin, Args: []string{"worker", "--stdio", "--dir", s.dir}, Dir: s.dir,
			Env: append([]string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Join(s.dir, "home"), "TMPDIR=" + filepath.Join(s.dir, "tmp")}, opts.Env...)}
	}
	// Its own process group: Kill takes bwrap and the worker together.
	c.Group = true
	c.Stderr = opts.Stderr
	p, err := spawn.Start(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("starting the worker: %w", err)
	}
	return &process{Process: p, binaryBytes: uploaded}, nil
}

// provisionBinary copies the osiris binary to <dir>/bin/osiris-<sha256>
// unless that version is already there, and says how many bytes it copied.
// The copy in the sandbox is verified by hash before every start: the
// sandbox directory is writable from inside, and a file replaced there
// (a wrapper script, a truncated copy) is replaced again, never run.
func provisionBinary(dir, bin, sum, memo string) (string, int64, error) {
	if bin == "" || sum == "" {
		return "", 0, errors.New("no osiris binary to run in the sandbox")
	}
	dst := filepath.Join(dir, "bin", "osiris-"+sum)
	if st, err := os.Lstat(dst); err == nil {
		if st.Mode().IsRegular() && st.Mode().Perm()&0o100 != 0 {
			if verifiedBefore(memo, sum, st) {
				return dst, 0, nil
			}
			if got, _, herr := filehash.FileHex(dst); herr == nil && got == sum {
				remember(memo, sum, st)
				return dst, 0, nil
			}
		}
		if err := os.RemoveAll(dst); err != nil {
			return "", 0, fmt.Errorf("provisioning the binary: %s does not match its sha256 and cannot be removed: %w", dst, err)
		}
	}
	in, err := os.Open(bin)
	if err != nil {
		return "", 0, fmt.Errorf("provisioning the binary: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", 0, fmt.Errorf("provisioning the binary: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Join(dir, "bin"), ".osiris-*")
	if err != nil {
		return "", 0, fmt.Errorf("provisioning the binary: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), in)
	if err != nil {
		tmp.Close()
		return "", 0, fmt.Errorf("provisioning the binary: %w", err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", 0, err
	}
	if err := tmp.Close(); err != nil {
		return "", 0, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return "", 0, fmt.Errorf("provisioning the binary: %s has sha256 %s, expected %s (did it change?)", bin, got[:12], sum[:12])
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, fmt.Errorf("provisioning the binary: %w", err)
	}
	if st, err := os.Lstat(dst); err == nil {
		remember(memo, sum, st)
	}
	return dst, n, nil
}

// identity is what any change to a file changes: device, inode, size,
// mtime and ctime (which no one can set back, root in the sandbox's user
// namespace included).
func identity(sum string, st os.FileInfo) string {
	id := fmt.Sprintf("%s %d %d", sum, st.Size(), st.ModTime().UnixNano())
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id += fmt.Sprintf(" %d %d %d.%09d", sys.Dev, sys.Ino, sys.Ctim.Sec, sys.Ctim.Nsec)
	}
	return id
}

// verifiedBefore reports whether the binary at st is the very file this
// client hashed last time: then its content is what it was (the memo lies
// outside the sandbox directory, which the worker can write).
func verifiedBefore(memo, sum string, st os.FileInfo) bool {
	if memo == "" {
		return false
	}
	b, err := os.ReadFile(memo)
	return err == nil && string(b) == identity(sum, st)
}

func remember(memo, sum string, st os.FileInfo) {
	if memo != "" {
		_ = atomicfile.Write(memo, []byte(identity(sum, st)), atomicfile.Options{MkdirAll: true})
	}
}

// process is a running worker: a spawn.Process, whose stdout is a pipe
// that Wait does not close under a reader.
type process struct {
	*spawn.Process
	binaryBytes int64
}

// BinaryBytesUploaded is how much of the binary this start copied in (0
// when that version was already there).
func (p *process) BinaryBytesUploaded() int64 { return p.binaryBytes }
