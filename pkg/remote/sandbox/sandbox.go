// Package sandbox is where a remote run's worker lives: anything that can
// start `osiris worker --stdio` with a private working directory and connect
// to its stdin/stdout. Each kind is one folder below this one (local, docker,
// ssh; later kubernetes, e2b) and registers itself by name, the way
// database/sql drivers do; the client in pkg/remote knows only this interface.
//
// A sandbox is a transport, never a second runner: the worker it starts is
// the same binary calling the same engine (pkg/exec). Nothing here may assume
// a disk shared with the client — a Docker daemon or an ssh host can be
// another machine — so files travel through the protocol (pkg/remote), and
// the binary is provisioned by hash.
package sandbox

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/osiris-go/osiris/workspace"
)

// Sandbox starts workers of one configured [remote.<name>].
type Sandbox interface {
	// Describe says what this sandbox is, without secrets.
	Describe() Description
	// Start provisions what the kind needs (its directory, the osiris binary
	// by hash) and starts `osiris worker --stdio --dir <dir>` in it. Protocol
	// frames travel over the returned Process's stdin and stdout. Cancelling
	// ctx kills the worker.
	Start(ctx context.Context, opts StartOptions) (Process, error)
}

// StartOptions are what the client hands a sandbox when it starts a worker.
type StartOptions struct {
	// Binary is the path of the osiris executable to run in the sandbox
	// (same OS/arch as the sandbox; [remote.x].binary overrides it), and
	// BinarySHA256 its hex SHA-256: a kind that copies the binary names its
	// copy by this hash and uploads it only when missing.
	Binary       string
	BinarySHA256 string
	// Stderr receives the worker's stderr (its logs). The client keeps a
	// tail of it for error messages; may be nil.
	Stderr io.Writer
	// Env is the environment the worker starts with besides what the kind
	// needs itself (never secrets: those travel in the run request).
	Env []string
}

// Process is a started worker.
type Process interface {
	Stdin() io.WriteCloser
	Stdout() io.Reader
	// Wait waits for the worker to exit; its exit status is the final
	// authority on how the run ended.
	Wait() error
	// Kill stops the worker (and its container or ssh session) now.
	Kill() error
}

// Description says what a sandbox is, for events, `remote list` and errors.
type Description struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // local | docker | ssh
	// Isolation is how the worker is confined: "bwrap", "plain" (a child
	// process without bubblewrap), "docker", "ssh".
	Isolation string `json:"isolation"`
	// Where is the sandbox's location: a directory, image@daemon or
	// user@host:dir. Never a secret.
	Where string `json:"where"`
}

// Env is what a kind's constructor gets besides its [remote.<name>] table.
type Env struct {
	// Root is the workspace root (absolute); StateDir its state directory
	// (.osiris by default), under which the local kind keeps
	// sandboxes/<name>/.
	Root, StateDir string
}

// Factory builds a Sandbox from its configuration.
type Factory func(cfg *workspace.RemoteConfig, env Env) (Sandbox, error)

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a sandbox kind available by name. It panics if called
// twice for one kind, like sql.Register.
func Register(kind string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[kind]; dup {
		panic("sandbox: Register called twice for kind " + kind)
	}
	factories[kind] = f
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(factories))
	for k := range factories {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Open builds the sandbox that cfg describes.
func Open(cfg *workspace.RemoteConfig, env Env) (Sandbox, error) {
	mu.RLock()
	f, ok := factories[cfg.Kind]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("remote %q: unknown sandbox kind %q (known: %v)", cfg.Name, cfg.Kind, Kinds())
	}
	return f(cfg, env)
}
