package mcp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/osiris-go/osiris/pkg/component/all"
	"github.com/osiris-go/osiris/workspace"
)

func testServer(t *testing.T) (*Server, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "osiris.toml"), []byte("[project]\nname = \"t\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "pipelines"), 0o755); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Workspace: ws}), root
}

// oml_save writes only .yaml/.yml files inside the pipelines folder.
func TestSaveTarget(t *testing.T) {
	s, root := testServer(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "pipelines", "link")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, want string // want: the path under root, or the refusal's reason
	}{
		{"daily.yaml", "pipelines/daily.yaml"},
		{"team/daily.yml", "pipelines/team/daily.yml"},
		{"pipelines/daily.yaml", "pipelines/daily.yaml"},
		{"", "is empty"},
		{"../osiris.toml", "goes up with .."},
		{"../../etc/x.yaml", "goes up with .."},
		{"a/../../x.yaml", "goes up with .."},
		{"/tmp/x.yaml", "is absolute"},
		{`..\x.yaml`, "backslash"},
		{".env.yaml", "hidden"},
		{".osiris/x.yaml", "hidden"},
		{"a//b.yaml", "empty or . path segment"},
		{"./a.yaml", "empty or . path segment"},
		{"notes.txt", "not a .yaml or .yml file"},
		{"osiris.toml", "not a .yaml or .yml file"},
		{"osiris_connections.yaml", "the workspace's own configuration"},
		{"link/x.yaml", "through a symlink"},
	} {
		got, err := s.saveTarget(c.name)
		if err != nil {
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%q: refused with %q, want %q", c.name, err, c.want)
			}
			continue
		}
		if rel, _ := filepath.Rel(root, got); filepath.ToSlash(rel) != c.want {
			t.Errorf("%q: %s, want %s", c.name, rel, c.want)
		}
	}
}

func TestCheckListenAddr(t *testing.T) {
	for _, c := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:8765", false, true},
		{"[::1]:8765", false, true},
		{"localhost:8765", false, true},
		{"127.0.0.1:0", false, true},
		{"0.0.0.0:8765", false, false},
		{":8765", false, false},
		{"10.0.0.5:8765", false, false},
		{"example.com:8765", false, false},
		{"0.0.0.0:8765", true, true},
		{"8765", false, false},
	} {
		if err := CheckListenAddr(c.addr, c.remote); (err == nil) != c.ok {
			t.Errorf("CheckListenAddr(%q, %v) = %v", c.addr, c.remote, err)
		}
	}
}

// masked masks every string of a protocol value, keys included, and leaves
// values without a secret as they are.
func TestMasked(t *testing.T) {
	m := workspace.NewMasker()
	m.Add(`s3cr"et\value`)
	type doc struct {
		Text  string            `json:"text"`
		Items []string          `json:"items"`
		Map   map[string]string `json:"map"`
	}
	in := &doc{Text: `x s3cr"et\value y`, Items: []string{"ok", `s3cr"et\value`}, Map: map[string]string{`s3cr"et\value`: "k"}}
	out := masked(m, in)
	if out == in || out.Text != "x *** y" || out.Items[1] != "***" || out.Map["***"] != "k" {
		t.Errorf("masked: %+v", out)
	}
	clean := &doc{Text: "nothing"}
	if masked(m, clean) != clean {
		t.Error("a value without secrets was copied")
	}
}
