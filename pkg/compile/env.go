package compile

import "github.com/osiris-go/osiris/pkg/component"

// Version is the osiris version that goes into compiler_fp. cmd/osiris sets
// it at start (from its build info); tests leave "dev".
var Version = "dev"

// DefaultProfile is used when neither Options nor the workspace name one.
const DefaultProfile = "dev"

// Env is what the compiler needs from a workspace. FromWorkspace adapts a
// loaded workspace; tests use a small in-memory implementation.
type Env interface {
	// Root is the workspace root, absolute.
	Root() string
	// DefaultProfile is [project].profile ("" when unset).
	DefaultProfile() string
	// HasConnection reports whether [connections.<family>.<alias>] exists.
	HasConnection(family, alias string) bool
	// DefaultConnection returns the alias used when a step omits `connection`.
	DefaultConnection(family string) (alias string, ok bool)
	// ConnectionRefs lists every connection as "@family.alias", sorted.
	ConnectionRefs() []string
	// LookupEnv reads the environment; the compiler asks only for
	// OSIRIS_PARAM_* names, never for connection variables.
	LookupEnv(name string) (string, bool)
}

// Options are the per-invocation inputs besides the file.
type Options struct {
	// Profile overrides the workspace's default profile (--profile).
	Profile string
	// Params are --param NAME=VALUE pairs; they win over everything else.
	Params map[string]string
	// Remote: the manifest is for a remote sandbox (run --remote, validate
	// --remote), which carries only the files a step names: a step whose
	// reads cannot be known before it runs is an error.
	Remote bool
}

// lookupSpec finds a component's spec; a variable so tests can compile
// against a changed spec without touching the global registry.
var lookupSpec = component.Lookup
