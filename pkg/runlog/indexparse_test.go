package runlog

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/osiris-go/osiris/pkg/exec"
)

// The fast index-line reader agrees with encoding/json on every line, the
// odd ones included (escapes, unknown keys, floats, nesting, whitespace).
func TestParseIndexLineAgreesWithJSON(t *testing.T) {
	lines := []string{
		`{"format":1,"record":"run","kind":"start","run_id":"01ABC","pipeline":"pipelines/o.yaml","slug":"o","profile":"dev","manifest_hash":"sha256:ab","started":"2026-11-29T12:00:00.000Z","where":"local","run_dir":"run_logs/dev/o/x"}`,
		`{"format":1,"kind":"end","run_id":"01ABC","status":"failed","ended":"2026-11-29T12:00:01.000Z","duration_ms":0,"rows":-3,"failed_step":"a\"b\\c\u00e9"}`,
		`{"kind":"header","format":1,"written":"x","why":"rebuild"}`,
		` { "kind" : "start" , "run_id" : "01X" } `,
		`{"kind":"end","run_id":"01X","rows":1.5}`,
		`{"kind":"end","run_id":"01X","extra":{"a":[1,2]},"rows":7}`,
		`{"kind":"end","run_id":"01X","ok":true,"nothing":null}`,
		`{"pipeline":"pipelines/ü/日本.yaml","run_id":"01Y","kind":"start"}`,
		`{}`,
		`{"kind":"start","run_id":"01Z","format":"1"}`,
		`{"kind":"start","run_id":"01Z"`,
		`not json`,
	}
	for _, l := range lines {
		var want exec.IndexedRun
		wantErr := json.Unmarshal([]byte(l), &want)
		var got exec.IndexedRun
		gotErr := parseIndexLine([]byte(l), &got, interned{})
		if (wantErr == nil) != (gotErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s\n got %+v (%v)\nwant %+v (%v)", l, got, gotErr, want, wantErr)
		}
	}
}
