package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// W6: the seed pipeline (W3) with --remote local — the worker in the local
// sandbox (bubblewrap when installed) — against the same pipeline run
// locally, interleaved; then one more remote run whose sync must upload 0
// bytes (the workspace did not change).
const jobW6 = "osiris W6 remote"

func remoteJob(osiris, ws string) *job {
	return osirisJob(jobW6, osiris, ws, "run", "--json", "--no-cache", w3File, "--remote", "local")
}

func measureW6(ctx context.Context, b *bench) (outcome, error) {
	ss, err := b.run(ctx, jobW6, jobW3)
	if err != nil {
		return outcome{}, err
	}
	if err := b.expectPGRows(ctx, w3Table, min(b.cfg.Rows, directorsRows)); err != nil {
		return outcome{}, err
	}
	uploaded, err := remoteRunUploaded(ctx, b.cfg.Osiris, b.wsDefault, "local")
	if err != nil {
		return outcome{}, err
	}
	o := outcome{Osiris: ss[0], Baseline: ss[1], BaselineLabel: "W3 local"}
	o.Ratio = ratio(o.Osiris.Stats.MedianSeconds, o.Baseline.Stats.MedianSeconds)
	o.Checks = []check{
		atMost("wall ≤ 1.10 × W3 run locally", o.Ratio, 1.10),
		{What: fmt.Sprintf("a further remote run uploads 0 bytes (uploaded %d)", uploaded), OK: uploaded == 0},
	}
	return o, nil
}

// remoteRunUploaded runs the W3 pipeline in sandbox remote once more and
// returns the bytes it uploaded: sync_complete's bytes_uploaded plus its
// binary_bytes_uploaded (the docker and ssh kinds provision the binary).
func remoteRunUploaded(ctx context.Context, osiris, ws, remote string) (int64, error) {
	cmd := exec.CommandContext(ctx, osiris, "-C", ws, "--json", "run", "--no-cache", w3File, "--remote", remote)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("W6 second-run check: %v\n%s", err, indent(stderr.String()))
	}
	var summary struct {
		RunDir string `json:"run_dir"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &summary); err != nil || summary.RunDir == "" {
		return 0, fmt.Errorf("W6 second-run check: no run_dir in %q", out)
	}
	f, err := os.Open(filepath.Join(ws, filepath.FromSlash(summary.RunDir), "events.jsonl"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Event         string `json:"event"`
			BytesUploaded *int64 `json:"bytes_uploaded"`
			BinaryBytes   int64  `json:"binary_bytes_uploaded"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Event == "sync_complete" && e.BytesUploaded != nil {
			return *e.BytesUploaded + e.BinaryBytes, nil
		}
	}
	return 0, fmt.Errorf("W6 second-run check: %s has no sync_complete event", summary.RunDir)
}
