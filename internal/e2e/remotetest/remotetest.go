// Package remotetest is the table of remote-run checks every sandbox kind
// must pass (spec 04): parity with a local run, the seed bug, incremental
// sync, faults and the secrets canary. Each function takes the sandbox as
// the [remote.NAME] table a user would write, so the local, docker and ssh
// kinds run the very same checks:
//
//	remotetest.Parity(t, remotetest.Sandbox{Name: "box", TOML: "[remote.box]\nkind = \"local\"\n"})
//
// Runs go through the real binary (internal/e2e) where the CLI is what is
// tested, and through remote.Execute — what `osiris run --remote` calls —
// where a fault must be injected into the sandbox's stdio.
package remotetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb", to read targets back

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
	osexec "github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/remote"
)

// Sandbox is one [remote.NAME] under test.
type Sandbox struct {
	Name string // NAME
	TOML string // the whole table, "[remote.NAME]\nkind = …"
	// Files, when set, returns every file the sandbox holds (store, run
	// trees) for the secrets canary; the local kind's default directory is
	// inside the workspace and is searched without it.
	Files func(t *testing.T) map[string][]byte
	// Shell, when set, runs a script in the sandbox's directory (see
	// StoreFaults); nil for the local kind's default directory.
	Shell Shell
	// Freeze, when set, freezes the running worker (see SecondInterrupt);
	// nil for the local kind's default directory.
	Freeze Freeze
	// Live, when set, lists what of the sandbox still runs (see
	// KillFaults); nil for the local kind's default directory.
	Live Live
}

// id is a name fragment unique to the sandbox, for databases and tables.
func (s Sandbox) id() string {
	return strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(s.Name, "_"))
}

// remoteEvents are the events only a remote run has.
var remoteEvents = map[string]bool{
	osexec.EventSandboxStarted: true, osexec.EventSyncComplete: true,
	osexec.EventArtifactsFetched: true, osexec.EventSandboxStopped: true,
}

// stepEvents is the run's event sequence as "event step", without the
// remote-only events and the time-driven step_progress.
func stepEvents(evs []osexec.Event) []string {
	var out []string
	for _, e := range evs {
		if remoteEvents[e.Event] || e.Event == osexec.EventStepProgress {
			continue
		}
		s := e.Event
		if e.Step != "" {
			s += " " + e.Step
		}
		if e.Event == osexec.EventInputsResolved {
			// Where each input came from and how many rows; its in-memory
			// bytes depend on allocation and are not compared.
			inputs, _ := e.Fields["inputs"].([]any)
			for _, x := range inputs {
				if in, ok := x.(map[string]any); ok {
					s += fmt.Sprintf(" [%v %v rows from %v as %v]", in["step"], in["rows"], in["source"], in["names"])
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// compareRuns checks that a remote run directory tells the same story as a
// local one: step events in the same order, the same rows and table
// digests per step, and artifacts present and verified.
func compareRuns(t *testing.T, local, remoteDir string) {
	t.Helper()
	le, re := e2e.ReadEvents(t, local), e2e.ReadEvents(t, remoteDir)
	if a, b := stepEvents(le), stepEvents(re); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("step events differ:\nlocal:\n  %s\nremote:\n  %s", strings.Join(a, "\n  "), strings.Join(b, "\n  "))
	}
	for _, name := range []string{osexec.EventSandboxStarted, osexec.EventSyncComplete, osexec.EventArtifactsFetched, osexec.EventSandboxStopped} {
		if len(e2e.EventsNamed(re, name, "")) != 1 {
			t.Errorf("remote run has %d %s events, want 1", len(e2e.EventsNamed(re, name, "")), name)
		}
	}
	if last := re[len(re)-1]; !last.IsTerminal() {
		t.Errorf("remote events.jsonl ends with %s, not the run's terminal event", last.Event)
	}
	ls, rs := e2e.ReadStatus(t, local), e2e.ReadStatus(t, remoteDir)
	if ls.Status != rs.Status || ls.RowsTotal != rs.RowsTotal {
		t.Errorf("status: local %s %d rows, remote %s %d rows", ls.Status, ls.RowsTotal, rs.Status, rs.RowsTotal)
	}
	if len(ls.Steps) != len(rs.Steps) {
		t.Fatalf("local has %d steps, remote %d", len(ls.Steps), len(rs.Steps))
	}
	for i, l := range ls.Steps {
		r := rs.Steps[i]
		if l.ID != r.ID || l.Status != r.Status || l.RowsIn != r.RowsIn || l.RowsOut != r.RowsOut {
			t.Errorf("step %s: local %s in %d out %d; remote %s %s in %d out %d", l.ID, l.Status, l.RowsIn, l.RowsOut, r.ID, r.Status, r.RowsIn, r.RowsOut)
		}
		if (l.Artifact == nil) != (r.Artifact == nil) {
			t.Errorf("step %s: artifact local %v remote %v", l.ID, l.Artifact != nil, r.Artifact != nil)
			continue
		}
		if l.Artifact == nil {
			continue
		}
		if l.Artifact.TableDigest != r.Artifact.TableDigest || l.Artifact.Rows != r.Artifact.Rows {
			t.Errorf("step %s: table digest local %s, remote %s", l.ID, l.Artifact.TableDigest, r.Artifact.TableDigest)
		}
		// The artifact came back and is what the engine wrote.
		p := filepath.Join(remoteDir, filepath.FromSlash(r.Artifact.Path))
		h, n, err := remote.HashFile(p)
		if err != nil || "sha256:"+h != r.Artifact.SHA256 || n != r.Artifact.Bytes {
			t.Errorf("step %s: artifact %s in the local run directory: %v, sha256:%s (%d bytes), want %s (%d)", l.ID, p, err, h, n, r.Artifact.SHA256, r.Artifact.Bytes)
		}
	}
}

// runEvent returns the single event called name of a run directory.
func runEvent(t *testing.T, runDir, name string) osexec.Event {
	t.Helper()
	evs := e2e.EventsNamed(e2e.ReadEvents(t, runDir), name, "")
	if len(evs) != 1 {
		t.Fatalf("%s: %d %s events, want 1", runDir, len(evs), name)
	}
	return evs[0]
}

func intField(e osexec.Event, k string) int64 {
	switch v := e.Fields[k].(type) {
	case json.Number:
		n, _ := v.Int64()
		return n
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return -1
}

// duckRows runs query in DuckDB (in memory unless db names a file) and
// returns each row as "a|b|c", sorted.
func duckRows(t *testing.T, db, query string) []string {
	t.Helper()
	conn, err := sql.Open("duckdb", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return e2e.SQLRows(t, conn, "|", "NULL", query)
}

func pgRows(t *testing.T, db, query string) []string {
	t.Helper()
	conn := testenv.PGConn(t, db)
	defer conn.Close(context.Background())
	return e2e.PGRows(t, conn, "|", query)
}

func sameRows(t *testing.T, what string, local, remoteRows []string) {
	t.Helper()
	if len(local) == 0 {
		t.Errorf("%s: the local run left no rows to compare", what)
	}
	if strings.Join(local, "\n") != strings.Join(remoteRows, "\n") {
		n := min(len(local), len(remoteRows), 5)
		t.Errorf("%s: local %d rows, remote %d rows; first rows local %v remote %v", what, len(local), len(remoteRows), local[:n], remoteRows[:n])
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
