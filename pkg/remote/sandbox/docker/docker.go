package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/pkg/remote/sandbox/internal/spawn"
	"github.com/osiris-go/osiris/workspace"
)

// Mount is where the sandbox store (the volume) is mounted in the container.
const Mount = "/sandbox"

func init() { sandbox.Register("docker", New) }

// Sandbox is one [remote.<name>] of kind docker.
type Sandbox struct {
	cfg    workspace.RemoteConfig
	volume string // a volume name, or an absolute path on the Docker host
	docker string // the docker command
	memo   string // the verified binary's identity (client side), see spawn.KnownID
}

// New builds a docker sandbox from its configuration.
func New(cfg *workspace.RemoteConfig, env sandbox.Env) (sandbox.Sandbox, error) {
	if cfg.Image == "" {
		return nil, diag.Usage("remote %q: a docker sandbox needs image = \"NAME:TAG\" (osiris.toml line %d)", cfg.Name, cfg.Line)
	}
	s := &Sandbox{cfg: *cfg, volume: cfg.Volume, docker: "docker"}
	if s.volume == "" {
		s.volume = "osiris-sandbox-" + dockerName(cfg.Name)
	}
	if env.StateDir != "" {
		s.memo = filepath.Join(env.StateDir, "sandboxes", "."+dockerName(cfg.Name)+".binary-id")
	}
	return s, nil
}

// Describe says image@daemon and the volume.
func (s *Sandbox) Describe() sandbox.Description {
	return sandbox.Description{Name: s.cfg.Name, Kind: "docker", Isolation: "docker",
		Where: fmt.Sprintf("%s@%s volume %s", s.cfg.Image, s.daemon(), s.volume)}
}

func (s *Sandbox) daemon() string {
	if s.cfg.DockerHost != "" {
		return s.cfg.DockerHost
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}

// env is the docker client's environment: this process's, with
// docker_host applied and the worker's variables added (passed to the
// container by name with -e NAME, so no value is on a command line).
func (s *Sandbox) env(extra []string) []string {
	e := append(os.Environ(), extra...)
	if s.cfg.DockerHost != "" {
		e = append(e, "DOCKER_HOST="+s.cfg.DockerHost)
	}
	return e
}

func (s *Sandbox) mount() string { return s.volume + ":" + Mount }

// Start checks the image, provisions the binary into the volume by hash and
// starts the worker container.
func (s *Sandbox) Start(ctx context.Context, opts sandbox.StartOptions) (sandbox.Process, error) {
	if _, err := exec.LookPath(s.docker); err != nil {
		return nil, diag.Usage("remote %q: the docker command is not installed (apt-get install docker.io, or use another sandbox kind)", s.cfg.Name)
	}
	sha := opts.BinarySHA256
	if sha == "" {
		var err error
		if sha, err = spawn.FileSHA256(opts.Binary); err != nil {
			return nil, fmt.Errorf("remote %q: %w", s.cfg.Name, err)
		}
	}
	if err := s.checkImage(ctx); err != nil {
		return nil, err
	}
	name := "osiris-worker-" + dockerName(s.cfg.Name) + "-" + randomHex(6)
	args := []string{"run", "--rm", "-i", "--pull", "never", "--log-driver", "none", "--name", name,
		"--label", "osiris.sandbox=" + s.cfg.Name, "-v", s.mount(), "--workdir", Mount}
	if s.cfg.Network != "" {
		args = append(args, "--network", s.cfg.Network)
	}
	for _, kv := range opts.Env {
		if k, _, ok := strings.Cut(kv, "="); ok {
			args = append(args, "-e", k)
		}
	}
	args = append(args, "--entrypoint", "/bin/sh", s.cfg.Image)
	wargs, _ := spawn.WorkerArgs(Mount, sha, nil, false, spawn.KnownID(s.memo))
	args = append(args, wargs...)
	p, err := spawn.Start(ctx, spawn.Command{
		Path: s.docker, Args: args, Env: s.env(opts.Env), Stderr: opts.Stderr,
		Kill: func() error { return s.remove(name) },
		Exited: func(ee *exec.ExitError, tail string) error {
			return s.exitError("the worker container", ee, tail)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("remote %q: start docker: %w", s.cfg.Name, err)
	}
	prov, err := spawn.Handshake(ctx, p, opts.Binary, func(pr spawn.Provisioned) error {
		return spawn.CheckPlatform(pr, s.cfg.Binary != "")
	})
	if err != nil {
		return nil, s.startFailed(p, err)
	}
	spawn.Remember(s.memo, prov.ID)
	return &Process{Process: p, uploaded: prov.Uploaded}, nil
}

// startFailed stops a worker whose start script failed and explains why.
func (s *Sandbox) startFailed(p *spawn.Process, herr error) error {
	if !errors.Is(herr, spawn.ErrCorrupted) && !errors.Is(herr, spawn.ErrNoAnswer) {
		p.Kill() // the script waits for more; it has ended or (corrupted upload) exits by itself
	}
	if werr := p.Wait(); errors.Is(herr, spawn.ErrNoAnswer) && werr != nil {
		return werr // explained by exitError
	}
	return fmt.Errorf("remote %q: starting the worker in volume %s: %w%s", s.cfg.Name, s.volume, herr, tailNote(p.Tail()))
}

// Process is a running worker container.
type Process struct {
	*spawn.Process
	uploaded int64
}

// BinaryBytesUploaded is how many bytes of the osiris binary this start
// copied into the sandbox (0 when that version was there already).
func (p *Process) BinaryBytesUploaded() int64 { return p.uploaded }

// checkImage fails clearly when the daemon is unreachable or the image is
// missing (osiris never pulls).
func (s *Sandbox) checkImage(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, s.docker, "image", "inspect", "--format", "{{.Id}}", s.cfg.Image)
	cmd.Env = s.env(nil)
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return nil // its OS/arch is checked by uname while provisioning
	}
	msg := spawn.LastLine(stderr.String())
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("remote %q: the Docker daemon at %s did not answer within 10 s", s.cfg.Name, s.daemon())
	case strings.Contains(msg, "No such image") || strings.Contains(msg, "No such object"):
		return diag.Usage("remote %q: docker image %q not found on the Docker daemon at %s: build, import or pull it there first "+
			"(e.g. docker pull %s); osiris never pulls images itself", s.cfg.Name, s.cfg.Image, s.daemon(), s.cfg.Image)
	case strings.Contains(msg, "Cannot connect") || strings.Contains(msg, "error during connect") || strings.Contains(msg, "connect:"):
		return fmt.Errorf("remote %q: cannot reach the Docker daemon at %s (%s): start dockerd, or set docker_host / DOCKER_HOST", s.cfg.Name, s.daemon(), msg)
	}
	return fmt.Errorf("remote %q: docker image inspect %s: %s", s.cfg.Name, s.cfg.Image, orErr(msg, err))
}

// exitError explains a docker run that exited non-zero: 125–127 are
// docker's own (the container did not run); others are the worker's.
func (s *Sandbox) exitError(what string, ee *exec.ExitError, tail string) error {
	last := spawn.LastLine(tail)
	switch code := ee.ExitCode(); code {
	case 125:
		return fmt.Errorf("remote %q: docker could not run %s (image %s on %s): %s", s.cfg.Name, what, s.cfg.Image, s.daemon(), orErr(last, ee))
	case 126, 127:
		if strings.Contains(tail, "/bin/sh") {
			return diag.Usage("remote %q: image %s has no /bin/sh, which osiris needs to install its binary by hash: use an image with a shell and sha256sum (e.g. debian:bookworm-slim)", s.cfg.Name, s.cfg.Image)
		}
		return fmt.Errorf("remote %q: %s could not be executed in image %s: %s", s.cfg.Name, what, s.cfg.Image, orErr(last, ee))
	case 137:
		return fmt.Errorf("remote %q: %s was killed (SIGKILL: docker rm -f, or out of memory)%s: %w", s.cfg.Name, what, tailNote(tail), ee)
	default:
		return fmt.Errorf("remote %q: %s exited with status %d%s: %w", s.cfg.Name, what, code, tailNote(tail), ee)
	}
}

// remove force-removes the worker container (killing the docker client
// does not stop it).
func (s *Sandbox) remove(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.docker, "rm", "-f", name)
	cmd.Env = s.env(nil)
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such container") {
		return fmt.Errorf("docker rm -f %s: %s", name, orErr(spawn.LastLine(string(out)), err))
	}
	return nil
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

func orErr(msg string, err error) string {
	if msg != "" {
		return msg
	}
	return err.Error()
}

// dockerName maps a sandbox name onto the characters Docker allows in
// volume and container names ([a-zA-Z0-9_.-]).
func dockerName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '-'
	}, s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
