package sandboxes

import (
	"testing"

	"github.com/osiris-go/osiris/internal/e2e/remotetest"
	_ "github.com/osiris-go/osiris/pkg/remote/sandbox/docker" // for the in-process fault runs
	_ "github.com/osiris-go/osiris/pkg/remote/sandbox/ssh"
)

// The remote-run table every kind passes (parity on the four pipelines,
// the seed bug, faults injected into the worker's stdio), for docker and
// ssh. Each kind has its own name, so its databases and tables are its own.
// dockerBox and sshBox use the package's shared volume and directory: a
// store that persists across workspaces, as a user's does.
func dockerBox(t *testing.T) remotetest.Sandbox {
	toml, vol := dockerRemote(t, "dock")
	return remotetest.Sandbox{Name: "dock", TOML: toml, Files: func(t *testing.T) map[string][]byte { return volumeFiles(t, vol) }}
}

func sshBox(t *testing.T) remotetest.Sandbox {
	toml, dir := sshRemote(t, "sshbox", nil)
	return remotetest.Sandbox{Name: "sshbox", TOML: toml, Files: func(t *testing.T) map[string][]byte { return dirFiles(t, dir) }}
}

func TestDockerParity(t *testing.T)  { t.Parallel(); remotetest.Parity(t, dockerBox(t)) }
func TestDockerSeedBug(t *testing.T) { t.Parallel(); remotetest.SeedBug(t, dockerBox(t)) }
func TestDockerFaults(t *testing.T)  { t.Parallel(); remotetest.Faults(t, dockerBox(t)) }

func TestSSHParity(t *testing.T)  { t.Parallel(); remotetest.Parity(t, sshBox(t)) }
func TestSSHSeedBug(t *testing.T) { t.Parallel(); remotetest.SeedBug(t, sshBox(t)) }
func TestSSHFaults(t *testing.T)  { t.Parallel(); remotetest.Faults(t, sshBox(t)) }

func TestDockerIncrementalSync(t *testing.T) { t.Parallel(); remotetest.Incremental(t, dockerBox(t)) }
func TestDockerSecretsCanary(t *testing.T)   { t.Parallel(); remotetest.SecretsCanary(t, dockerBox(t)) }
func TestDockerInterrupt(t *testing.T)       { t.Parallel(); remotetest.Interrupt(t, dockerBox(t)) }

func TestSSHIncrementalSync(t *testing.T) { t.Parallel(); remotetest.Incremental(t, sshBox(t)) }
func TestSSHSecretsCanary(t *testing.T)   { t.Parallel(); remotetest.SecretsCanary(t, sshBox(t)) }
func TestSSHInterrupt(t *testing.T)       { t.Parallel(); remotetest.Interrupt(t, sshBox(t)) }
