package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/osiris-go/osiris/internal/filehash"
	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component/duckdb"
)

// version and commit are set with -ldflags by the Makefile.
var (
	version = "dev"
	commit  = ""
)

func init() { compile.Version = version }

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
	v := versionInfo{Version: version, Commit: buildCommit(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	v.DuckDB = duckdb.LibraryVersion()
	v.BinarySHA256, _ = selfSHA256()
	return v
}

// buildCommit is the commit set by the Makefile, else the one Go recorded
// (with "+modified" for a build from a worktree with uncommitted changes).
func buildCommit() string {
	if commit != "" {
		return commit
	}
	c := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				c = s.Value + c
			case s.Key == "vcs.modified" && s.Value == "true":
				c += "+modified"
			}
		}
	}
	return c
}

// engineIdentity is what the step cache keys on as "the engine": outputs of
// another osiris or DuckDB version are not reused.
func engineIdentity() string {
	return fmt.Sprintf("osiris %s (%s); duckdb %s; %s/%s", version, buildCommit(), duckdb.LibraryVersion(), runtime.GOOS, runtime.GOARCH)
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
