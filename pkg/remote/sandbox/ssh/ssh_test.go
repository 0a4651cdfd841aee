package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/pkg/remote/sandbox/internal/spawn"
	"github.com/osiris-go/osiris/pkg/remote/sandbox/internal/spawntest"
	"github.com/osiris-go/osiris/workspace"
)

var (
	fakeWorker = spawntest.FakeWorker
	writeFake  = spawntest.WriteFake
)

func config(s testenv.SSH, dir string) *workspace.RemoteConfig {
	port, _ := strconv.Atoi(s.Port)
	return &workspace.RemoteConfig{Name: "box", Kind: "ssh", Host: s.Host, Port: port, User: s.User,
		Identity: s.Key, SSHOptions: s.Options(), Dir: dir}
}

func open(t *testing.T, cfg *workspace.RemoteConfig) *Sandbox {
	t.Helper()
	sb, err := sandbox.Open(cfg, sandbox.Env{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return sb.(*Sandbox)
}

func TestStartProvisionsOnceAndSpeaksOverStdio(t *testing.T) {
	s := testenv.NeedSSH(t)
	// A directory no shell line could survive unquoted.
	dir := filepath.Join(t.TempDir(), "sand box's $HOME;`x`")
	box := open(t, config(s, dir))
	bin, sha := writeFake(t, fakeWorker)
	for i, wantUpload := range []int64{int64(len(fakeWorker)), 0} {
		var stderr bytes.Buffer
		env := fmt.Sprintf("OSIRIS_T=v%d 'quoted' $x", i)
		p, err := box.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: sha, Stderr: &stderr, Env: []string{env}})
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		if got := p.(*Process).BinaryBytesUploaded(); got != wantUpload {
			t.Errorf("start %d uploaded %d bytes of the binary, want %d", i, got, wantUpload)
		}
		io.WriteString(p.Stdin(), "frame\x00bytes")
		p.Stdin().Close()
		out, _ := io.ReadAll(p.Stdout())
		if err := p.Wait(); err != nil {
			t.Fatalf("wait %d: %v", i, err)
		}
		if string(out) != "frame\x00bytes" {
			t.Errorf("stdout = %q", out)
		}
		for _, want := range []string{"args: worker --stdio --dir " + dir, "env: " + env} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("worker stderr %q lacks %q", stderr.String(), want)
			}
		}
	}
	if got, err := spawn.FileSHA256(filepath.Join(dir, "bin", "osiris-"+sha)); err != nil || got != sha {
		t.Errorf("installed binary: %s %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "bin"))
	if len(entries) != 1 {
		t.Errorf("bin/ holds %d files, want only the binary (no temporary left)", len(entries))
	}
}

func TestCorruptUploadIsNotInstalled(t *testing.T) {
	s := testenv.NeedSSH(t)
	dir := t.TempDir()
	box := open(t, config(s, dir))
	bin, _ := writeFake(t, fakeWorker)
	_, other := writeFake(t, "not this")
	_, err := box.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: other})
	if err == nil || !strings.Contains(err.Error(), "arrived corrupted") {
		t.Fatalf("want a corrupted-binary error, got %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "bin")); len(entries) != 0 {
		t.Errorf("bin/ holds %v after a corrupted upload, want nothing", entries)
	}
}

func TestFaultsNameTheCause(t *testing.T) {
	s := testenv.NeedSSH(t)
	bin, sha := writeFake(t, fakeWorker)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	emptyKnownHosts := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(emptyKnownHosts, nil, 0o600)

	tests := []struct {
		name   string
		change func(*workspace.RemoteConfig)
		usage  bool // a configuration error: exit 2
		want   string
	}{
		{"unreachable host", func(c *workspace.RemoteConfig) { c.Port = closedPort }, false, "unreachable, nothing listens there"},
		{"bad key", func(c *workspace.RemoteConfig) { c.Identity = s.BadKey }, true, "the server refused the key"},
		{"missing key file", func(c *workspace.RemoteConfig) { c.Identity = "no/such/key" }, true, "identity file"},
		{"unknown host key", func(c *workspace.RemoteConfig) {
			c.SSHOptions = []string{"-o", "UserKnownHostsFile=" + emptyKnownHosts, "-o", "StrictHostKeyChecking=yes", "-F", "/dev/null"}
		}, true, "the host key is not known"},
		{"unresolvable host", func(c *workspace.RemoteConfig) { c.Host = "no-such-host.invalid" }, true, "does not resolve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(s, t.TempDir())
			tt.change(cfg)
			box := open(t, cfg)
			start := time.Now()
			_, err := box.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: sha})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error with %q, got %v", tt.want, err)
			}
			var ue *diag.UsageError
			if errors.As(err, &ue) != tt.usage {
				t.Errorf("configuration error = %v, want %v: %v", !tt.usage, tt.usage, err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s, want under 10 s", d)
			}
		})
	}
}

func TestCancelEndsTheSession(t *testing.T) {
	s := testenv.NeedSSH(t)
	box := open(t, config(s, t.TempDir()))
	bin, sha := writeFake(t, fakeWorker)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := box.Start(ctx, sandbox.StartOptions{Binary: bin, BinarySHA256: sha})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a cancelled worker's Wait returned nil")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after cancel")
	}
}
