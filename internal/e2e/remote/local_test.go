package remote

import (
	"testing"

	"github.com/osiris-go/osiris/internal/e2e/remotetest"
)

// box is the local sandbox under test; its directory is the default,
// .osiris/sandboxes/box inside each test workspace.
var box = remotetest.Sandbox{Name: "box", TOML: "[remote.box]\nkind = \"local\"\n"}

func TestLocalParity(t *testing.T) { t.Parallel(); remotetest.Parity(t, box) }

func TestLocalSeedBug(t *testing.T) { t.Parallel(); remotetest.SeedBug(t, box) }

func TestLocalFaults(t *testing.T) { t.Parallel(); remotetest.Faults(t, box) }

func TestLocalIncrementalSync(t *testing.T) { t.Parallel(); remotetest.Incremental(t, box) }

func TestLocalSecretsCanary(t *testing.T) { t.Parallel(); remotetest.SecretsCanary(t, box) }

func TestLocalInterrupt(t *testing.T) { t.Parallel(); remotetest.Interrupt(t, box) }
