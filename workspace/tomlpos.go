package workspace

import (
	"sort"
	"strings"
)

// keyPos is where a key (or table header) starts in a file, 1-based.
type keyPos struct{ Line, Col int }

// tomlKeyPositions maps every key path of a TOML document to where it is
// written. BurntSushi/toml keeps key positions private, and diagnostics need
// a line for every key, so this walks the text with a structural scanner.
// It runs only on text the TOML parser has accepted, so it can be lenient;
// for a path written twice (array of tables) the first place wins.
func tomlKeyPositions(text string) map[string]keyPos {
	s := &tomlPosScanner{s: text, pos: map[string]keyPos{}}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	s.document()
	return s.pos
}

// pathKey is the map key for a key path; \x00 cannot occur in TOML keys
// written by people and keeps "a.b" (quoted) apart from a.b (dotted).
func pathKey(path ...string) string { return strings.Join(path, "\x00") }

type tomlPosScanner struct {
	s          string
	i          int
	lineStarts []int // offsets of lines 2..n
	pos        map[string]keyPos
}

func (p *tomlPosScanner) position(off int) keyPos {
	line := sort.SearchInts(p.lineStarts, off+1) // lines whose start <= off
	start := 0
	if line > 0 {
		start = p.lineStarts[line-1]
	}
	return keyPos{Line: line + 1, Col: off - start + 1}
}

func (p *tomlPosScanner) record(path []string, off int) {
	k := pathKey(path...)
	if _, ok := p.pos[k]; !ok {
		p.pos[k] = p.position(off)
	}
}

func (p *tomlPosScanner) eof() bool { return p.i >= len(p.s) }

func (p *tomlPosScanner) skipSpaces() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// skipBlank skips spaces, newlines and comments.
func (p *tomlPosScanner) skipBlank() {
	for !p.eof() {
		switch p.s[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		case '#':
			for !p.eof() && p.s[p.i] != '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

func (p *tomlPosScanner) skipLine() {
	for !p.eof() && p.s[p.i] != '\n' {
		p.i++
	}
}

func (p *tomlPosScanner) document() {
	var table []string
	for {
		p.skipBlank()
		if p.eof() {
			return
		}
		start := p.i
		if p.s[p.i] == '[' {
			p.i++
			if !p.eof() && p.s[p.i] == '[' {
				p.i++
			}
			keys := p.keyPath(nil, start)
			table = keys
			p.record(table, start)
			p.skipLine()
			continue
		}
		keys := p.keyPath(table, start)
		p.skipSpaces()
		if p.eof() || p.s[p.i] != '=' {
			p.skipLine() // not a key/value line; cannot happen on valid TOML
			continue
		}
		p.i++
		p.value(append(append([]string{}, table...), keys...))
		if p.i == start { // no progress: never loop forever
			p.i++
		}
	}
}

// keyPath reads a dotted key and records every prefix under base at off.
func (p *tomlPosScanner) keyPath(base []string, off int) []string {
	var keys []string
	for {
		p.skipSpaces()
		k, ok := p.keyPart()
		if !ok {
			return keys
		}
		keys = append(keys, k)
		p.record(append(append([]string{}, base...), keys...), off)
		p.skipSpaces()
		if p.eof() || p.s[p.i] != '.' {
			return keys
		}
		p.i++
	}
}

func (p *tomlPosScanner) keyPart() (string, bool) {
	if p.eof() {
		return "", false
	}
	switch p.s[p.i] {
	case '"', '\'':
		return p.stringValue(), true
	}
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], p.i > start
}

// stringValue reads any TOML string at p.i and returns its raw content
// (escapes are kept; only keys use the result and they rarely have any).
func (p *tomlPosScanner) stringValue() string {
	q := p.s[p.i]
	if strings.HasPrefix(p.s[p.i:], strings.Repeat(string(q), 3)) {
		delim := strings.Repeat(string(q), 3)
		p.i += 3
		start := p.i
		for !p.eof() {
			if q == '"' && p.s[p.i] == '\\' {
				p.i += 2
				continue
			}
			if strings.HasPrefix(p.s[p.i:], delim) {
				body := p.s[start:p.i]
				p.i += 3
				for !p.eof() && p.s[p.i] == q { // up to two quotes may close the body
					p.i++
				}
				return body
			}
			p.i++
		}
		return p.s[start:]
	}
	p.i++
	start := p.i
	for !p.eof() && p.s[p.i] != '\n' {
		c := p.s[p.i]
		if q == '"' && c == '\\' {
			p.i += 2
			continue
		}
		if c == q {
			body := p.s[start:p.i]
			p.i++
			return body
		}
		p.i++
	}
	return p.s[start:p.i]
}

func (p *tomlPosScanner) value(path []string) {
	p.skipSpaces()
	if p.eof() {
		return
	}
	switch p.s[p.i] {
	case '"', '\'':
		p.stringValue()
	case '[':
		p.i++
		for {
			p.skipBlank()
			if p.eof() {
				return
			}
			if p.s[p.i] == ']' {
				p.i++
				return
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			before := p.i
			p.value(path)
			if p.i == before {
				p.i++
			}
		}
	case '{':
		p.i++
		for {
			p.skipBlank()
			if p.eof() {
				return
			}
			switch p.s[p.i] {
			case '}':
				p.i++
				return
			case ',':
				p.i++
				continue
			}
			start := p.i
			keys := p.keyPath(path, start)
			p.skipSpaces()
			if !p.eof() && p.s[p.i] == '=' {
				p.i++
				p.value(append(append([]string{}, path...), keys...))
			}
			if p.i == start {
				p.i++
			}
		}
	default:
		// number, bool, date: runs to a delimiter (dates may hold a space).
		for !p.eof() && !strings.ContainsRune(",]}\n#", rune(p.s[p.i])) {
			p.i++
		}
	}
}
