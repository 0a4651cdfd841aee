package main

import (
	"runtime/debug"
	"testing"
)

// A binary built with plain `go build` or `go install` (no -ldflags) names
// its version and commit from Go's build information instead of "dev" and
// nothing.
func TestVersionFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "4d14bbc0123456789abcdef0123456789abcdef0"}, {Key: "vcs.modified", Value: "false"}}
	dirty := []debug.BuildSetting{{Key: "vcs.revision", Value: "4d14bbc0123456789abcdef0123456789abcdef0"}, {Key: "vcs.modified", Value: "true"}}
	for _, c := range []struct {
		name                 string
		ldVersion, ldCommit  string
		main                 string
		settings             []debug.BuildSetting
		wantVersion, wantCmt string
	}{
		{"go install @version", "dev", "", "v1.4.0", nil, "v1.4.0", ""},
		{"go build in a checkout", "dev", "", "(devel)", vcs, "devel-4d14bbc01234", "4d14bbc0123456789abcdef0123456789abcdef0"},
		{"go build, local changes", "dev", "", "v0.0.0-20261206120000-4d14bbc01234+dirty", dirty, "devel-4d14bbc01234-dirty", "4d14bbc0123456789abcdef0123456789abcdef0-dirty"},
		{"go build with a pseudo-version", "dev", "", "v0.0.0-20261206120000-4d14bbc01234", vcs, "v0.0.0-20261206120000-4d14bbc01234", "4d14bbc0123456789abcdef0123456789abcdef0"},
		{"make build (ldflags win)", "v1.5.0", "abc", "(devel)", vcs, "v1.5.0", "abc"},
		{"nothing known", "dev", "", "(devel)", nil, "dev", ""},
	} {
		v, cm := versionFromBuild(c.ldVersion, c.ldCommit, &debug.BuildInfo{Main: debug.Module{Version: c.main}, Settings: c.settings})
		if v != c.wantVersion || cm != c.wantCmt {
			t.Errorf("%s: version %q commit %q, want %q %q", c.name, v, cm, c.wantVersion, c.wantCmt)
		}
	}
}
