package runlog

import (
	"encoding/json"
	"strconv"

	"github.com/osiris-go/osiris/pkg/exec"
)

// parseIndexLine decodes one index line. Index lines are flat objects of
// strings and integers, so a small scanner reads them several times faster
// than encoding/json (`logs list` over 10,000 runs reads 20,000 lines); a
// line it does not expect (nesting, floats, odd whitespace) goes to
// encoding/json, which has the last word on what parses.
func parseIndexLine(line []byte, r *exec.IndexedRun, in interned) error {
	if fastIndexLineIn(line, r, in) {
		return nil
	}
	*r = exec.IndexedRun{}
	return json.Unmarshal(line, r)
}

// interned holds the values that repeat from line to line (pipelines,
// profiles, statuses, hashes), so 20,000 lines make a few hundred strings.
type interned map[string]string

func (in interned) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < 4096 {
		in[s] = s
	}
	return s
}

func fastIndexLine(b []byte, r *exec.IndexedRun) bool { return fastIndexLineIn(b, r, nil) }

func fastIndexLineIn(b []byte, r *exec.IndexedRun, in interned) bool {
	i := 0
	skip := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r') {
			i++
		}
	}
	var rawStr []byte // the last string's bytes when it had no escapes
	str := func() (string, bool) {
		rawStr = nil
		if i >= len(b) || b[i] != '"' {
			return "", false
		}
		start := i
		i++
		esc := false
		for i < len(b) && b[i] != '"' {
			if b[i] == '\\' {
				esc = true
				i++
			} else if b[i] < 0x20 {
				return "", false
			}
			i++
		}
		if i >= len(b) {
			return "", false
		}
		i++
		if !esc {
			rawStr = b[start+1 : i-1]
			return "", true
		}
		var s string
		if json.Unmarshal(b[start:i], &s) != nil {
			return "", false
		}
		return s, true
	}
	skip()
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	skip()
	if i < len(b) && b[i] == '}' {
		i++
		skip()
		return i == len(b)
	}
	for {
		skip()
		_, ok := str()
		if !ok || rawStr == nil {
			return false
		}
		key := string(rawStr) // no allocation: compared in the switches only
		skip()
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i++
		skip()
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '"':
			v, ok := str()
			if !ok {
				return false
			}
			one := func() string { // a value unique to its run
				if rawStr != nil {
					return string(rawStr)
				}
				return v
			}
			many := func() string { // a value many runs share
				if rawStr != nil {
					if in != nil {
						return in.get(rawStr)
					}
					return string(rawStr)
				}
				return v
			}
			switch key {
			case "kind":
				r.Kind = many()
			case "record":
				r.Record = many()
			case "run_id":
				r.RunID = one()
			case "pipeline":
				r.Pipeline = many()
			case "slug":
				r.Slug = many()
			case "profile":
				r.Profile = many()
			case "manifest_hash":
				r.ManifestHash = many()
			case "started":
				r.Started = one()
			case "where":
				r.Where = many()
			case "run_dir":
				r.RunDir = one()
			case "status":
				r.Status = many()
			case "ended":
				r.Ended = one()
			case "failed_step":
				r.FailedStep = many()
			case "format", "duration_ms", "rows":
				return false // a string where a number belongs: let encoding/json say so
			}
		case c == '-' || (c >= '0' && c <= '9'):
			start := i
			i++
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				i++
			}
			if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
				return false
			}
			n, err := strconv.ParseInt(string(b[start:i]), 10, 64)
			if err != nil {
				return false
			}
			switch key {
			case "format":
				r.Format = int(n)
			case "duration_ms":
				r.DurationMs = n
			case "rows":
				r.Rows = n
			case "kind", "record", "run_id", "pipeline", "slug", "profile", "manifest_hash", "started", "where", "run_dir", "status", "ended", "failed_step":
				return false
			}
		default:
			return false // true, false, null, objects, arrays: encoding/json
		}
		skip()
		if i >= len(b) {
			return false
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '}' {
			return false
		}
		i++
		skip()
		return i == len(b)
	}
}
