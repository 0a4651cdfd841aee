package workspace

import (
	"bytes"
	"io"
	"sort"
	"strings"
	"sync"
)

// MaskText is what a secret value is replaced with.
const MaskText = "***"

// minMaskLen: shorter values are not masked; replacing "a" or "on"
// everywhere would destroy every message and protect nothing.
const minMaskLen = 4

// notSecretWords are values a secret-named setting may hold that are no
// secret (USE_TOKEN=true): masking them, or refusing every query that
// says "true", would protect nothing.
var notSecretWords = map[string]bool{"true": true, "false": true, "none": true, "null": true, "unset": true, "empty": true}

// Masker replaces known secret values in text. It is safe for concurrent
// use; values are only ever added, never removed.
type Masker struct {
	mu     sync.RWMutex
	set    map[string]struct{}
	values []string // longest first; rebuilt on Add
}

// NewMasker returns an empty Masker.
func NewMasker() *Masker {
	return &Masker{set: map[string]struct{}{}}
}

// Add registers secret values. Values shorter than 4 characters are
// ignored. For a value holding a credential (a DSN or URL with a password)
// the password part is added as well, because drivers often echo only it.
func (m *Masker) Add(values ...string) {
	if m == nil {
		return
	}
	var add []string
	for _, v := range values {
		add = append(add, v)
		add = append(add, credentialParts(v)...)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.set == nil {
		m.set = map[string]struct{}{}
	}
	changed := false
	for _, v := range add {
		if len(v) < minMaskLen || notSecretWords[strings.ToLower(v)] {
			continue
		}
		if _, ok := m.set[v]; ok {
			continue
		}
		m.set[v] = struct{}{}
		changed = true
	}
	if !changed {
		return
	}
	m.values = m.values[:0]
	for v := range m.set {
		m.values = append(m.values, v)
	}
	sort.Slice(m.values, func(i, j int) bool {
		if len(m.values[i]) != len(m.values[j]) {
			return len(m.values[i]) > len(m.values[j])
		}
		return m.values[i] < m.values[j]
	})
}

// Len returns how many values are known.
func (m *Masker) Len() int {
	if m == nil {
		return 0
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.values)
}

// Contains reports whether s holds a known secret value anywhere: the
// compiler refuses such text in what it writes to build/.
func (m *Masker) Contains(s string) bool {
	if m == nil || s == "" {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, v := range m.values {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
}

// Mask returns s with every known value replaced by "***". Occurrences that
// overlap (two secrets sharing characters) are merged into one "***", so no
// fragment of either survives.
func (m *Masker) Mask(s string) string {
	if m == nil || s == "" {
		return s
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.values) == 0 {
		return s
	}
	spans := m.spans(len(s), func(v string, from int) int {
		return strings.Index(s[from:], v)
	})
	if spans == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp[0]])
		b.WriteString(MaskText)
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// MaskBytes is Mask for byte slices. It returns b itself when nothing is
// masked.
func (m *Masker) MaskBytes(b []byte) []byte {
	if m == nil || len(b) == 0 {
		return b
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.values) == 0 {
		return b
	}
	spans := m.spans(len(b), func(v string, from int) int {
		return bytes.Index(b[from:], []byte(v))
	})
	if spans == nil {
		return b
	}
	out := make([]byte, 0, len(b))
	last := 0
	for _, sp := range spans {
		out = append(out, b[last:sp[0]]...)
		out = append(out, MaskText...)
		last = sp[1]
	}
	return append(out, b[last:]...)
}

// spans finds every occurrence of every value and returns the merged,
// sorted [start,end) ranges to replace; nil when there is none. index
// returns the position of v in the text from offset from, or -1.
// The caller holds m.mu.
func (m *Masker) spans(n int, index func(v string, from int) int) [][2]int {
	var found [][2]int
	for _, v := range m.values {
		if len(v) > n {
			continue
		}
		for from := 0; from <= n-len(v); {
			i := index(v, from)
			if i < 0 {
				break
			}
			start := from + i
			found = append(found, [2]int{start, start + len(v)})
			from = start + 1
		}
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i][0] < found[j][0] })
	merged := found[:1]
	for _, sp := range found[1:] {
		last := &merged[len(merged)-1]
		if sp[0] <= last[1] {
			if sp[1] > last[1] {
				last[1] = sp[1]
			}
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// Writer returns a writer that masks each Write before passing it to w.
// Limits: a secret split across two Write calls is not recognised, so use
// it with callers that write whole lines or whole messages (loggers,
// encoders); it reports len(p) written on success, as io.Writer requires,
// even though the masked bytes may be shorter or longer.
func (m *Masker) Writer(w io.Writer) io.Writer {
	return &maskingWriter{m: m, w: w}
}

type maskingWriter struct {
	m *Masker
	w io.Writer
}

func (mw *maskingWriter) Write(p []byte) (int, error) {
	if _, err := mw.w.Write(mw.m.MaskBytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// MaskValue returns v safe to show: "***" when key is a secret name or v is
// a string holding a credential, else v with known secret values masked.
// Maps and slices are masked element by element (map keys decide for their
// values).
func (m *Masker) MaskValue(key string, v any) any {
	if v == nil {
		return nil
	}
	if key != "" && IsSecretKey(key) {
		if s, ok := v.(string); ok && s == "" {
			return s
		}
		return MaskText
	}
	switch x := v.(type) {
	case string:
		if HasCredential(x) {
			return MaskText
		}
		return m.Mask(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = m.MaskValue(k, e)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, e := range x {
			out[k] = m.MaskValue(k, e).(string)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = m.MaskValue("", e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = m.MaskValue("", e).(string)
		}
		return out
	default:
		return v
	}
}
