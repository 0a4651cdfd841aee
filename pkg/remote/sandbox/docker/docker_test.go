package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/remote/sandbox"
	"github.com/osiris-go/osiris/pkg/remote/sandbox/internal/spawntest"
	"github.com/osiris-go/osiris/workspace"
)

var (
	fakeWorker = spawntest.FakeWorker
	writeFake  = spawntest.WriteFake
)

// newBox is a docker sandbox on the test daemon with its own volume,
// removed at the end.
func newBox(t *testing.T, d testenv.Docker) *Sandbox {
	t.Helper()
	name := fmt.Sprintf("t%d", time.Now().UnixNano())
	sb, err := sandbox.Open(&workspace.RemoteConfig{Name: name, Kind: "docker", Image: d.Image, DockerHost: d.Host, Network: "none"}, sandbox.Env{})
	if err != nil {
		t.Fatal(err)
	}
	s := sb.(*Sandbox)
	t.Cleanup(func() {
		cmd := exec.Command("docker", "volume", "rm", "-f", s.volume)
		cmd.Env = s.env(nil)
		_ = cmd.Run()
	})
	return s
}

func TestStartProvisionsOnceAndSpeaksOverStdio(t *testing.T) {
	d := testenv.NeedDocker(t)
	s := newBox(t, d)
	bin, sha := writeFake(t, fakeWorker)
	ctx := context.Background()
	for i, wantUpload := range []int64{int64(len(fakeWorker)), 0} {
		var stderr bytes.Buffer
		p, err := s.Start(ctx, sandbox.StartOptions{Binary: bin, BinarySHA256: sha, Stderr: &stderr, Env: []string{"OSIRIS_T=v" + fmt.Sprint(i)}})
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		if got := p.(*Process).BinaryBytesUploaded(); got != wantUpload {
			t.Errorf("start %d uploaded %d bytes of the binary, want %d", i, got, wantUpload)
		}
		if _, err := io.WriteString(p.Stdin(), "frame\x00bytes"); err != nil {
			t.Fatal(err)
		}
		p.Stdin().Close()
		out, _ := io.ReadAll(p.Stdout())
		if err := p.Wait(); err != nil {
			t.Fatalf("wait %d: %v (stderr %s)", i, err, stderr.String())
		}
		if string(out) != "frame\x00bytes" {
			t.Errorf("stdout = %q, want the bytes sent", out)
		}
		for _, want := range []string{"args: worker --stdio --dir /sandbox", fmt.Sprintf("env: OSIRIS_T=v%d", i)} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("worker stderr %q lacks %q", stderr.String(), want)
			}
		}
	}
}

func TestCorruptUploadIsNotInstalled(t *testing.T) {
	d := testenv.NeedDocker(t)
	s := newBox(t, d)
	bin, _ := writeFake(t, fakeWorker)
	_, other := writeFake(t, "something else")
	_, err := s.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: other})
	if err == nil || !strings.Contains(err.Error(), "arrived corrupted") {
		t.Fatalf("want a corrupted-binary error, got %v", err)
	}
	// Nothing is installed under the hash: the next start uploads again.
	_, err = s.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: other})
	if err == nil || !strings.Contains(err.Error(), "arrived corrupted") {
		t.Fatalf("second start: want a corrupted-binary error again, got %v", err)
	}
}

func TestMissingImageIsAConfigurationError(t *testing.T) {
	d := testenv.NeedDocker(t)
	bin, sha := writeFake(t, fakeWorker)
	sb, err := New(&workspace.RemoteConfig{Name: "box", Kind: "docker", Image: "osiris-no-such-image:0", DockerHost: d.Host}, sandbox.Env{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = sb.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: sha})
	var ue *diag.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `docker image "osiris-no-such-image:0" not found`) || !strings.Contains(err.Error(), "osiris never pulls") {
		t.Fatalf("want a usage error naming the image, got %T %v", err, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestUnreachableDaemon(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		testenv.Need(t, "the docker command (apt-get install docker.io)")
	}
	bin, sha := writeFake(t, fakeWorker)
	host := "unix://" + filepath.Join(t.TempDir(), "nobody.sock")
	sb, _ := New(&workspace.RemoteConfig{Name: "box", Kind: "docker", Image: "x:1", DockerHost: host}, sandbox.Env{})
	_, err := sb.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: sha})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the Docker daemon at "+host) {
		t.Fatalf("want an unreachable-daemon error, got %v", err)
	}
}

func TestKillRemovesTheContainer(t *testing.T) {
	d := testenv.NeedDocker(t)
	s := newBox(t, d)
	bin, sha := writeFake(t, fakeWorker)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := s.Start(ctx, sandbox.StartOptions{Binary: bin, BinarySHA256: sha})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); countContainers(t, s) != 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the worker container did not appear")
		}
	}
	cancel() // as Ctrl-C does
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a killed worker's Wait returned nil")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Wait did not return after cancel")
	}
	if n := countContainers(t, s); n != 0 {
		t.Errorf("%d worker containers left after cancel", n)
	}
}

func countContainers(t *testing.T, s *Sandbox) int {
	t.Helper()
	cmd := exec.Command("docker", "ps", "-q", "--filter", "label=osiris.sandbox="+s.cfg.Name)
	cmd.Env = s.env(nil)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Fields(string(out)))
}

// probeWorker reads paths from stdin and says, for each, whether it can
// read it from inside the sandbox.
const probeWorker = "#!/bin/sh\nwhile read -r p; do if cat \"$p\" >/dev/null 2>&1; then echo \"readable $p\"; else echo \"missing $p\"; fi; done\n"

// Hermetic: the worker sees the image and its volume, not the client's
// workspace nor its home directory (nothing is bind-mounted).
func TestWorkerCannotSeeClientFiles(t *testing.T) {
	d := testenv.NeedDocker(t)
	s := newBox(t, d)
	bin, sha := writeFake(t, probeWorker)
	workspaceFile := filepath.Join(t.TempDir(), "unsynced.csv")
	os.WriteFile(workspaceFile, []byte("a\n1\n"), 0o644)
	var probes []string
	probes = append(probes, workspaceFile, bin)
	if home, err := os.UserHomeDir(); err == nil {
		if f, err := os.CreateTemp(home, ".osiris-hermetic-canary-*"); err == nil {
			f.Close()
			t.Cleanup(func() { os.Remove(f.Name()) })
			probes = append(probes, f.Name())
		}
	}
	p, err := s.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: sha})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p.Stdin(), strings.Join(append(probes, "/sandbox/bin/osiris-"+sha), "\n")+"\n")
	p.Stdin().Close()
	out, _ := io.ReadAll(p.Stdout())
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, path := range probes {
		if !strings.Contains(string(out), "missing "+path+"\n") {
			t.Errorf("the worker could read the client's %s:\n%s", path, out)
		}
	}
	// The probe works: the sandbox's own files are readable.
	if !strings.Contains(string(out), "readable /sandbox/bin/osiris-"+sha) {
		t.Errorf("the worker could not read its own binary:\n%s", out)
	}
}

func TestImageWithoutShell(t *testing.T) {
	d := testenv.NeedDocker(t)
	// An image of one empty directory: no /bin/sh to start the worker with.
	image := "osiris-test-noshell:1"
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "etc"), 0o755)
	tarCmd := exec.Command("tar", "-C", root, "-c", ".")
	imp := exec.Command("docker", "import", "-", image)
	imp.Env = append(os.Environ(), "DOCKER_HOST="+d.Host)
	imp.Stdin, _ = tarCmd.StdoutPipe()
	if err := tarCmd.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v %s", err, out)
	}
	tarCmd.Wait()
	bin, sha := writeFake(t, fakeWorker)
	sb, _ := New(&workspace.RemoteConfig{Name: "noshell", Kind: "docker", Image: image, DockerHost: d.Host, Network: "none"}, sandbox.Env{})
	t.Cleanup(func() {
		for _, args := range [][]string{{"volume", "rm", "-f", sb.(*Sandbox).volume}, {"image", "rm", "-f", image}} {
			cmd := exec.Command("docker", args...)
			cmd.Env = sb.(*Sandbox).env(nil)
			_ = cmd.Run()
		}
	})
	_, err := sb.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: sha})
	var ue *diag.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "has no /bin/sh") {
		t.Fatalf("want a usage error saying the image has no shell, got %v", err)
	}
}

// Several first starts at once on one fresh volume (each script is PID 1
// of its container) all install the binary and run.
func TestConcurrentFirstStarts(t *testing.T) {
	d := testenv.NeedDocker(t)
	s := newBox(t, d)
	// 16 MB after the script (never read: the script execs first) keep
	// the uploads long enough to overlap.
	bin, sha := writeFake(t, fakeWorker+"#"+strings.Repeat("x", 16<<20)+"\n")
	const n = 3
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			p, err := s.Start(context.Background(), sandbox.StartOptions{Binary: bin, BinarySHA256: sha})
			if err != nil {
				errs <- err
				return
			}
			io.WriteString(p.Stdin(), "ping")
			p.Stdin().Close()
			out, _ := io.ReadAll(p.Stdout())
			if err := p.Wait(); err != nil || string(out) != "ping" {
				errs <- fmt.Errorf("worker: %q %v", out, err)
				return
			}
			errs <- nil
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
