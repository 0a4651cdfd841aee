package sandboxes

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e/remotetest"
	"github.com/osiris-go/osiris/internal/testenv"
)

// ownDockerBox is a docker sandbox with a volume of its own (the store
// and binary faults must not strike the other tests' shared volume), and
// a Shell that edits the volume from a throwaway container.
func ownDockerBox(t *testing.T, name string) remotetest.Sandbox {
	t.Helper()
	d := testenv.NeedDocker(t)
	vol := fmt.Sprintf("osiris-e2e-%s-%d-%d", name, os.Getpid(), time.Now().UnixNano()%1e9)
	t.Cleanup(func() { docker(t, d, "volume", "rm", "-f", vol) })
	toml, _ := dockerRemoteOn(t, name, vol)
	return remotetest.Sandbox{Name: name, TOML: toml,
		Files: func(t *testing.T) map[string][]byte { return volumeFiles(t, vol) },
		Shell: func(t *testing.T, _, script string) string {
			t.Helper()
			cmd := exec.Command("docker", "run", "--rm", "-v", vol+":/sandbox", "-w", "/sandbox", "--entrypoint", "/bin/sh", d.Image, "-c", script)
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("in volume %s: %s: %v\n%s", vol, script, err, out)
			}
			return string(out)
		}}
}

// ownSSHBox is an ssh sandbox in a directory of its own.
func ownSSHBox(t *testing.T, name string) remotetest.Sandbox {
	t.Helper()
	dir := t.TempDir()
	toml, _ := sshRemoteIn(t, name, dir, nil)
	return remotetest.Sandbox{Name: name, TOML: toml,
		Files: func(t *testing.T) map[string][]byte { return dirFiles(t, dir) },
		Shell: remotetest.LocalShell(dir)}
}

func TestDockerStoreFaults(t *testing.T) {
	t.Parallel()
	remotetest.StoreFaults(t, ownDockerBox(t, "dockstore"))
}
func TestSSHStoreFaults(t *testing.T) {
	t.Parallel()
	remotetest.StoreFaults(t, ownSSHBox(t, "sshstore"))
}

// dockerFreeze pauses the sandbox's worker containers (by their label)
// and lists the ones left afterwards.
func dockerFreeze(name string) remotetest.Freeze {
	return func(t *testing.T, _ string) func() []string {
		t.Helper()
		d := testenv.NeedDocker(t)
		ids := strings.Fields(docker(t, d, "ps", "-q", "--filter", "label=osiris.sandbox="+name))
		if len(ids) == 0 {
			t.Fatalf("no running container of sandbox %s", name)
		}
		docker(t, d, append([]string{"pause"}, ids...)...)
		t.Cleanup(func() { docker(t, d, append([]string{"rm", "-f"}, ids...)...) })
		return func() []string {
			return strings.Fields(docker(t, d, "ps", "-aq", "--filter", "label=osiris.sandbox="+name))
		}
	}
}

func TestDockerSecondInterrupt(t *testing.T) {
	t.Parallel()
	sb := ownDockerBox(t, "dockfreeze")
	sb.Freeze = dockerFreeze("dockfreeze")
	remotetest.SecondInterrupt(t, sb)
}

func TestSSHSecondInterrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	toml, _ := sshRemoteIn(t, "sshfreeze", dir, nil)
	remotetest.SecondInterrupt(t, remotetest.Sandbox{Name: "sshfreeze", TOML: toml, Shell: remotetest.LocalShell(dir), Freeze: remotetest.FreezeProcesses(dir)})
}

func TestDockerKillFaults(t *testing.T) {
	t.Parallel()
	sb := ownDockerBox(t, "dockkill")
	sb.TOML += remotetest.BoundTOML
	sb.Live = func(t *testing.T, _ string) []string {
		return strings.Fields(docker(t, testenv.NeedDocker(t), "ps", "-aq", "--filter", "label=osiris.sandbox=dockkill"))
	}
	remotetest.KillFaults(t, sb)
}

func TestSSHKillFaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	toml, _ := sshRemoteIn(t, "sshkill", dir, nil, remotetest.BoundTOML)
	remotetest.KillFaults(t, remotetest.Sandbox{Name: "sshkill", TOML: toml, Shell: remotetest.LocalShell(dir), Live: remotetest.LiveProcesses(dir)})
}
