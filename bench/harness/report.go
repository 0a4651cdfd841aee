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
	"runtime"
	"strconv"
	"strings"
	"time"
)

// judgedRows is the dataset size the targets are stated for; smaller runs
// print "not judged" (startup costs dominate and ratios mean little).
const judgedRows = 2_000_000

// Verdicts in the result column.
const (
	verdictPass         = "pass"
	verdictFail         = "fail"
	verdictNotJudged    = "not judged"
	verdictNotAvailable = "not available"
	verdictError        = "error"
)

// result is one workload's row, as printed and as written to JSON.
type result struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Target      string `json:"target"`
	Unavailable string `json:"unavailable,omitempty"`
	outcome
	Verdict string `json:"verdict"`
	// WouldPass is the verdict of the checks even when the size is not judged.
	WouldPass *bool  `json:"would_pass,omitempty"`
	Error     string `json:"error,omitempty"`
	// BeforeAfter: with -before, each osiris job measured with both binaries.
	BeforeAfter []beforeAfter `json:"before_after,omitempty"`
}

// verdict decides a result's verdict from its checks.
func verdict(r *result, judged bool) {
	switch {
	case r.Unavailable != "":
		r.Verdict = verdictNotAvailable
		return
	case r.Error != "":
		r.Verdict = verdictError
		return
	}
	pass := len(r.Checks) > 0
	for _, c := range r.Checks {
		pass = pass && c.OK
	}
	r.WouldPass = &pass
	switch {
	case !judged:
		r.Verdict = verdictNotJudged
	case pass:
		r.Verdict = verdictPass
	default:
		r.Verdict = verdictFail
	}
}

const dash = "—"

// renderTable renders the results as a Markdown table, followed by notes
// (failed checks, unavailable workloads, errors).
func renderTable(results []result, rows int64, runs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "osiris benchmark: BENCH_ROWS=%d, %d measured runs after 1 warm-up", rows, runs)
	if rows < judgedRows {
		fmt.Fprintf(&b, " (below %d rows: not judged)", judgedRows)
	}
	b.WriteString("\n\n")
	b.WriteString("| workload | median (s) | min (s) | max (s) | peak RSS (MB) | baseline median | ratio | target | pandas (W1) | result |\n")
	b.WriteString("|---|---:|---:|---:|---:|---|---:|---|---|---|\n")
	var notes []string
	for _, r := range results {
		cells := []string{r.ID + " " + r.Title, dash, dash, dash, dash, dash, dash, r.Target, dash, r.Verdict}
		if s := r.Osiris; s != nil {
			cells[1] = fmtSeconds(s.Stats.MedianSeconds)
			cells[2] = fmtSeconds(s.Stats.MinSeconds)
			cells[3] = fmtSeconds(s.Stats.MaxSeconds)
			cells[4] = fmtMiB(s.Stats.PeakRSSMiB)
		}
		if s := r.Baseline; s != nil {
			if r.BaselineRSS {
				cells[5] = fmtMiB(s.Stats.PeakRSSMiB) + " MB (" + r.BaselineLabel + ")"
			} else {
				cells[5] = fmtSeconds(s.Stats.MedianSeconds) + " s (" + r.BaselineLabel + ")"
			}
		}
		if r.Ratio != nil {
			cells[6] = fmtRatio(r.Ratio) + "×"
			if r.BaselineRSS {
				cells[6] += " RSS"
			}
		}
		switch {
		case r.Pandas != nil:
			cells[8] = fmtSeconds(r.Pandas.Stats.MedianSeconds) + " s, " + fmtMiB(r.Pandas.Stats.PeakRSSMiB) + " MB"
		case r.PandasNote != "":
			cells[8] = "not installed"
			notes = append(notes, fmt.Sprintf("%s pandas: %s", r.ID, r.PandasNote))
		}
		for i := range cells {
			cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")

		switch {
		case r.Unavailable != "":
			notes = append(notes, fmt.Sprintf("%s not available: %s", r.ID, r.Unavailable))
		case r.Error != "":
			notes = append(notes, fmt.Sprintf("%s error: %s", r.ID, firstLine(r.Error)))
		default:
			for _, c := range r.Checks {
				if !c.OK {
					notes = append(notes, fmt.Sprintf("%s missed: %s", r.ID, c.What))
				}
			}
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	renderBeforeAfter(&b, results)
	return b.String()
}

// renderBeforeAfter prints, with -before, both binaries' series of every
// osiris job: median, min–max and spread ((max − min) / median) of wall
// time, peak RSS, and the after/before ratios.
func renderBeforeAfter(b *strings.Builder, results []result) {
	header := false
	for _, r := range results {
		for _, p := range r.BeforeAfter {
			if !header {
				header = true
				b.WriteString("\nbefore/after (-before; the two binaries interleaved per workload):\n\n")
				b.WriteString("| workload | job | before median (min–max) s | spread | after median (min–max) s | spread | after/before wall | before RSS (MB) | after RSS (MB) | after/before RSS |\n")
				b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
			}
			bs, as := p.Before.Stats, p.After.Stats
			cells := []string{
				r.ID, p.Job,
				fmt.Sprintf("%s (%s–%s)", fmtSeconds(bs.MedianSeconds), fmtSeconds(bs.MinSeconds), fmtSeconds(bs.MaxSeconds)), fmtSpread(bs),
				fmt.Sprintf("%s (%s–%s)", fmtSeconds(as.MedianSeconds), fmtSeconds(as.MinSeconds), fmtSeconds(as.MaxSeconds)), fmtSpread(as),
				fmtRatio(ratio(as.MedianSeconds, bs.MedianSeconds)) + "×",
				fmtMiB(bs.PeakRSSMiB), fmtMiB(as.PeakRSSMiB),
				fmtRatio(ratio(as.PeakRSSMiB, bs.PeakRSSMiB)) + "×",
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
	}
}

// fmtSpread is (max − min) / median of a series' wall times, in percent.
func fmtSpread(s stats) string {
	if s.MedianSeconds <= 0 {
		return dash
	}
	return strconv.FormatFloat(100*(s.MaxSeconds-s.MinSeconds)/s.MedianSeconds, 'f', 0, 64) + " %"
}

func fmtSeconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }
func fmtMiB(m float64) string     { return strconv.FormatFloat(m, 'f', 1, 64) }

func fmtRatio(r *float64) string {
	if r == nil {
		return dash
	}
	return strconv.FormatFloat(*r, 'f', 2, 64)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// machine describes where the figures were taken.
type machine struct {
	NProc          int    `json:"nproc"`
	MemTotalMiB    int64  `json:"mem_total_mib"`
	CPU            string `json:"cpu"`
	Kernel         string `json:"kernel"`
	GoVersion      string `json:"go_version"`
	Osiris         string `json:"osiris_version"`
	MySQLClient    string `json:"mysql_client_version"`
	PSQL           string `json:"psql_version"`
	MariaDBServer  string `json:"mariadb_server_version"`
	PostgresServer string `json:"postgres_server_version"`
	TimeTool       string `json:"rss_method"`
}

func describeMachine(ctx context.Context, s servers, osiris, timeBin string) machine {
	m := machine{
		NProc:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		Kernel:    strings.TrimSpace(readFileOr("/proc/sys/kernel/osrelease", "unknown")),
	}
	m.MemTotalMiB, m.CPU = memAndCPU()
	m.Osiris = commandOutput(ctx, osiris, "version")
	m.MySQLClient = commandOutput(ctx, "mysql", "--version")
	m.PSQL = commandOutput(ctx, "psql", "--version")
	if v, err := s.mysqlQuery(ctx, "SELECT VERSION()"); err == nil {
		m.MariaDBServer = v
	}
	if v, err := s.psqlQuery(ctx, "postgres", "SHOW server_version"); err == nil {
		m.PostgresServer = v
	}
	m.TimeTool = "wait4 Maxrss of the waited bash -c (largest reaped process)"
	if timeBin != "" {
		m.TimeTool = timeBin + " -f %M per pipeline stage; wait4 Maxrss for osiris"
	}
	return m
}

func memAndCPU() (memMiB int64, cpu string) {
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				kib, _ := strconv.ParseInt(f[1], 10, 64)
				memMiB = kib / 1024
			}
		}
		f.Close()
	}
	cpu = "unknown"
	for _, line := range strings.Split(readFileOr("/proc/cpuinfo", ""), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			cpu = strings.TrimSpace(v)
			break
		}
	}
	return memMiB, cpu
}

func readFileOr(path, def string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return def
	}
	return string(b)
}

// commandOutput is the trimmed output of a version command, or why not.
func commandOutput(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		return fmt.Sprintf("unknown (%v) %s", err, firstLine(s))
	}
	return s
}

// report is the JSON file written under bench/results/.
type report struct {
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	BenchRows  int64     `json:"bench_rows"`
	Runs       int       `json:"runs"`
	Judged     bool      `json:"judged"`
	Machine    machine   `json:"machine"`
	Servers    servers   `json:"servers"`
	Workloads  []result  `json:"workloads"`
	Table      string    `json:"table_markdown"`
}

// writeReport writes rep as dir/<UTC timestamp>.json and returns the path.
func writeReport(dir string, rep report) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // commands hold > and & that should read as typed
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return "", err
	}
	path := filepath.Join(dir, rep.StartedAt.UTC().Format("20060102T150405Z")+".json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	return path, nil
}
