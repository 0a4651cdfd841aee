package ssh

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/pkg/remote/sandbox/internal/spawn"
	"github.com/osiris-go/osiris/workspace"
)

// DefaultDir is the sandbox directory on the remote when dir is not set.
const DefaultDir = "~/.osiris-sandbox"

// ConnectTimeout is ssh's ConnectTimeout, in seconds.
const ConnectTimeout = 5

func init() { sandbox.Register("ssh", New) }

// Sandbox is one [remote.<name>] of kind ssh.
type Sandbox struct {
	cfg      workspace.RemoteConfig
	dir      string
	identity string // absolute, or ""
	ssh      string // the ssh command
	memo     string // the verified binary's identity (client side), see spawn.KnownID
}

// New builds an ssh sandbox from its configuration. A relative identity is
// taken relative to the workspace root.
func New(cfg *workspace.RemoteConfig, env sandbox.Env) (sandbox.Sandbox, error) {
	if cfg.Host == "" {
		return nil, diag.Usage("remote %q: an ssh sandbox needs host = \"user@machine\" (osiris.toml line %d)", cfg.Name, cfg.Line)
	}
	s := &Sandbox{cfg: *cfg, dir: cfg.Dir, ssh: "ssh"}
	if s.dir == "" {
		s.dir = DefaultDir
	}
	if env.StateDir != "" {
		s.memo = filepath.Join(env.StateDir, "sandboxes", "."+strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' {
				return '-'
			}
			return r
		}, cfg.Name)+".binary-id")
	}
	if id := cfg.Identity; id != "" {
		switch {
		case id == "~" || strings.HasPrefix(id, "~/"):
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("remote %q: identity %s: %w", cfg.Name, id, err)
			}
			id = filepath.Join(home, strings.TrimPrefix(id, "~"))
		case !filepath.IsAbs(id) && env.Root != "":
			id = filepath.Join(env.Root, id)
		}
		s.identity = id
	}
	return s, nil
}

// target is user@host as ssh will be asked for it (for messages).
func (s *Sandbox) target() string {
	t := s.cfg.Host
	if s.cfg.User != "" && !strings.Contains(t, "@") {
		t = s.cfg.User + "@" + t
	}
	if s.cfg.Port != 0 {
		t += " port " + strconv.Itoa(s.cfg.Port)
	}
	return t
}

// Describe says user@host:dir.
func (s *Sandbox) Describe() sandbox.Description {
	where := s.cfg.Host
	if s.cfg.User != "" && !strings.Contains(where, "@") {
		where = s.cfg.User + "@" + where
	}
	if s.cfg.Port != 0 {
		where += ":" + strconv.Itoa(s.cfg.Port)
	}
	return sandbox.Description{Name: s.cfg.Name, Kind: "ssh", Isolation: "ssh", Where: where + ":" + s.dir}
}

// args is ssh's argv for running remote (already quoted) on the host. The
// user's ssh_options come first: for -o, ssh keeps the first value given.
func (s *Sandbox) args(remote string) []string {
	a := append([]string(nil), s.cfg.SSHOptions...)
	a = append(a, "-T", "-e", "none",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout="+strconv.Itoa(ConnectTimeout),
		"-o", "ServerAliveInterval=5",
		"-o", "ServerAliveCountMax=3")
	if s.cfg.Port != 0 {
		a = append(a, "-p", strconv.Itoa(s.cfg.Port))
	}
	if s.cfg.User != "" {
		a = append(a, "-l", s.cfg.User)
	}
	if s.identity != "" {
		a = append(a, "-i", s.identity, "-o", "IdentitiesOnly=yes")
	}
	// "--" before the host: neither it nor the command can be read as an option.
	return append(a, "--", s.cfg.Host, remote)
}

// Start provisions the binary by hash (one ssh session) and starts the
// worker (a second one).
func (s *Sandbox) Start(ctx context.Context, opts sandbox.StartOptions) (sandbox.Process, error) {
	if _, err := exec.LookPath(s.ssh); err != nil {
		return nil, diag.Usage("remote %q: the ssh command is not installed (apt-get install openssh-client)", s.cfg.Name)
	}
	if s.identity != "" {
		if _, err := os.Stat(s.identity); err != nil {
			return nil, diag.Usage("remote %q: identity file %s: %v (osiris.toml line %d)", s.cfg.Name, s.identity, errors.Unwrap(err), s.cfg.Line)
		}
	}
	sha := opts.BinarySHA256
	if sha == "" {
		var err error
		if sha, err = spawn.FileSHA256(opts.Binary); err != nil {
			return nil, fmt.Errorf("remote %q: %w", s.cfg.Name, err)
		}
	}
	wargs, nonce := spawn.WorkerArgs(s.dir, sha, opts.Env, true, spawn.KnownID(s.memo))
	remote := spawn.QuoteArgs(append([]string{"/bin/sh"}, wargs...)...)
	var dirMu sync.Mutex
	remoteDir := "" // as the start script expanded it, once it answered
	p, err := spawn.Start(ctx, spawn.Command{
		Path: s.ssh, Args: s.args(remote), Stderr: opts.Stderr,
		Exited: func(ee *exec.ExitError, tail string) error { return s.exitError("the worker", ee, tail) },
		// Ending the ssh client does not end a worker that is stopped
		// (SIGSTOP) or ignores its closed stdin: kill it by its pid.
		Kill: func() error {
			dirMu.Lock()
			d := remoteDir
			dirMu.Unlock()
			if d == "" {
				return nil
			}
			return s.killRemote(d, nonce)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("remote %q: start ssh: %w", s.cfg.Name, err)
	}
	prov, err := spawn.Handshake(ctx, p, opts.Binary, func(pr spawn.Provisioned) error {
		return spawn.CheckPlatform(pr, s.cfg.Binary != "")
	})
	if err != nil {
		if !errors.Is(err, spawn.ErrCorrupted) && !errors.Is(err, spawn.ErrNoAnswer) {
			p.Kill() // the script waits for more; it has ended or (corrupted upload) exits by itself
		}
		if werr := p.Wait(); errors.Is(err, spawn.ErrNoAnswer) && werr != nil {
			return nil, werr // explained by exitError
		}
		return nil, fmt.Errorf("remote %q: starting the worker on %s: %w%s", s.cfg.Name, s.target(), err, tailNote(p.Tail()))
	}
	dirMu.Lock()
	remoteDir = prov.Dir
	dirMu.Unlock()
	spawn.Remember(s.memo, prov.ID)
	return &Process{Process: p, uploaded: prov.Uploaded}, nil
}

// killRemote SIGKILLs the worker started with nonce, over a second ssh
// session, within 10 s.
func (s *Sandbox) killRemote(dir, nonce string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.ssh, s.args(spawn.QuoteArgs("/bin/sh", "-c", spawn.KillScript, "osiris-kill", dir, nonce))...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("remote %q: killing the worker on %s: %s", s.cfg.Name, s.target(), orErr(spawn.LastLine(string(out)), err))
	}
	return nil
}

func orErr(msg string, err error) string {
	if msg != "" {
		return msg
	}
	return err.Error()
}

// Process is a running worker over ssh. Killing it ends the ssh client; the
// remote worker then sees its stdin close and exits.
type Process struct {
	*spawn.Process
	uploaded int64
}

// BinaryBytesUploaded is how many bytes of the osiris binary this start
// copied to the host (0 when that version was there already).
func (p *Process) BinaryBytesUploaded() int64 { return p.uploaded }

// exitError explains an ssh that exited non-zero. 255 is ssh's own
// failure (the command never ran); its stderr says why.
func (s *Sandbox) exitError(what string, ee *exec.ExitError, tail string) error {
	code := ee.ExitCode()
	if code != 255 {
		return fmt.Errorf("remote %q: %s on %s exited with status %d%s: %w", s.cfg.Name, what, s.target(), code, tailNote(tail), ee)
	}
	last := spawn.LastLine(tail)
	if last == "" {
		last = ee.Error()
	}
	pre := fmt.Sprintf("remote %q: ssh %s", s.cfg.Name, s.target())
	switch {
	case strings.Contains(tail, "Permission denied"):
		key := "your ssh agent and ~/.ssh keys"
		if s.identity != "" {
			key = "identity = " + strconv.Quote(s.cfg.Identity)
		}
		return diag.Usage("%s: the server refused the key (%s): check %s and the host's authorized_keys", pre, last, key)
	case strings.Contains(tail, "Host key verification failed") || strings.Contains(tail, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		return diag.Usage("%s: the host key is not known or has changed (%s): connect once by hand (ssh %s) to check and accept it", pre, last, s.cfg.Host)
	case strings.Contains(tail, "Could not resolve hostname"):
		return diag.Usage("%s: the host name does not resolve (%s): check host in its [remote.%s] table", pre, last, s.cfg.Name)
	case strings.Contains(tail, "Connection refused"):
		return fmt.Errorf("%s: unreachable, nothing listens there (%s)", pre, last)
	case strings.Contains(tail, "timed out"):
		return fmt.Errorf("%s: unreachable, no answer within %d s (%s)", pre, ConnectTimeout, last)
	case strings.Contains(tail, "No route to host") || strings.Contains(tail, "Network is unreachable"):
		return fmt.Errorf("%s: unreachable (%s)", pre, last)
	}
	if !strings.HasPrefix(last, "ssh:") && !strings.Contains(last, "ssh_") && !strings.Contains(tail, "Connection") {
		// ssh said nothing of its own: the remote command died of a signal
		// (sshd reports exit-signal, ssh exits 255) or the session dropped.
		return fmt.Errorf("%s: %s was killed (ssh ended with status 255 and no error of its own: a signal ended the worker, or the connection dropped)%s", pre, what, tailNote(tail))
	}
	return fmt.Errorf("%s: %s failed: ssh: %s", pre, what, last)
}

func tailNote(tail string) string {
	if tail == "" {
		return ""
	}
	if len(tail) > 1000 {
		tail = "…" + tail[len(tail)-1000:]
	}
	return "; stderr: " + tail
}
