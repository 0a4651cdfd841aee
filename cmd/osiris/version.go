package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"runtime"
	"runtime/debug"

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
	v := versionInfo{Version: version, Commit: commit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if v.Commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					v.Commit = s.Value
				}
			}
		}
	}
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
