package remotetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/e2e"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// Shell runs script with /bin/sh in the sandbox's directory (its store,
// bin/, runs/), as someone with access to the sandbox's disk would, and
// returns its output. The local kind's default needs no Shell: its
// directory is .osiris/sandboxes/NAME in the workspace.
type Shell func(t *testing.T, root, script string) string

func (s Sandbox) shell(t *testing.T, root, script string) string {
	t.Helper()
	if s.Shell != nil {
		return s.Shell(t, root, script)
	}
	return LocalShell(filepath.Join(root, ".osiris", "sandboxes", s.Name))(t, root, script)
}

// LocalShell is a Shell for a sandbox directory on this machine.
func LocalShell(dir string) Shell {
	return func(t *testing.T, _, script string) string {
		t.Helper()
		os.MkdirAll(dir, 0o755)
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("in the sandbox directory %s: %s: %v\n%s", dir, script, err, out)
		}
		return string(out)
	}
}

func sha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// storeWorkspace has one pipeline summing data/in.csv into out/total.csv.
// The input holds a nonce, so a store shared with other tests still lacks
// it.
func storeWorkspace(t *testing.T, sb Sandbox) (*e2e.Workspace, string) {
	in := fmt.Sprintf("id,v\n1,10\n2,20\n%d,0\n", time.Now().UnixNano())
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{MaxParallel: 1, Extra: "\n" + sb.TOML + "\n"}, map[string]string{
		"data/in.csv":      in,
		"pipelines/p.yaml": strings.Replace(faultPipeline, "QUERY", "SELECT sum(v) AS s FROM input_df", 1),
	})
	return w, in
}

// blobPath is a blob's path relative to the sandbox directory.
func blobPath(h string) string { return "cas/sha256/" + h[:2] + "/" + h }

// StoreFaults: what is on the sandbox's disk is not trusted. A blob edited
// in the store, a file planted at a new input's hash path, the provisioned
// binary replaced by a script or truncated: each next run computes the
// right result (the blob is uploaded again, the binary replaced), runs
// nothing planted, and records a complete run.
func StoreFaults(t *testing.T, sb Sandbox) {
	checkSum := func(t *testing.T, w *e2e.Workspace, runDir string) {
		t.Helper()
		if st := e2e.ReadStatus(t, runDir); st.Status != osexec.StatusSuccess {
			t.Fatalf("status.json: %s %q", st.Status, st.Error)
		}
		got := readFile(t, filepath.Join(w.Root, "output", "out.csv"))
		if !strings.Contains(got, "\n30\n") {
			t.Errorf("output/out.csv = %q; want the sum 30 of the workspace's input", got)
		}
	}
	t.Run("blob corrupted", func(t *testing.T) {
		w, in := storeWorkspace(t, sb)
		w.MustRun("pipelines/p.yaml", "--remote", sb.Name)
		p := blobPath(sha(in))
		// Same size, other sum: only the content says it changed.
		sb.shell(t, w.Root, fmt.Sprintf("chmod u+w %s && printf '%%s' %s > %s && chmod 444 %s", p, sq(strings.Replace(in, "1,10", "1,90", 1)), p, p))
		runDir := w.MustRun("pipelines/p.yaml", "--remote", sb.Name)
		checkSum(t, w, runDir)
		sync := runEvent(t, runDir, osexec.EventSyncComplete)
		if intField(sync, "bytes_uploaded") != int64(len(in)) || intField(sync, "blobs_corrupted") != 1 {
			t.Errorf("sync_complete: %v; want the corrupted blob (%d bytes) uploaded again and counted", sync.Fields, len(in))
		}
		if !strings.Contains(readFile(t, filepath.Join(runDir, "osiris.log")), "did not match their sha256") {
			t.Error("osiris.log does not say a blob of the sandbox store did not match its sha256")
		}
	})
	t.Run("blob planted", func(t *testing.T) {
		w, in := storeWorkspace(t, sb)
		p := blobPath(sha(in))
		sb.shell(t, w.Root, fmt.Sprintf("mkdir -p %s && printf '%%s' %s > %s && chmod 444 %s", filepath.Dir(p), sq(strings.Replace(in, "2,20", "2,99", 1)), p, p))
		runDir := w.MustRun("pipelines/p.yaml", "--remote", sb.Name)
		checkSum(t, w, runDir)
		if sync := runEvent(t, runDir, osexec.EventSyncComplete); intField(sync, "bytes_uploaded") < int64(len(in)) || intField(sync, "blobs_corrupted") != 1 {
			t.Errorf("sync_complete: %v; a planted file counted as the input's blob", sync.Fields)
		}
	})
	for _, bc := range []struct{ name, script string }{
		{"binary replaced", `printf '#!/bin/sh\necho ran > "$4/PLANTED-RAN"\nexit 1\n' > %[1]s && chmod 755 %[1]s`},
		{"binary truncated", `head -c 4096 %[1]s > %[1]s.cut && mv -f %[1]s.cut %[1]s && chmod 755 %[1]s`},
	} {
		t.Run(bc.name, func(t *testing.T) {
			w, _ := storeWorkspace(t, sb)
			w.MustRun("pipelines/p.yaml", "--remote", sb.Name)
			bin := e2e.Binary(t)
			binSHA := fileSHA(t, bin)
			p := "bin/osiris-" + binSHA
			sb.shell(t, w.Root, fmt.Sprintf(bc.script, p))
			runDir := w.MustRun("pipelines/p.yaml", "--remote", sb.Name)
			checkSum(t, w, runDir)
			out := sb.shell(t, w.Root, "if [ -e PLANTED-RAN ]; then echo RAN; fi; sha256sum "+p)
			if strings.Contains(out, "RAN") {
				t.Error("the script put in place of the binary ran")
			}
			if !strings.HasPrefix(out, binSHA) {
				t.Errorf("after the run the sandbox's binary has sha256 %q, want %s", out, binSHA)
			}
		})
	}
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// sq quotes s for /bin/sh.
func sq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
