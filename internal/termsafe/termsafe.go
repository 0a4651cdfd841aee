// Package termsafe makes text from data, SQL or servers safe to print on a
// terminal: control bytes are shown as escapes (`\x1b`, `\r`, `\u009b`), never
// sent raw, so a CSV value cannot clear the screen, move the cursor, set the
// window title or hide text. Newlines and tabs stay.
//
// It is for what cmd/osiris prints for people. It is not for the HTML pages
// (html/template escapes those) nor for files.
package termsafe

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// String returns s with every byte a terminal would act on made visible:
// C0 controls but \n and \t, DEL, C1 controls (U+0080–U+009F), invalid
// UTF-8 bytes (a lone 0x9b is CSI to some terminals), and the Unicode
// format characters that reorder or hide text (bidi overrides, zero-width
// joiners and the like). A backslash is left alone: the result is for
// reading, not for parsing back.
func String(s string) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// safe is the fast path: nothing to change.
func safe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return false // decoded by the slow path
		}
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// unsafeRune: C1 controls and the format characters that change how the
// text around them is shown.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200b, r == 0x200e, r == 0x200f, r == 0xfeff:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	}
	return false
}

// JSON makes a JSON document safe for a terminal without breaking it: JSON
// encoders escape C0 controls already, but not DEL, C1 controls or the
// format characters; those (which can only be inside strings) become
// \uXXXX escapes, which decode to the same text. Invalid UTF-8 becomes
// U+FFFD, as a JSON decoder would read it.
func JSON(b []byte) []byte {
	if safe(string(b)) {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + 16)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			out.WriteString(`\ufffd`)
		case r == '\n' || r == '\t':
			out.WriteRune(r)
		case r < 0x20 || r == 0x7f || unsafeRune(r):
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.Write(b[i : i+n])
		}
		i += n
	}
	return out.Bytes()
}

// Writer returns a writer that passes everything written to w through
// String. Each Write is cleaned as a whole (callers write whole lines); it
// reports len(p) written when w took all of the cleaned bytes.
func Writer(w io.Writer) io.Writer { return writer{w} }

type writer struct{ w io.Writer }

func (w writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.w, String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
