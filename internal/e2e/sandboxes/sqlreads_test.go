package sandboxes

import (
	"testing"

	"github.com/osiris-go/osiris/internal/e2e/remotetest"
)

// The files a processor's SQL reads and base_dir paths travel to the
// docker and ssh sandboxes and the writer's file comes back (issue 16).
func TestDockerSQLReads(t *testing.T) { t.Parallel(); remotetest.SQLReads(t, dockerBox(t)) }
func TestSSHSQLReads(t *testing.T)    { t.Parallel(); remotetest.SQLReads(t, sshBox(t)) }
