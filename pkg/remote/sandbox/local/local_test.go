package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/workspace"
)

// probe is what the sandbox runs instead of osiris: it reports what it can
// see. The sandbox copies it to bin/osiris-<sha256> and starts it with
// `worker --stdio --dir DIR`, exactly as it starts osiris.
const probe = `#!/bin/sh
echo "args: $*"
echo "env: $(env | sort | tr '\n' ' ')"
test -r __WS__ && echo "sees-workspace"
test -r __HOME__ && echo "sees-home"
touch /usr/probe-write 2>/dev/null && echo "writes-usr"
touch /sandbox/tmp/probe-write 2>/dev/null && echo "writes-sandbox"
echo "pid: $$"
`

func startProbe(t *testing.T, cfg *workspace.RemoteConfig, ws, home string) (string, sandbox.Sandbox) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		testenv.Need(t, "bubblewrap (apt-get install bubblewrap)")
	}
	dir := t.TempDir()
	script := strings.NewReplacer("__WS__", ws, "__HOME__", home).Replace(probe)
	bin := filepath.Join(dir, "probe.sh")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(script))
	cfg.Dir = filepath.Join(dir, "sandbox")
	sb, err := New(cfg, sandbox.Env{Root: ws, StateDir: filepath.Join(ws, ".osiris")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := sb.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	p.Stdin().Close()
	out, _ := io.ReadAll(p.Stdout())
	if err := p.Wait(); err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	t.Logf("probe:\n%s", out)
	return string(out), sb
}

// In bubblewrap the worker sees neither the workspace nor the client's
// home, writes only its own directory, starts with an empty environment
// and is PID 1's child in its own pid namespace.
func TestBwrapConfinesTheWorker(t *testing.T) {
	ws := t.TempDir()
	wsFile := filepath.Join(ws, "data.csv")
	os.WriteFile(wsFile, []byte("a\n"), 0o644)
	home, _ := os.UserHomeDir()
	out, sb := startProbe(t, &workspace.RemoteConfig{Name: "t", Kind: "local"}, wsFile, home)
	if iso := sb.Describe().Isolation; iso != "bwrap" {
		t.Fatalf("isolation %q, want bwrap", iso)
	}
	for _, bad := range []string{"sees-workspace", "sees-home", "writes-usr"} {
		if strings.Contains(out, bad) {
			t.Errorf("the sandboxed worker %s:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "writes-sandbox") {
		t.Errorf("the worker cannot write its own directory:\n%s", out)
	}
	if !strings.Contains(out, "args: worker --stdio --dir /sandbox") {
		t.Errorf("started as %q", out)
	}
	env := out[strings.Index(out, "env: ")+5:]
	env = env[:strings.IndexByte(env, '\n')]
	for _, kv := range strings.Fields(env) {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "HOME", "TMPDIR", "PWD", "SHLVL", "_":
		default:
			t.Errorf("the worker's environment holds %s (want an empty environment)", kv)
		}
	}
	if !strings.Contains(out, "pid: 2") && !strings.Contains(out, "pid: 1\n") {
		t.Errorf("the worker is not in its own pid namespace:\n%s", out)
	}
}

// The binary is copied into the sandbox once per version: a second start
// copies nothing.
func TestBinaryProvisionedOncePerVersion(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "osiris")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	sum := sha256.Sum256([]byte("#!/bin/sh\n"))
	h := hex.EncodeToString(sum[:])
	memo := filepath.Join(t.TempDir(), "memo")
	dst, n1, err := provisionBinary(dir, bin, h, memo)
	if err != nil || n1 == 0 {
		t.Fatalf("first provisioning: %d bytes, %v", n1, err)
	}
	_, n2, err := provisionBinary(dir, bin, h, memo)
	if err != nil || n2 != 0 {
		t.Fatalf("second provisioning copied %d bytes (%v), want 0", n2, err)
	}
	if _, _, err := provisionBinary(t.TempDir(), bin, strings.Repeat("0", 64), memo); err == nil {
		t.Error("a binary whose hash does not match was provisioned")
	}
	// Changed in the sandbox after it was verified (same size, even its
	// mtime set back): the memo no longer matches, the copy is replaced.
	st, _ := os.Stat(dst)
	os.WriteFile(dst, []byte("#!/bin/X\n"), 0o755)
	os.Chtimes(dst, st.ModTime(), st.ModTime())
	_, n3, err := provisionBinary(dir, bin, h, memo)
	if err != nil || n3 == 0 {
		t.Fatalf("a changed binary was not replaced: %d bytes copied, %v", n3, err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "#!/bin/sh\n" {
		t.Errorf("the sandbox's binary is %q after provisioning", b)
	}
}
