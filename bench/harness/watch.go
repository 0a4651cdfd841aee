package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// W7: in a running `osiris watch`, edit W3's DuckDB query; compare the
// rerun with a full --no-cache run of W3 (jobW3), and report the time from
// the end of the debounce window to the rerun's run_start.
//
// The watched pipeline is W3 writing to its own table (w7Table), so that its
// reruns never touch W3's. It runs with --cache-extracts: the 2M-row MySQL
// extract is reused, the aggregate and the writer rerun (every edit changes
// the aggregate's output, so the writer cannot be skipped). The rerun's wall
// time runs from the debounce end (which watch reports) to the run's report:
// compile, the run, and recording it, the debounce itself left out.

const (
	w7File       = "pipelines/w7_watch.yaml"
	w7Table      = "director_stats_w7"
	jobW7Rerun   = "osiris W7 watch rerun"
	w7MaxLatency = 50.0 // ms, median debounce end → run_start
)

// w7Aggregate is W3's aggregate with n folded into the counts: every edit
// gives another table (types unchanged).
func w7Aggregate(n int) string {
	return fmt.Sprintf("SELECT director_name, COUNT(*) + %d AS movies, SUM(box_office_usd) AS box_office FROM input_df GROUP BY ALL", n)
}

func w7Pipeline(n int) string {
	return strings.NewReplacer(
		"name: w3-seed", "name: w7-watch",
		strconv.Quote(w3Aggregate), strconv.Quote(w7Aggregate(n)),
		"table: "+w3Table, "table: "+w7Table,
	).Replace(w3Pipeline())
}

// watchSession is a running `osiris --json watch`.
type watchSession struct {
	cmd    *exec.Cmd
	lines  chan string
	file   string // the watched pipeline, absolute
	edits  int
	stderr *tailBuffer
	exited chan error
}

// watchReport is the part of a watch --json report W7 reads.
type watchReport struct {
	Event          string   `json:"event"`
	TS             string   `json:"ts"`
	Status         string   `json:"status"`
	Rows           *int64   `json:"rows"`
	Cached         int      `json:"cached"`
	DebounceEnd    string   `json:"debounce_end"`
	StartLatencyMs *float64 `json:"start_latency_ms"`
	Error          string   `json:"error"`
	Errors         []string `json:"errors"`
}

func startWatchSession(ctx context.Context, bin, workspace string) (*watchSession, error) {
	s := &watchSession{
		file:   filepath.Join(workspace, filepath.FromSlash(w7File)),
		lines:  make(chan string, 64),
		stderr: &tailBuffer{limit: 4096},
		exited: make(chan error, 1),
	}
	if err := os.WriteFile(s.file, []byte(w7Pipeline(0)), 0o644); err != nil {
		return nil, err
	}
	s.cmd = exec.CommandContext(ctx, bin, "-C", workspace, "--json", "watch", "--cache-extracts", w7File)
	s.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	s.cmd.Stderr = s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 4<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		s.exited <- s.cmd.Wait()
	}()
	// The first run of the pipeline, before any edit.
	if _, err := s.nextRun(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("W7: the first run in watch mode: %w", err)
	}
	return s, nil
}

// nextRun waits for the next run report (at most 30 minutes).
func (s *watchSession) nextRun(ctx context.Context) (watchReport, error) {
	timeout := time.After(30 * time.Minute)
	for {
		select {
		case <-ctx.Done():
			return watchReport{}, ctx.Err()
		case <-timeout:
			return watchReport{}, fmt.Errorf("no run report within 30 minutes; stderr tail:\n%s", indent(s.stderr.String()))
		case l, ok := <-s.lines:
			if !ok {
				return watchReport{}, fmt.Errorf("osiris watch exited; stderr tail:\n%s", indent(s.stderr.String()))
			}
			var r watchReport
			if json.Unmarshal([]byte(l), &r) != nil {
				continue
			}
			switch r.Event {
			case "invalid", "config":
				return r, fmt.Errorf("watch reported %s: %s", r.Event, strings.Join(r.Errors, "; "))
			case "run":
				if r.Status != "success" {
					return r, fmt.Errorf("the run ended %s: %s", r.Status, r.Error)
				}
				return r, nil
			}
		}
	}
}

// edit rewrites the query and waits for the rerun. It returns the rerun's
// wall time (debounce end → reported) and the debounce end → run_start
// latency in ms.
func (s *watchSession) edit(ctx context.Context) (watchReport, float64, float64, error) {
	s.edits++
	if err := os.WriteFile(s.file, []byte(w7Pipeline(s.edits)), 0o644); err != nil {
		return watchReport{}, 0, 0, err
	}
	r, err := s.nextRun(ctx)
	if err != nil {
		return r, 0, 0, err
	}
	end, err1 := time.Parse(time.RFC3339Nano, r.DebounceEnd)
	done, err2 := time.Parse(time.RFC3339Nano, r.TS)
	if err1 != nil || err2 != nil || r.StartLatencyMs == nil {
		return r, 0, 0, fmt.Errorf("the rerun report lacks debounce_end, ts or start_latency_ms: %+v", r)
	}
	return r, done.Sub(end).Seconds(), *r.StartLatencyMs, nil
}

// peakRSSKiB is the watch process's VmHWM so far.
func (s *watchSession) peakRSSKiB() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// stop sends Ctrl-C and waits for a clean exit.
func (s *watchSession) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	go func() {
		for range s.lines {
		}
	}()
	select {
	case err := <-s.exited:
		// Ctrl-C stops watch with exit 130 (interrupted).
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 130) {
			return fmt.Errorf("osiris watch after Ctrl-C: %w; stderr tail:\n%s", err, indent(s.stderr.String()))
		}
		return nil
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("osiris watch did not exit within a minute of Ctrl-C")
	}
}

func measureW7(ctx context.Context, b *bench) (outcome, error) {
	s, err := startWatchSession(ctx, b.cfg.Osiris, b.wsDefault)
	if err != nil {
		return outcome{}, err
	}
	var latencies []float64
	rerun := &job{
		name:    jobW7Rerun,
		command: shellJoin([]string{b.cfg.Osiris, "-C", b.wsDefault, "--json", "watch", "--cache-extracts", w7File}) + "  # then edit the DuckDB query",
		run: func(ctx context.Context) (sample, error) {
			r, wall, latency, err := s.edit(ctx)
			if err != nil {
				return sample{}, fmt.Errorf("%s: %w", jobW7Rerun, err)
			}
			if want := b.jobs[jobW3].wantRows; want != nil && (r.Rows == nil || *r.Rows != *want) {
				return sample{}, fmt.Errorf("%s: the rerun reported %v rows, want %d", jobW7Rerun, r.Rows, *want)
			}
			if r.Cached < 1 {
				return sample{}, fmt.Errorf("%s: the rerun reused no step (the extract should be cached)", jobW7Rerun)
			}
			latencies = append(latencies, latency)
			return sample{WallSeconds: wall, PeakRSSKiB: s.peakRSSKiB(), Rows: r.Rows}, nil
		},
	}
	ss, err := measure(ctx, b.cfg.Runs, b.progress, rerun, b.jobs[jobW3])
	if serr := s.stop(); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return outcome{}, err
	}
	if err := b.expectPGRows(ctx, w7Table, min(b.cfg.Rows, directorsRows)); err != nil {
		return outcome{}, err
	}
	// The warm-up's latency is left out, as its wall time is.
	if len(latencies) > 1 {
		latencies = latencies[1:]
	}
	lat := median(latencies)
	o := outcome{Osiris: ss[0], Baseline: ss[1], BaselineLabel: "W3 full --no-cache run"}
	o.Ratio, o.Checks = judgeW7(o.Osiris.Stats, o.Baseline.Stats, lat)
	return o, nil
}

// judgeW7: the rerun ≤ 0.25 × a full run; debounce end → run_start < 50 ms
// (median).
func judgeW7(rerun, full stats, latencyMs float64) (*float64, []check) {
	r := ratio(rerun.MedianSeconds, full.MedianSeconds)
	return r, []check{
		atMost("rerun ≤ 0.25 × full --no-cache run", r, 0.25),
		{What: fmt.Sprintf("debounce end → run_start median %.1f ms < %.0f ms", latencyMs, w7MaxLatency), OK: latencyMs > 0 && latencyMs < w7MaxLatency},
	}
}
