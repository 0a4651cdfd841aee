package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sample is one measured execution of a command.
type sample struct {
	WallSeconds float64 `json:"wall_s"`
	// PeakRSSKiB is the peak resident set of the largest single process.
	PeakRSSKiB int64 `json:"peak_rss_kib"`
	// StageRSSKiB is each pipeline stage's peak, in stage order (shell pipelines
	// measured with /usr/bin/time only).
	StageRSSKiB []int64 `json:"stage_rss_kib,omitempty"`
	// Rows is what `osiris run --json` reported, when it reported it.
	Rows *int64 `json:"rows,omitempty"`
}

// stats summarises the measured runs of a series (the warm-up is left out).
type stats struct {
	MedianSeconds float64 `json:"median_s"`
	MinSeconds    float64 `json:"min_s"`
	MaxSeconds    float64 `json:"max_s"`
	// PeakRSSMiB is the largest PeakRSSKiB over the runs, in MiB.
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// series is one command measured several times.
type series struct {
	Name    string   `json:"name"`
	Command string   `json:"command"`
	Warmup  *sample  `json:"warmup,omitempty"`
	Runs    []sample `json:"runs"`
	Stats   stats    `json:"stats"`
}

// summarize computes median/min/max wall time and the peak RSS of runs.
func summarize(runs []sample) stats {
	if len(runs) == 0 {
		return stats{}
	}
	walls := make([]float64, len(runs))
	var peak int64
	for i, r := range runs {
		walls[i] = r.WallSeconds
		peak = max(peak, r.PeakRSSKiB)
	}
	return stats{
		MedianSeconds: median(walls),
		MinSeconds:    slices.Min(walls),
		MaxSeconds:    slices.Max(walls),
		PeakRSSMiB:    float64(peak) / 1024,
	}
}

// median of xs (mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// job is something the harness can run and time: an osiris command or a
// baseline. setup runs before every execution and is not timed.
type job struct {
	name    string
	command string // shown in the JSON; copy-pastable where possible
	setup   func(ctx context.Context) error
	run     func(ctx context.Context) (sample, error)
	// wantRows, when set, is the row count every execution of an osiris run
	// job must report: a run that exits 0 with the wrong rows is no figure.
	wantRows *int64
}

// progressFunc reports what the harness is doing (to stderr in main).
type progressFunc func(format string, args ...any)

// measure runs every job once as a warm-up, then runs times each, interleaved
// (job A, job B, job A, …) so that slow drift of a noisy machine hits the
// osiris figure and its baseline alike.
func measure(ctx context.Context, runs int, progress progressFunc, jobs ...*job) ([]*series, error) {
	out := make([]*series, len(jobs))
	once := func(j *job) (sample, error) {
		if j.setup != nil {
			if err := j.setup(ctx); err != nil {
				return sample{}, fmt.Errorf("%s: setup: %w", j.name, err)
			}
		}
		return j.run(ctx)
	}
	for i, j := range jobs {
		out[i] = &series{Name: j.name, Command: j.command}
		s, err := once(j)
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		progress("  %-22s warm-up  %8.3f s %8.1f MiB", j.name, s.WallSeconds, float64(s.PeakRSSKiB)/1024)
		out[i].Warmup = &s
	}
	for r := 1; r <= runs; r++ {
		for i, j := range jobs {
			s, err := once(j)
			if err != nil {
				return nil, fmt.Errorf("run %d: %w", r, err)
			}
			progress("  %-22s run %d/%d  %8.3f s %8.1f MiB", j.name, r, runs, s.WallSeconds, float64(s.PeakRSSKiB)/1024)
			out[i].Runs = append(out[i].Runs, s)
		}
	}
	for _, s := range out {
		s.Stats = summarize(s.Runs)
	}
	return out, nil
}

// tailBuffer keeps the last limit bytes written to it: enough of a failing
// command's stderr to say why, without holding gigabytes of chatter.
type tailBuffer struct {
	limit int
	buf   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.limit {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.limit:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	b := t.buf
	if len(b) > t.limit {
		b = b[len(b)-t.limit:]
	}
	return strings.TrimSpace(string(b))
}

// processResult is what runProcess observed.
type processResult struct {
	wall      time.Duration
	maxRSSKiB int64
	stdout    []byte
}

// runProcess runs cmd in its own process group (so cancellation kills a whole
// pipeline) and returns its wall time and Maxrss. A non-zero exit is an error
// carrying the tail of stderr.
func runProcess(cmd *exec.Cmd, what string) (processResult, error) {
	var stdout bytes.Buffer
	stderr := &tailBuffer{limit: 4096}
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	err := cmd.Run()
	res := processResult{wall: time.Since(start), stdout: stdout.Bytes()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.maxRSSKiB = ru.Maxrss // KiB on Linux
		}
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return res, fmt.Errorf("%s exited with %d; stderr tail:\n%s", what, exit.ExitCode(), indent(stderr.String()))
		}
		return res, fmt.Errorf("%s: %w", what, err)
	}
	return res, nil
}

func indent(s string) string {
	if s == "" {
		return "    (stderr was empty)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// osirisJob runs `osiris -C workspace args…`. With --json among args, the
// summary on stdout is read for the row count when it has one.
func osirisJob(name, bin, workspace string, args ...string) *job {
	argv := append([]string{bin, "-C", workspace}, args...)
	j := &job{name: name, command: shellJoin(argv)}
	j.run = func(ctx context.Context) (sample, error) {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "NO_COLOR=1")
		res, err := runProcess(cmd, "osiris "+strings.Join(args, " "))
		s := sample{WallSeconds: res.wall.Seconds(), PeakRSSKiB: res.maxRSSKiB}
		if err != nil {
			return s, fmt.Errorf("%s: %w", name, err)
		}
		s.Rows = summaryRows(res.stdout)
		if want := j.wantRows; want != nil {
			switch {
			case s.Rows == nil:
				return s, fmt.Errorf("%s: the run reported no row count, want %d rows", name, *want)
			case *s.Rows != *want:
				return s, fmt.Errorf("%s: the run reported %d rows, want %d", name, *s.Rows, *want)
			}
		}
		return s, nil
	}
	return j
}

// summaryRows reads "rows" from a `run --json` summary; nil when there is no
// such number (the summary format is not the harness's to enforce).
func summaryRows(stdout []byte) *int64 {
	var summary struct {
		Rows *int64 `json:"rows"`
	}
	if json.Unmarshal(bytes.TrimSpace(stdout), &summary) != nil {
		return nil
	}
	return summary.Rows
}

// shellPipeline is a baseline run as `bash -c "a | b | c"`: what a person
// would type, so the JSON's command can be pasted into a terminal.
type shellPipeline struct {
	stages [][]string // argv of each stage
	stdout string     // redirect the last stage's stdout to this file ("" keeps it)
}

// script renders the pipeline for bash. With timeBin set, each stage runs
// under `timeBin -f %M -o rssFiles[i]` so its peak RSS lands in that file.
func (p shellPipeline) script(timeBin string, rssFiles []string) string {
	parts := make([]string, len(p.stages))
	for i, argv := range p.stages {
		q := shellJoin(argv)
		if timeBin != "" {
			q = shellJoin([]string{timeBin, "-f", "%M", "-o", rssFiles[i], "--"}) + " " + q
		}
		parts[i] = q
	}
	s := strings.Join(parts, " | ")
	if p.stdout != "" {
		s += " > " + shellQuote(p.stdout)
	}
	if len(p.stages) > 1 {
		s = "set -o pipefail; " + s
	}
	return s
}

// pipelineJob times a shell pipeline. timeBin is /usr/bin/time when installed
// ("" otherwise); tmpDir holds the per-stage RSS files.
func pipelineJob(name string, p shellPipeline, timeBin, tmpDir string) *job {
	return &job{
		name:    name,
		command: p.script("", nil),
		run: func(ctx context.Context) (sample, error) {
			var rssFiles []string
			if timeBin != "" {
				for i := range p.stages {
					rssFiles = append(rssFiles, filepath.Join(tmpDir, fmt.Sprintf("%s.stage%d.rss", name, i)))
				}
				for _, f := range rssFiles {
					_ = os.Remove(f) // a stale file must not pass for this run's figure
				}
			}
			cmd := exec.CommandContext(ctx, "bash", "-c", p.script(timeBin, rssFiles))
			res, err := runProcess(cmd, name+" pipeline")
			s := sample{WallSeconds: res.wall.Seconds(), PeakRSSKiB: res.maxRSSKiB}
			if err != nil {
				return s, err
			}
			if timeBin != "" {
				s.StageRSSKiB = make([]int64, len(rssFiles))
				var peak int64
				for i, f := range rssFiles {
					b, err := os.ReadFile(f)
					if err != nil {
						return s, fmt.Errorf("%s: reading stage %d RSS: %w", name, i, err)
					}
					kib, err := parseTimeRSS(b)
					if err != nil {
						return s, fmt.Errorf("%s: stage %d RSS in %s: %w", name, i, f, err)
					}
					s.StageRSSKiB[i] = kib
					peak = max(peak, kib)
				}
				// The largest stage, not bash's figure, which would also count
				// /usr/bin/time and bash themselves.
				s.PeakRSSKiB = peak
			}
			return s, nil
		},
	}
}

// parseTimeRSS reads the output of `/usr/bin/time -f %M -o FILE`: the maximum
// RSS in KiB on the last non-empty line, possibly preceded by
// "Command exited with non-zero status N" or "Command terminated by signal N".
func parseTimeRSS(b []byte) (int64, error) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return 0, errors.New("empty /usr/bin/time output")
	}
	kib, err := strconv.ParseInt(last, 10, 64)
	if err != nil || kib < 0 {
		return 0, fmt.Errorf("not a KiB figure: %q", last)
	}
	return kib, nil
}

// shellQuote quotes s for bash when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./=:@%+,-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
