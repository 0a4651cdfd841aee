package sandboxes

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// The sandboxes are shared by the tests of this package (the binary is
// uploaded once per test process, as it would be once per version for a
// user): one docker volume, one ssh directory, removed by TestMain.
var (
	sharedVolume = "osiris-e2e-" + fmt.Sprint(os.Getpid()) + "-" + fmt.Sprint(time.Now().UnixNano()%1e9)
	sharedSSHDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "osiris-e2e-ssh-sandbox")
	if err != nil {
		panic(err)
	}
	sharedSSHDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if h := os.Getenv("OSIRIS_TEST_DOCKER_HOST"); h != "" {
		cmd := exec.Command("docker", "volume", "rm", "-f", sharedVolume)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+h)
		_ = cmd.Run()
	}
	os.Exit(code)
}

// dockerRemote is a [remote.NAME] of kind docker on the test daemon, with
// the shared volume.
func dockerRemote(t *testing.T, name string, extra ...string) (toml, volume string) {
	t.Helper()
	return dockerRemoteOn(t, name, sharedVolume, extra...)
}

// dockerRemoteOn is a [remote.NAME] of kind docker with its store in volume.
func dockerRemoteOn(t *testing.T, name, volume string, extra ...string) (string, string) {
	t.Helper()
	d := testenv.NeedDocker(t)
	return fmt.Sprintf("\n[remote.%s]\nkind = \"docker\"\nimage = %q\ndocker_host = %q\nvolume = %q\nnetwork = \"host\"\n%s",
		name, d.Image, d.Host, volume, strings.Join(extra, "\n")), volume
}

// sshRemote is a [remote.NAME] of kind ssh on the test sshd, with the
// shared directory.
func sshRemote(t *testing.T, name string, change func(*testenv.SSH, *int), extra ...string) (toml, dir string) {
	t.Helper()
	return sshRemoteIn(t, name, sharedSSHDir, change, extra...)
}

// sshRemoteIn is a [remote.NAME] of kind ssh with its sandbox in dir.
func sshRemoteIn(t *testing.T, name, dir string, change func(*testenv.SSH, *int), extra ...string) (string, string) {
	t.Helper()
	s := testenv.NeedSSH(t)
	port := 0
	fmt.Sscan(s.Port, &port)
	if change != nil {
		change(&s, &port)
	}
	opts := make([]string, len(s.Options()))
	for i, o := range s.Options() {
		opts[i] = fmt.Sprintf("%q", o)
	}
	return fmt.Sprintf("\n[remote.%s]\nkind = \"ssh\"\nhost = %q\nport = %d\nuser = %q\nidentity = %q\nssh_options = [%s]\ndir = %q\n%s",
		name, s.Host, port, s.User, s.Key, strings.Join(opts, ", "), dir, strings.Join(extra, "\n")), dir
}

// docker runs the docker CLI against the test daemon.
func docker(t *testing.T, d testenv.Docker, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host)
	out, err := cmd.CombinedOutput()
	if err != nil && args[0] != "volume" && args[0] != "rm" {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// volumeFiles reads every file of a docker volume through `docker cp` of a
// stopped container (nothing assumes the daemon's disk is ours): path →
// content.
func volumeFiles(t *testing.T, volume string) map[string][]byte {
	t.Helper()
	d := testenv.NeedDocker(t)
	id := strings.TrimSpace(docker(t, d, "create", "-v", volume+":/sandbox", "--entrypoint", "/bin/sh", d.Image))
	defer docker(t, d, "rm", "-f", id)
	cmd := exec.Command("docker", "cp", id+":/sandbox", "-")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker cp of volume %s: %v", volume, err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[h.Name] = b
		}
	}
	return files
}

// hits lists "where: needle" for each needle found in files.
func hits(files map[string][]byte, needles []string, where string) []string {
	var out []string
	for name, b := range files {
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				out = append(out, where+"/"+name+": "+n)
			}
		}
	}
	return out
}

// dirFiles reads every regular file under dir.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			rel, _ := filepath.Rel(dir, p)
			files[rel] = b
		}
		return nil
	})
	return files
}

// offlinePipeline reads a CSV, aggregates it in DuckDB and writes a CSV:
// it changes nothing it reads, so a second run has nothing new to send.
const offlinePipeline = `oml_version: "0.1.0"
name: sbx-offline
steps:
  - id: extract-sales
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/sales.csv
  - id: totals
    component: duckdb.processor
    mode: transform
    needs: [extract-sales]
    config:
      query: "SELECT region, count(*) AS n, sum(amount) AS total FROM input_df GROUP BY region ORDER BY region"
  - id: write-totals
    component: filesystem.csv_writer
    mode: write
    needs: [totals]
    config:
      path: out/totals.csv
`

const salesCSV = "region,amount\nnorth,10\nsouth,20\nnorth,5\neast,7\n"

func offlineWorkspace(t *testing.T, remotes string) *e2e.Workspace {
	t.Helper()
	return e2e.NewConfiguredWorkspace(t, e2e.Config{Name: "sbx", Extra: remotes}, map[string]string{
		"pipelines/offline.yaml": offlinePipeline,
		"data/sales.csv":         salesCSV,
	})
}
