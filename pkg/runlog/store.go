package runlog

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/osiris-go/osiris/workspace"
)

// Store is where a workspace keeps its runs.
type Store struct {
	Root       string // the workspace root (run dirs in the index are relative to it)
	RunLogsDir string // absolute run_logs/
	StateDir   string // absolute .osiris/
	// Masker hides secret values in everything shown (HTML, terminal); may be nil.
	Masker *workspace.Masker
	// Now is the clock (tests fix it); nil is time.Now.
	Now func() time.Time
}

// ForWorkspace returns the store of a loaded workspace.
func ForWorkspace(ws *workspace.Workspace) *Store {
	return &Store{
		Root:       ws.Root,
		RunLogsDir: ws.Path(ws.Config.Paths.RunLogs),
		StateDir:   ws.Path(ws.Config.Paths.State),
		Masker:     ws.Masker,
	}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// abs turns a workspace-relative run dir into an absolute path.
func (s *Store) abs(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(s.Root, filepath.FromSlash(rel))
}

func (s *Store) mask(v string) string { return s.Masker.Mask(v) }

// Now0 is the store's clock reading (for --since).
func (s *Store) Now0() time.Time { return s.now() }

// FmtBytes formats a byte count for people.
func FmtBytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}
