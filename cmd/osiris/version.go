package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component/duckdb"
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

// selfSHA256 hashes the running executable (the binary is content-addressed
// when it travels to a sandbox).
func selfSHA256() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
