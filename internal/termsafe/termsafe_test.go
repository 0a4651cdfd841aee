package termsafe

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text, tabs\tand\nnewlines", "plain text, tabs\tand\nnewlines"},
		{"\x1b]0;owned\x07\x1b[2J", `\x1b]0;owned\x07\x1b[2J`},
		{"over\rwrite", `over\rwrite`},
		{"del\x7f", `del\x7f`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"lone \x9b byte", `lone \x9b byte`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"café – ünïcödé ✓", "café – ünïcödé ✓"},
	} {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestJSONStaysValid(t *testing.T) {
	v := map[string]string{"x": "a\x7fb\u009bc\u202ed\x1b"}
	b, _ := json.Marshal(v)
	out := JSON(b)
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if back["x"] != v["x"] {
		t.Errorf("round trip %q != %q", back["x"], v["x"])
	}
	assertTerminalSafe(t, out)
}

// assertTerminalSafe: no byte below 0x20 but \n and \t, no DEL, no C1
// control (as UTF-8 or as a raw byte), no invalid UTF-8.
func assertTerminalSafe(t *testing.T, out []byte) {
	t.Helper()
	for i, c := range out {
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			t.Fatalf("byte %#x at %d reaches the terminal: %q", c, i, out)
		}
	}
	if !utf8.Valid(out) {
		t.Fatalf("invalid UTF-8 reaches the terminal: %q", out)
	}
	for _, r := range string(out) {
		if unsafeRune(r) {
			t.Fatalf("rune %U reaches the terminal: %q", r, out)
		}
	}
}

// FuzzWriter: whatever the data, what reaches the terminal through Writer
// (and JSON) holds no control byte but \n and \t, no DEL, no C1 control,
// and every printable character of the data is still there, in order.
func FuzzWriter(f *testing.F) {
	for _, s := range []string{"", "ok", "\x1b]0;owned\x07\x1b[2J", "\r\n\t", "\xc2\x9b", "\x9b", "\u202e", "\xff\xfe", "a\x00b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var term bytes.Buffer
		n, err := Writer(&term).Write(data)
		if err != nil || n != len(data) {
			t.Fatalf("Write = %d, %v", n, err)
		}
		assertTerminalSafe(t, term.Bytes())
		// Printable ASCII is kept in order (nothing is dropped).
		var want []byte
		for _, c := range data {
			if c >= 0x20 && c < 0x7f && c != '\\' {
				want = append(want, c)
			}
		}
		if !subsequence(want, term.Bytes()) {
			t.Fatalf("printable text lost: %q → %q", data, term.Bytes())
		}
		if js, err := json.Marshal(string(data)); err == nil {
			assertTerminalSafe(t, JSON(js))
		}
	})
}

func subsequence(want, in []byte) bool {
	i := 0
	for _, c := range in {
		if i < len(want) && c == want[i] {
			i++
		}
	}
	return i == len(want)
}
