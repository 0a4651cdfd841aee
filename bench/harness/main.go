package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is what the flags and environment chose.
type config struct {
	Rows   int64
	Runs   int
	Osiris string // path of the binary measured
	// Before is a second osiris binary (-before): every osiris job runs
	// with it too, interleaved with Osiris (before, after, before, …).
	Before     string
	Build      bool // build osiris from ./cmd/osiris even when the binary exists
	ResultsDir string
	SharedDir  string
	Only       map[string]bool // workload ids to run; nil = all
	Keep       bool            // keep the temporary workspaces
	Servers    servers
}

// errUsage marks a bad flag or environment value (exit 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func progressToStderr(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// run is main without os.Exit: 0 when every workload ran, 1 when the harness
// (or a workload's pipeline) failed, 2 for bad usage.
func run(ctx context.Context, args []string) int {
	root, err := repoRoot()
	if err != nil {
		progressToStderr("%v", err)
		return 1
	}
	cfg, err := parseConfig(args, os.Getenv, root)
	if err != nil {
		progressToStderr("%v", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	results, err := runBench(ctx, cfg, root, progressToStderr)
	if err != nil {
		progressToStderr("%v", err)
		return 1
	}
	for _, r := range results {
		if r.Verdict == verdictError {
			return 1
		}
	}
	return 0
}

// parseConfig reads flags and BENCH_ROWS / BENCH_RUNS / OSIRIS_SHARED_DIR.
func parseConfig(args []string, getenv func(string) string, root string) (config, error) {
	cfg := config{Rows: judgedRows, Runs: 3}
	if v := getenv("BENCH_ROWS"); v != "" {
		n, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("%w: BENCH_ROWS=%q is not a positive integer", errUsage, v)
		}
		cfg.Rows = n
	}
	if v := getenv("BENCH_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("%w: BENCH_RUNS=%q is not a positive integer", errUsage, v)
		}
		cfg.Runs = n
	}
	shared := getenv("OSIRIS_SHARED_DIR")
	if shared == "" {
		shared = filepath.Join(root, "..", "shared")
	}

	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.Int64Var(&cfg.Rows, "rows", cfg.Rows, "movies rows (default: BENCH_ROWS or 2000000)")
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "measured runs per command after one warm-up (default: BENCH_RUNS or 3)")
	fs.StringVar(&cfg.Osiris, "osiris", filepath.Join(root, "bin", "osiris"), "the osiris binary to measure")
	fs.StringVar(&cfg.Before, "before", "", "a second osiris binary: every osiris run/compile job also runs with it, interleaved (before, after, before, after …), and both series are printed with their spread")
	fs.BoolVar(&cfg.Build, "build", false, "go build -tags duckdb_arrow ./cmd/osiris to the -osiris path first (done anyway when it does not exist)")
	fs.StringVar(&cfg.ResultsDir, "results", filepath.Join(root, "bench", "results"), "where the JSON results go")
	fs.StringVar(&cfg.SharedDir, "shared", shared, "the shared dir holding bench/movies.sql (default: OSIRIS_SHARED_DIR or ../shared)")
	only := fs.String("only", "", "comma-separated workload ids to run, e.g. W1,W5 (default all)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary bench workspaces and print where they are")
	fs.StringVar(&cfg.Servers.MySQLHost, "mysql-host", "127.0.0.1", "MariaDB host")
	fs.IntVar(&cfg.Servers.MySQLPort, "mysql-port", 3306, "MariaDB port")
	fs.StringVar(&cfg.Servers.MySQLUser, "mysql-user", "root", "MariaDB user")
	fs.StringVar(&cfg.Servers.PGHost, "pg-host", "127.0.0.1", "PostgreSQL host")
	fs.IntVar(&cfg.Servers.PGPort, "pg-port", 5432, "PostgreSQL port")
	fs.StringVar(&cfg.Servers.PGUser, "pg-user", "postgres", "PostgreSQL user")
	if err := fs.Parse(args); err != nil {
		return cfg, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if cfg.Rows < 1 || cfg.Runs < 1 {
		return cfg, fmt.Errorf("%w: -rows and -runs must be positive", errUsage)
	}
	if *only != "" {
		known := map[string]bool{}
		for _, w := range workloads() {
			known[w.ID] = true
		}
		cfg.Only = map[string]bool{}
		for _, id := range strings.Split(*only, ",") {
			id = strings.ToUpper(strings.TrimSpace(id))
			if !known[id] {
				return cfg, fmt.Errorf("%w: -only: no workload %q", errUsage, id)
			}
			cfg.Only[id] = true
		}
	}
	for _, p := range []*string{&cfg.Osiris, &cfg.Before} {
		if *p == "" || filepath.IsAbs(*p) {
			continue
		}
		// Relative to where the harness was started, like any other path flag.
		abs, err := filepath.Abs(*p)
		if err != nil {
			return cfg, err
		}
		*p = abs
	}
	return cfg, nil
}

// repoRoot walks up from the working directory to the go.mod of osiris.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/osiris-go/osiris\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the harness inside the osiris repository (no go.mod of github.com/osiris-go/osiris above the working directory)")
		}
		dir = parent
	}
}

// runBench does the whole sitting: prerequisites, dataset, workspaces,
// workloads, table on stdout, JSON file. It returns an error only when nothing
// useful could be measured; a workload that fails is a result with an error.
func runBench(ctx context.Context, cfg config, root string, progress progressFunc) ([]result, error) {
	started := time.Now().UTC()
	for _, tool := range []string{"bash", "mysql", "psql", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("the benchmark needs %s on PATH: %w", tool, err)
		}
	}
	timeBin := ""
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		timeBin = "/usr/bin/time"
	} else {
		progress("/usr/bin/time is not installed: pipeline RSS is bash's wait4 Maxrss (largest process, no per-stage split)")
	}

	_, statErr := os.Stat(cfg.Osiris)
	if cfg.Build || errors.Is(statErr, os.ErrNotExist) {
		progress("building %s", cfg.Osiris)
		build := exec.CommandContext(ctx, "go", "build", "-tags", "duckdb_arrow", "-o", cfg.Osiris, "./cmd/osiris")
		build.Dir = root
		if _, err := runProcess(build, "go build ./cmd/osiris"); err != nil {
			return nil, fmt.Errorf("building osiris: %w", err)
		}
	}
	if _, err := os.Stat(cfg.Osiris); err != nil {
		return nil, fmt.Errorf("the osiris binary: %w", err)
	}

	if cfg.Before != "" {
		if _, err := os.Stat(cfg.Before); err != nil {
			return nil, fmt.Errorf("the -before binary: %w", err)
		}
	}

	s := cfg.Servers
	if err := ensureDataset(ctx, s, cfg.SharedDir, cfg.Rows, progress); err != nil {
		return nil, err
	}
	if err := ensurePGDatabase(ctx, s); err != nil {
		return nil, fmt.Errorf("postgres database %s: %w", pgDatabase, err)
	}

	tmp, err := os.MkdirTemp("", "osiris-bench-")
	if err != nil {
		return nil, err
	}
	if cfg.Keep {
		progress("keeping the bench workspaces in %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	ws := map[string]string{}
	for name, budget := range map[string]string{"ws-default": budgetDefault, "ws-budget0": budgetZero, "ws-64mib": budgetSmall} {
		dir := filepath.Join(tmp, name)
		if err := writeWorkspace(dir, budget, s); err != nil {
			return nil, fmt.Errorf("writing workspace %s: %w", dir, err)
		}
		ws[budget] = dir
	}
	if cfg.Only == nil || cfg.Only["W4"] {
		csv := filepath.Join(ws[budgetDefault], filepath.FromSlash(w4CSV))
		progress("exporting bench.movies to %s for W4", csv)
		exportStart := time.Now()
		if err := exportMoviesCSV(ctx, s, csv); err != nil {
			return nil, fmt.Errorf("W4 input: %w", err)
		}
		progress("exported in %.1f s", time.Since(exportStart).Seconds())
		if err := shareFile(csv, filepath.Join(ws[budgetZero], filepath.FromSlash(w4CSV))); err != nil {
			return nil, fmt.Errorf("W4 input: %w", err)
		}
	}

	// Before the jobs are built: it selects the python that runs pandas.
	pandasNote := ""
	if cfg.Only == nil || cfg.Only["W1"] {
		pandasNote = pandasAvailability(ctx)
	}
	b := &bench{
		cfg:        cfg,
		servers:    s,
		progress:   progress,
		jobs:       newJobs(s, cfg.Osiris, ws, timeBin, tmp),
		wsDefault:  ws[budgetDefault],
		pandasNote: pandasNote,
	}
	if cfg.Before != "" {
		for name, j := range newJobs(s, cfg.Before, ws, timeBin, tmp) {
			if strings.HasPrefix(name, "osiris ") {
				j.name = beforeName(name)
				b.jobs[j.name] = j
			}
		}
	}

	want := expectedRows{movies: cfg.Rows, directors: min(cfg.Rows, directorsRows)}
	if cfg.Only == nil || cfg.Only["W4"] {
		out, err := s.mysqlQuery(ctx, w4GroupsQuery)
		if err != nil {
			return nil, fmt.Errorf("W4's expected rows: %w", err)
		}
		if want.w4Groups, err = strconv.ParseInt(out, 10, 64); err != nil {
			return nil, fmt.Errorf("W4's expected rows: %q is not a count", out)
		}
	}
	setWantRows(b.jobs, want)

	judged := cfg.Rows >= judgedRows
	var results []result
	for _, w := range workloads() {
		if cfg.Only != nil && !cfg.Only[w.ID] {
			continue
		}
		r := result{ID: w.ID, Title: w.Title, Target: w.Target, Unavailable: w.Unavailable}
		if w.Unavailable == "" {
			progress("%s %s", w.ID, w.Title)
			b.pairs = nil
			o, err := w.measure(ctx, b)
			r.outcome = o
			r.BeforeAfter = b.pairs
			if err != nil {
				r.Error = err.Error()
				progress("%s failed: %v", w.ID, err)
			}
		}
		verdict(&r, judged)
		results = append(results, r)
		if ctx.Err() != nil {
			return results, fmt.Errorf("interrupted: %w", ctx.Err())
		}
	}

	table := renderTable(results, cfg.Rows, cfg.Runs)
	fmt.Print(table)
	rep := report{
		StartedAt:  started,
		FinishedAt: time.Now().UTC(),
		BenchRows:  cfg.Rows,
		Runs:       cfg.Runs,
		Judged:     judged,
		Machine:    describeMachine(ctx, s, cfg.Osiris, timeBin),
		Servers:    s,
		Workloads:  results,
		Table:      table,
	}
	path, err := writeReport(cfg.ResultsDir, rep)
	if err != nil {
		return results, fmt.Errorf("writing the results: %w", err)
	}
	progress("results written to %s", path)
	return results, nil
}
