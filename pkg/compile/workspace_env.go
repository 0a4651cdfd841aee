package compile

import (
	"strings"

	"github.com/osiris-go/osiris/workspace"
)

// FromWorkspace adapts a loaded workspace to Env. Only OSIRIS_PARAM_*
// variables are ever looked up through it.
func FromWorkspace(ws *workspace.Workspace) Env { return wsEnv{ws} }

type wsEnv struct{ ws *workspace.Workspace }

func (e wsEnv) Root() string           { return e.ws.Root }
func (e wsEnv) DefaultProfile() string { return e.ws.Config.Project.Profile }

func (e wsEnv) HasConnection(family, alias string) bool {
	_, ok := e.ws.Connection(family, alias)
	return ok
}

func (e wsEnv) DefaultConnection(family string) (string, bool) {
	c, ok := e.ws.DefaultConnection(family)
	if !ok {
		return "", false
	}
	return c.Alias, true
}

func (e wsEnv) ConnectionRefs() []string { return e.ws.ConnectionRefs() }

func (e wsEnv) LookupEnv(name string) (string, bool) {
	if !strings.HasPrefix(name, "OSIRIS_PARAM_") || e.ws.Env == nil {
		return "", false
	}
	return e.ws.Env.Lookup(name)
}

// Files is the workspace's path policy (FilesEnv).
func (e wsEnv) Files() *workspace.Files { return e.ws.Files }

// ConnectionField returns a connection field as written (ConnectionFieldEnv).
func (e wsEnv) ConnectionField(family, alias, key string) (string, string, bool) {
	c, ok := e.ws.Connection(family, alias)
	if !ok {
		return "", "", false
	}
	s, ok := c.Fields[key].(string)
	return s, c.Where(), ok
}

// ResolveConnection resolves a connection for its family's check
// (ConnectionEnv); the values stay in memory.
func (e wsEnv) ResolveConnection(ref, family string) (*workspace.Connection, error) {
	return e.ws.ResolveConnection(ref, family)
}

// PipelinesDir is [paths].pipelines (PipelinesEnv).
func (e wsEnv) PipelinesDir() string { return e.ws.Config.Paths.Pipelines }

// ContainsSecret reports whether s holds a secret value the workspace's
// masker knows (SecretsEnv).
func (e wsEnv) ContainsSecret(s string) bool { return e.ws.Masker.Contains(s) }

// WriteWorkspaceBuild is WriteBuild with the workspace's build and state
// paths.
func WriteWorkspaceBuild(ws *workspace.Workspace, m *Manifest) (dir string, changed bool, err error) {
	return WriteBuild(ws.Root, ws.Config.Paths.Build, ws.Config.Paths.State, m)
}
