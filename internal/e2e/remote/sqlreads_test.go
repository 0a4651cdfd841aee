package remote

import (
	"testing"

	"github.com/osiris-go/osiris/internal/e2e/remotetest"
)

// The files a processor's SQL reads and base_dir paths travel to the local
// (bubblewrap) sandbox and the writer's file comes back (issue 16).
func TestLocalSQLReads(t *testing.T) { t.Parallel(); remotetest.SQLReads(t, box) }
