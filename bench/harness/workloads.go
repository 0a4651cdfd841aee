package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// A workload is one row of the results table. To add one (W6 remote, W7
// watch), write its measure function and set it in workloads(); everything
// else (table, JSON, verdicts) follows from the outcome it returns.
type workload struct {
	ID     string
	Title  string
	Target string // as printed in the table
	// Unavailable, when set, says why the workload cannot be measured yet; the
	// table lists it as "not available".
	Unavailable string
	measure     func(ctx context.Context, b *bench) (outcome, error)
}

// workloads returns the workloads of spec 07 in table order.
func workloads() []workload {
	return []workload{
		{ID: "W1", Title: "extract", Target: "≤ 1.05 × mysql client; ≤ 1/5 of pandas' RSS (pandas speed reported)", measure: measureW1},
		{ID: "W2", Title: "copy", Target: "≤ 0.8 × raw pipe", measure: measureW2},
		{ID: "W3", Title: "seed", Target: "≤ 1.1 × mysql client (W1's floor); peak RSS ≤ 1.4 × memory_budget", measure: measureW3},
		{ID: "W4", Title: "csv", Target: "memory path faster than budget 0 (ratio < 1)", measure: measureW4},
		{ID: "W5", Title: "compile", Target: "< 200 ms", measure: measureW5},
		{ID: "W6", Title: "remote", Target: "≤ 1.10 × W3 local; 2nd run uploads 0 bytes", measure: measureW6},
		{ID: "W6D", Title: "remote, docker", Target: "≤ 1.10 × W3 local; 2nd run uploads 0 bytes", Unavailable: remoteKinds[0].unavailable(), measure: measureW6Kind(remoteKinds[0])},
		{ID: "W6S", Title: "remote, ssh", Target: "≤ 1.10 × W3 local; 2nd run uploads 0 bytes", Unavailable: remoteKinds[1].unavailable(), measure: measureW6Kind(remoteKinds[1])},
		{ID: "W7", Title: "watch", Target: "rerun ≤ 0.25 × full run; debounce → run_start < 50 ms", measure: measureW7},
		{ID: "W8", Title: "memory", Target: "peak RSS ≤ 400 MB and ≤ 1/2 of W2's", measure: measureW8},
	}
}

// check is one condition of a target.
type check struct {
	What string `json:"what"`
	OK   bool   `json:"ok"`
}

// outcome is what measuring a workload produced.
type outcome struct {
	Osiris        *series `json:"osiris,omitempty"`
	Baseline      *series `json:"baseline,omitempty"`
	BaselineLabel string  `json:"baseline_label,omitempty"`
	// BaselineRSS marks a baseline compared by peak RSS, not wall time (W8).
	BaselineRSS bool     `json:"baseline_is_rss,omitempty"`
	Pandas      *series  `json:"pandas,omitempty"`
	PandasNote  string   `json:"pandas_note,omitempty"`
	Ratio       *float64 `json:"ratio,omitempty"`
	Checks      []check  `json:"checks,omitempty"`
}

// Job names. A job may serve several workloads (the mysql client is W1's and
// W3's baseline, W2 is W8's), but each workload measures its own series,
// interleaved with its baseline, so drift of the machine during the sitting
// hits a figure and its baseline alike.
const (
	jobW1         = "osiris W1"
	jobW2         = "osiris W2"
	jobW3         = "osiris W3"
	jobW4         = "osiris W4"
	jobW4Budget0  = "osiris W4 budget 0"
	jobW5         = "osiris W5 compile"
	jobW8         = "osiris W8"
	jobClientW1   = "mysql client"
	jobRawPipe    = "raw pipe"
	jobPandasW1   = "pandas"
	rssLimitW8MiB = 400
)

// bench holds what the workloads share during one harness run.
type bench struct {
	cfg        config
	servers    servers
	progress   progressFunc
	jobs       map[string]*job
	pandasNote string // why pandas is not measured; "" when it is
	wsDefault  string // the workspace with the default budget
	// pairs are the -before comparisons the current workload measured.
	pairs []beforeAfter
}

// beforeAfter is one osiris job measured with both binaries (-before).
type beforeAfter struct {
	Job    string  `json:"job"`
	Before *series `json:"before"`
	After  *series `json:"after"`
}

// beforeName is the name of job name run with the -before binary.
func beforeName(name string) string { return name + " (before)" }

// run measures the named jobs together, interleaved, and returns their
// series in order. Nothing is reused from an earlier workload: a baseline
// measured minutes before its workload would compare two different machines.
func (b *bench) run(ctx context.Context, names ...string) ([]*series, error) {
	var todo []*job
	var at []int // index in todo of each name's series
	for _, n := range names {
		j, ok := b.jobs[n]
		if !ok {
			return nil, fmt.Errorf("harness bug: no job %q", n)
		}
		// -before: the same job with the other binary, just before it in
		// every round, so both see the same drift of the machine.
		if bj, ok := b.jobs[beforeName(n)]; ok {
			todo = append(todo, bj)
		}
		at = append(at, len(todo))
		todo = append(todo, j)
	}
	all, err := measure(ctx, b.cfg.Runs, b.progress, todo...)
	if err != nil {
		return nil, err
	}
	out := make([]*series, len(names))
	for i, n := range names {
		out[i] = all[at[i]]
		if at[i] > 0 && all[at[i]-1].Name == beforeName(n) {
			b.pairs = append(b.pairs, beforeAfter{Job: n, Before: all[at[i]-1], After: out[i]})
		}
	}
	return out, nil
}

// expectedRows are the row counts the osiris jobs must report.
type expectedRows struct {
	movies    int64 // W1 (one row per movie), W2 and W8 (rows loaded)
	directors int64 // W3: one row per director
	w4Groups  int64 // W4: one row per (genre, release_year); 0 = W4 not run
}

// setWantRows makes every osiris run job check the rows it reports.
func setWantRows(jobs map[string]*job, want expectedRows) {
	for name, n := range map[string]int64{
		jobW1: want.movies, jobW2: want.movies, jobW8: want.movies,
		jobW3: want.directors, jobW6: want.directors, jobW6Docker: want.directors, jobW6SSH: want.directors, jobW4: want.w4Groups, jobW4Budget0: want.w4Groups,
	} {
		if j := jobs[name]; j != nil {
			j.wantRows = &n
		}
	}
}

// w4GroupsQuery counts W4's output rows in MariaDB, from the table the CSV
// was exported from.
const w4GroupsQuery = "SELECT COUNT(*) FROM (SELECT genre, release_year FROM " + mysqlDatabase + ".movies GROUP BY genre, release_year) g"

// newJobs defines every job of the harness.
func newJobs(s servers, osiris string, ws map[string]string, timeBin, tmpDir string) map[string]*job {
	run := func(name, workspace, pipeline string) *job {
		return osirisJob(name, osiris, workspace, "run", "--json", "--no-cache", pipeline)
	}
	def := ws[budgetDefault]
	jobs := []*job{
		run(jobW1, def, w1File),
		run(jobW2, def, w2File),
		run(jobW3, def, w3File),
		remoteJob(osiris, def),
		run(jobW4, def, w4File),
		run(jobW4Budget0, ws[budgetZero], w4File),
		run(jobW8, ws[budgetSmall], w2File),
	}
	jobs = append(jobs, remoteKindJobs(osiris, def)...)
	compile := osirisJob(jobW5, osiris, def, "compile", w5File)
	// Every measured compile starts from an empty build/: a full compile, not
	// the "nothing changed, nothing rewritten" path.
	compile.setup = func(context.Context) error { return os.RemoveAll(filepath.Join(def, "build")) }
	jobs = append(jobs, compile)

	client := shellPipeline{
		stages: [][]string{append(append([]string{"mysql", "--quick", "--batch", "--raw"}, s.mysqlArgs()...), mysqlDatabase, "-e", w1Query)},
		stdout: "/dev/null",
	}
	jobs = append(jobs, pipelineJob(jobClientW1, client, timeBin, tmpDir))

	// Only box_office_usd (a middle column) holds NULLs, so a NULL field is
	// always tab-delimited on both sides; this exact pattern is also the
	// fastest sed can do (capture groups for first/last columns cost 3×).
	// Adjacent NULL fields would need a second pass; the data has none.
	pipe := shellPipeline{stages: [][]string{
		append(append([]string{"mysql", "--quick", "--batch", "--raw", "--skip-column-names"}, s.mysqlArgs()...), mysqlDatabase, "-e", "SELECT * FROM movies"),
		{"sed", `s/\tNULL\t/\t\\N\t/g`},
		append(append([]string{"psql"}, s.psqlArgs(pgDatabase)...), "-c", `\copy `+pipeTbl+` from pstdin`),
	}}
	pipeJob := pipelineJob(jobRawPipe, pipe, timeBin, tmpDir)
	pipeJob.setup = func(ctx context.Context) error {
		_, err := s.psqlQuery(ctx, pgDatabase, pipeTableDDL)
		return err
	}
	jobs = append(jobs, pipeJob)

	pandas := shellPipeline{stages: [][]string{{pandasPython, "-c", pandasScript, w1Query, s.pandasURL()}}}
	jobs = append(jobs, pipelineJob(jobPandasW1, pandas, timeBin, tmpDir))

	m := make(map[string]*job, len(jobs))
	for _, j := range jobs {
		m[j.name] = j
	}
	return m
}

// pandasScript is how Osiris-Python's MySQL extractor reads: pandas
// read_sql_query through SQLAlchemy + PyMySQL.
const pandasScript = `import sys, pandas, sqlalchemy
df = pandas.read_sql_query(sys.argv[1], sqlalchemy.create_engine(sys.argv[2]))
print(len(df))`

func (s servers) pandasURL() string {
	return fmt.Sprintf("mysql+pymysql://%s@%s:%d/%s", s.MySQLUser, s.MySQLHost, s.MySQLPort, mysqlDatabase)
}

// pandasPython is the interpreter that runs the pandas baseline: the first
// of python3 on PATH and Debian's /usr/bin/python3 (where the Debian
// packages install, when PATH leads to a pyenv or venv python) that imports
// pandas, sqlalchemy and pymysql.
var pandasPython = "python3"

// pandasAvailability returns "" when a python3 can import pandas, sqlalchemy
// and pymysql (and selects it), else what is missing. The harness never
// installs them.
func pandasAvailability(ctx context.Context) string {
	found := false
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if _, err := exec.LookPath(py); err != nil {
			continue
		}
		found = true
		if exec.CommandContext(ctx, py, "-c", "import pandas, sqlalchemy, pymysql").Run() == nil {
			pandasPython = py
			return ""
		}
	}
	if !found {
		return "not installed (no python3)"
	}
	return "not installed (python3 cannot import pandas, sqlalchemy, pymysql; Debian: python3-pandas python3-sqlalchemy python3-pymysql)"
}

func measureW1(ctx context.Context, b *bench) (outcome, error) {
	names := []string{jobW1, jobClientW1}
	if b.pandasNote == "" {
		names = append(names, jobPandasW1)
	}
	ss, err := b.run(ctx, names...)
	if err != nil {
		return outcome{}, err
	}
	o := outcome{Osiris: ss[0], Baseline: ss[1], BaselineLabel: "mysql client", PandasNote: b.pandasNote}
	if len(ss) > 2 {
		o.Pandas = ss[2]
	}
	o.Ratio, o.Checks = judgeW1(o.Osiris.Stats, o.Baseline.Stats, o.Pandas)
	return o, nil
}

// Spec 07's targets.
const (
	targetW1      = 1.05 // × the mysql client floor
	targetW2      = 0.8  // × the raw pipe floor
	targetW3      = 1.1  // × W1's client floor
	targetW3RSS   = 1.4  // × memory_budget
	budgetDefMiB  = 512  // budgetDefault in MiB (W3's RSS target)
	pandasRSSPart = 0.2  // W1: ≤ 1/5 of pandas' peak RSS
)

// judgeW1: ≤ 1.05 × the client floor; against pandas (when measured)
// ≤ 1/5 of its peak RSS. The speed-up over pandas is reported, not judged.
func judgeW1(osiris, client stats, pandas *series) (*float64, []check) {
	r := ratio(osiris.MedianSeconds, client.MedianSeconds)
	checks := []check{atMost("wall ≤ 1.05 × mysql client", r, targetW1)}
	if pandas != nil {
		checks = append(checks,
			atMost("peak RSS ≤ 1/5 of pandas'", ratio(osiris.PeakRSSMiB, pandas.Stats.PeakRSSMiB), pandasRSSPart))
	}
	return r, checks
}

// judgeW3: ≤ 1.1 × the client floor, peak RSS ≤ 1.4 × the budget.
func judgeW3(osiris, client stats) (*float64, []check) {
	r := ratio(osiris.MedianSeconds, client.MedianSeconds)
	return r, []check{
		atMost("wall ≤ 1.1 × mysql client", r, targetW3),
		{What: fmt.Sprintf("peak RSS ≤ 1.4 × memory_budget (%.0f MB)", targetW3RSS*budgetDefMiB), OK: osiris.PeakRSSMiB > 0 && osiris.PeakRSSMiB <= targetW3RSS*budgetDefMiB},
	}
}

func measureW2(ctx context.Context, b *bench) (outcome, error) {
	ss, err := b.run(ctx, jobW2, jobRawPipe)
	if err != nil {
		return outcome{}, err
	}
	for _, table := range []string{w2Table, pipeTbl} {
		if err := b.expectPGRows(ctx, table, b.cfg.Rows); err != nil {
			return outcome{}, err
		}
	}
	o := outcome{Osiris: ss[0], Baseline: ss[1], BaselineLabel: "raw pipe"}
	o.Ratio = ratio(o.Osiris.Stats.MedianSeconds, o.Baseline.Stats.MedianSeconds)
	o.Checks = []check{atMost("wall ≤ 0.8 × raw pipe", o.Ratio, targetW2)}
	return o, nil
}

func measureW3(ctx context.Context, b *bench) (outcome, error) {
	ss, err := b.run(ctx, jobW3, jobClientW1)
	if err != nil {
		return outcome{}, err
	}
	// director_id = 1 + seq % 20000, so that many distinct directors.
	if err := b.expectPGRows(ctx, w3Table, min(b.cfg.Rows, directorsRows)); err != nil {
		return outcome{}, err
	}
	o := outcome{Osiris: ss[0], Baseline: ss[1], BaselineLabel: "mysql client"}
	o.Ratio, o.Checks = judgeW3(o.Osiris.Stats, o.Baseline.Stats)
	return o, nil
}

func measureW4(ctx context.Context, b *bench) (outcome, error) {
	ss, err := b.run(ctx, jobW4, jobW4Budget0)
	if err != nil {
		return outcome{}, err
	}
	// The file the last run wrote: a header and one line per group.
	out, err := os.ReadFile(filepath.Join(b.wsDefault, filepath.FromSlash(w4Output)))
	if err != nil {
		return outcome{}, fmt.Errorf("W4 ran but left no output at %s (%v)", w4Output, err)
	}
	if want := b.jobs[jobW4].wantRows; want != nil {
		if lines := int64(bytes.Count(out, []byte("\n"))); lines != *want+1 {
			return outcome{}, fmt.Errorf("W4's output %s has %d lines, want a header and %d rows", w4Output, lines, *want)
		}
	}
	o := outcome{Osiris: ss[0], Baseline: ss[1], BaselineLabel: "budget 0"}
	o.Ratio = ratio(o.Osiris.Stats.MedianSeconds, o.Baseline.Stats.MedianSeconds)
	o.Checks = []check{{What: "memory path faster than parquet path (ratio < 1)", OK: o.Ratio != nil && *o.Ratio < 1}}
	return o, nil
}

func measureW5(ctx context.Context, b *bench) (outcome, error) {
	ss, err := b.run(ctx, jobW5)
	if err != nil {
		return outcome{}, err
	}
	o := outcome{Osiris: ss[0]}
	o.Checks = []check{{What: "median compile < 200 ms", OK: o.Osiris.Stats.MedianSeconds < 0.200}}
	return o, nil
}

func measureW8(ctx context.Context, b *bench) (outcome, error) {
	ss, err := b.run(ctx, jobW8, jobW2)
	if err != nil {
		return outcome{}, err
	}
	if err := b.expectPGRows(ctx, w2Table, b.cfg.Rows); err != nil {
		return outcome{}, err
	}
	o := outcome{Osiris: ss[0], Baseline: ss[1], BaselineLabel: "W2 peak RSS", BaselineRSS: true}
	o.Ratio, o.Checks = judgeW8(o.Osiris.Stats, o.Baseline.Stats)
	return o, nil
}

// judgeW8: peak RSS ≤ 400 MiB and ≤ 1/2 of W2's with the default budget.
func judgeW8(small, def stats) (*float64, []check) {
	r := ratio(small.PeakRSSMiB, def.PeakRSSMiB)
	return r, []check{
		{What: fmt.Sprintf("peak RSS ≤ %d MB", rssLimitW8MiB), OK: small.PeakRSSMiB > 0 && small.PeakRSSMiB <= rssLimitW8MiB},
		atMost("peak RSS ≤ 1/2 of W2's", r, 0.5),
	}
}

// expectPGRows fails when table in osiris_bench does not hold want rows: a
// pipeline that exits 0 but loads the wrong data is not a figure to report.
func (b *bench) expectPGRows(ctx context.Context, table string, want int64) error {
	out, err := b.servers.psqlQuery(ctx, pgDatabase, "SELECT COUNT(*) FROM "+table)
	if err != nil {
		return fmt.Errorf("counting rows of %s: %w", table, err)
	}
	got, err := strconv.ParseInt(out, 10, 64)
	if err != nil || got != want {
		return fmt.Errorf("%s.%s holds %q rows after the runs, want %d", pgDatabase, table, out, want)
	}
	return nil
}

// ratio is a/b, nil when b is 0 (nothing to compare with).
func ratio(a, b float64) *float64 {
	if b <= 0 {
		return nil
	}
	r := a / b
	return &r
}

func atMost(what string, r *float64, limit float64) check {
	return check{What: what, OK: r != nil && *r <= limit}
}
