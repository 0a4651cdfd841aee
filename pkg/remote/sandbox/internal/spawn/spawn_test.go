package spawn

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every quoted word reaches the program as exactly itself through a real
// POSIX shell, whatever it holds.
func TestQuoteSurvivesTheShell(t *testing.T) {
	words := []string{"", "plain", "a b", "it's", `"dq"`, "$HOME", "`id`", "a;rm -rf /", "~/x", "new\nline", "*", "-n", "\\", "é"}
	out, err := exec.Command("/bin/sh", "-c", "for w in "+QuoteArgs(words...)+"; do printf '%s\\0' \"$w\"; done").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(words) {
		t.Fatalf("got %d words %q, want %d", len(got), got, len(words))
	}
	for i := range words {
		if got[i] != words[i] {
			t.Errorf("word %d: got %q, want %q", i, got[i], words[i])
		}
	}
}

func TestTailKeepsTheEnd(t *testing.T) {
	tl := NewTail(8)
	tl.Write([]byte("0123456789"))
	tl.Write([]byte("ab\n"))
	if got := tl.String(); got != "56789ab" {
		t.Errorf("tail = %q", got)
	}
	if got := LastLine("a\nlast one \n\n"); got != "last one" {
		t.Errorf("LastLine = %q", got)
	}
}

func TestCheckPlatform(t *testing.T) {
	uname := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if uname == "" {
		t.Skip("no uname mapping for " + runtime.GOARCH)
	}
	if err := CheckPlatform(Provisioned{OS: "Linux", Arch: uname}, false); runtime.GOOS == "linux" && err != nil {
		t.Errorf("same platform refused: %v", err)
	}
	err := CheckPlatform(Provisioned{OS: "Darwin", Arch: "riscv64"}, false)
	if err == nil || !strings.Contains(err.Error(), `binary = "path/to/darwin-riscv64/osiris"`) {
		t.Errorf("other platform: %v", err)
	}
	if err := CheckPlatform(Provisioned{OS: "Darwin", Arch: "riscv64"}, true); err != nil {
		t.Errorf("override refused: %v", err)
	}
}

// A worker's process group goes with it: what the leader left running is
// killed when the leader exits (while it is still unreaped, so the group
// id cannot have been reused), and Kill after that signals nothing.
func TestGroupEndsWithItsLeader(t *testing.T) {
	p, err := Start(context.Background(), Command{Path: "/bin/sh", Args: []string{"-c", "sleep 60 & echo $!; exit 0"}, Group: true})
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(p.Stdout()).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(line))
	p.Wait()
	if err := p.Kill(); err != nil {
		t.Errorf("Kill after the exit: %v", err)
	}
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(child, syscall.SIGKILL)
	t.Errorf("the leader's child %d outlived its group", child)
}
