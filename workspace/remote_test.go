package workspace

import (
	"strings"
	"testing"
)

// keep_runs and max_store bound a sandbox; every kind takes them; a bad
// value is an error at its line.
func TestRemoteStoreBounds(t *testing.T) {
	ws, err := newWorkspace(t, map[string]string{"osiris.toml": `[project]
name = "x"

[remote.a]
kind = "local"
max_store = "500MB"
keep_runs = 1

[remote.b]
kind = "ssh"
host = "h"
max_store = 1048576

[remote.c]
kind = "docker"
image = "i"
`})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]struct {
		max  int64
		keep int
	}{"a": {500 * 1000 * 1000, 1}, "b": {1 << 20, DefaultRemoteKeepRuns}, "c": {2 << 30, DefaultRemoteKeepRuns}} {
		m, k := ws.Config.Remote[name].StoreBounds()
		if m != want.max || k != want.keep {
			t.Errorf("%s: max_store %d keep_runs %d, want %d %d", name, m, k, want.max, want.keep)
		}
	}
	for _, bad := range []string{`max_store = "lots"`, `max_store = -1`, `keep_runs = -1`, `keep_runs = "3"`} {
		_, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"x\"\n\n[remote.a]\nkind = \"local\"\n" + bad + "\n"})
		if err == nil || !strings.Contains(err.Error(), "remote.a.") {
			t.Errorf("%s: %v, want an error naming the key", bad, err)
		}
	}
}

// A bare --remote with several sandboxes and none the default uses
// "local" (spec 04): [remote.local] when configured, else the plain one.
func TestBareRemoteWithSeveralIsLocal(t *testing.T) {
	for _, tc := range []struct{ toml, dir string }{
		{"[remote.a]\nkind = \"local\"\n[remote.b]\nkind = \"local\"\n", ""},
		{"[remote.a]\nkind = \"local\"\n[remote.local]\nkind = \"local\"\ndir = \"/tmp/box\"\n", "/tmp/box"},
	} {
		ws, err := newWorkspace(t, map[string]string{"osiris.toml": "[project]\nname = \"x\"\n\n" + tc.toml})
		if err != nil {
			t.Fatal(err)
		}
		r, err := ws.ResolveRemote("")
		if err != nil || r.Name != "local" || r.Kind != "local" || r.Dir != tc.dir {
			t.Errorf("%q: %+v %v, want the local sandbox", tc.toml, r, err)
		}
	}
}
