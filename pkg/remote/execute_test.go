package remote

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"
)

// The worker's driver log lines land in the local osiris.log with their
// level, message and fields, as a local run's would.
func TestRecorderLogReplaysWorkerLines(t *testing.T) {
	var buf bytes.Buffer
	replay := recorderLog(zerolog.New(&buf))
	replay([]byte(`{"level":"warn","run_id":"R","step":"write","table":"t","time":"2026-01-01T00:00:00Z","message":"mysql.writer: cleanup failed"}` + "\n"))
	replay([]byte("not json\n"))
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	var first map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	if first["level"] != "warn" || first["message"] != "mysql.writer: cleanup failed" || first["step"] != "write" || first["table"] != "t" {
		t.Errorf("replayed line: %v", first)
	}
	if !bytes.Contains(lines[1], []byte(`"worker":"not json"`)) {
		t.Errorf("a line that is not JSON: %s", lines[1])
	}
}
