package compile_test

import (
	"sort"

	_ "github.com/osiris-go/osiris/pkg/component/all"
)

// fakeEnv is a workspace's configuration as data: the connections a test
// osiris.toml would define. It is not a mock of any service.
type fakeEnv struct {
	root      string
	profile   string
	conns     map[string][]string // family → aliases; the first is the default
	noDefault map[string]bool     // families without a default connection
	env       map[string]string
}

func newFakeEnv(root string) *fakeEnv {
	return &fakeEnv{
		root: root,
		conns: map[string][]string{
			"mysql":      {"db_movies", "sakila"},
			"supabase":   {"main"},
			"duckdb":     {"local"},
			"filesystem": {"local"},
		},
		noDefault: map[string]bool{},
		env:       map[string]string{},
	}
}

func (e *fakeEnv) Root() string           { return e.root }
func (e *fakeEnv) DefaultProfile() string { return e.profile }
func (e *fakeEnv) HasConnection(family, alias string) bool {
	for _, a := range e.conns[family] {
		if a == alias {
			return true
		}
	}
	return false
}
func (e *fakeEnv) DefaultConnection(family string) (string, bool) {
	if e.noDefault[family] || len(e.conns[family]) == 0 {
		return "", false
	}
	return e.conns[family][0], true
}
func (e *fakeEnv) ConnectionRefs() []string {
	var out []string
	for f, as := range e.conns {
		for _, a := range as {
			out = append(out, "@"+f+"."+a)
		}
	}
	sort.Strings(out)
	return out
}
func (e *fakeEnv) LookupEnv(name string) (string, bool) { v, ok := e.env[name]; return v, ok }
