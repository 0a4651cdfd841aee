package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/osiris-go/osiris/internal/filehash"
	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component/duckdb"
	"github.com/osiris-go/osiris/pkg/exec"
)

// version and commit are set with -ldflags by the Makefile. A binary
// built without them (`go build`, `go install …@v1.2.0`) reads them from
// the build information Go records: the module's version, or the VCS
// revision it was built from.
var (
	version = "dev"
	commit  = ""
)

func init() {
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, commit = versionFromBuild(version, commit, bi)
	}
	compile.Version = version
}

// versionFromBuild fills what -ldflags left unset: the module version
// (`go install …@v1.2.0`), else devel-<revision>[-dirty] from the VCS
// settings (`go build` in a checkout), and the commit.
func versionFromBuild(version, commit string, bi *debug.BuildInfo) (string, string) {
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if commit == "" {
		commit = rev
		if commit != "" && modified == "true" {
			commit += "-dirty"
		}
	}
	if version != "dev" {
		return version, commit
	}
	switch v := bi.Main.Version; {
	case v != "" && v != "(devel)" && !strings.Contains(v, "+dirty"):
		return v, commit
	case rev != "":
		short := rev
		if len(short) > 12 {
			short = short[:12]
		}
		if modified == "true" {
			short += "-dirty"
		}
		return "devel-" + short, commit
	}
	return version, commit
}

type versionInfo struct {
	Version      string `json:"version"`
	Commit       string `json:"commit"`
	Go           string `json:"go"`
	OS           string `json:"os"`
	Arch         string `json:"arch"`
	DuckDB       string `json:"duckdb"`
	BinarySHA256 string `json:"binary_sha256"`
}

func currentVersion() versionInfo {
	v := versionInfo{Version: version, Commit: commit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	v.DuckDB = duckdb.LibraryVersion()
	v.BinarySHA256, _ = selfSHA256()
	return v
}

// engineIdentity is what the step cache keys on as "the engine": outputs of
// another osiris or DuckDB version are not reused. A build that names no
// clean commit (a dirty worktree, no VCS information) is identified by the
// SHA-256 of its own executable as well (through the step cache's file
// memo, so it is read once per build): two such builds may differ in
// anything.
func engineIdentity(cache *exec.StepCache) string {
	id := fmt.Sprintf("osiris %s (%s); duckdb %s; %s/%s", version, commit, duckdb.LibraryVersion(), runtime.GOOS, runtime.GOARCH)
	if commit == "" || strings.HasSuffix(commit, "-dirty") {
		sum, err := "", error(nil)
		if exe, xerr := os.Executable(); xerr != nil {
			err = xerr
		} else {
			sum, err = cache.FileHash(exe)
		}
		if err != nil {
			sum = "unknown " + fmt.Sprint(os.Getpid()) // never equal to another run's
		}
		id += "; binary " + sum
	}
	return id
}

// selfSHA256 hashes the running executable (the binary is content-addressed
// when it travels to a sandbox).
func selfSHA256() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	h, _, err := filehash.FileHex(exe)
	return h, err
}

func (a *app) cmdVersion(args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if _, err := a.parseFlags(fs, args, "version"); err != nil {
		return err
	}
	v := currentVersion()
	if a.json {
		return a.printJSON(v)
	}
	a.outf("osiris %s\ncommit  %s\ngo      %s %s/%s\nduckdb  %s\nsha256  %s\n", v.Version, v.Commit, v.Go, v.OS, v.Arch, v.DuckDB, v.BinarySHA256)
	return nil
}
