package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/goccy/go-yaml"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{4}, 4},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5, 5, 1}, 5},
	}
	for _, tc := range tests {
		in := append([]float64(nil), tc.in...)
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slicesEqual(in, tc.in) {
			t.Errorf("median reordered its input: %v → %v", in, tc.in)
		}
	}
}

func slicesEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSummarize(t *testing.T) {
	got := summarize([]sample{
		{WallSeconds: 3.0, PeakRSSKiB: 1024},
		{WallSeconds: 1.0, PeakRSSKiB: 4096},
		{WallSeconds: 2.0, PeakRSSKiB: 2048},
	})
	want := stats{MedianSeconds: 2, MinSeconds: 1, MaxSeconds: 3, PeakRSSMiB: 4}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if (summarize(nil) != stats{}) {
		t.Errorf("summarize(nil) is not zero")
	}
}

func TestRatioAndJudges(t *testing.T) {
	if ratio(1, 0) != nil {
		t.Error("ratio over 0 must be nil (no baseline)")
	}
	if r := ratio(3, 2); r == nil || *r != 1.5 {
		t.Errorf("ratio(3,2) = %v", r)
	}

	// Spec 07's targets: W1 ≤ 1.05 × client, ≤ 1/5 of pandas' RSS (its
	// speed reported, not judged).
	osiris := stats{MedianSeconds: 1.04, PeakRSSMiB: 100}
	client := stats{MedianSeconds: 1.0}
	pandas := &series{Stats: stats{MedianSeconds: 24, PeakRSSMiB: 2500}}
	tests := []struct {
		name   string
		osiris stats
		pandas *series
		want   []bool
	}{
		{"fast and lean", osiris, pandas, []bool{true, true}},
		{"no pandas", osiris, nil, []bool{true}},
		{"too slow for client", stats{MedianSeconds: 1.06, PeakRSSMiB: 100}, nil, []bool{false}},
		{"slow against pandas is not judged", stats{MedianSeconds: 1.04, PeakRSSMiB: 100}, &series{Stats: stats{MedianSeconds: 2, PeakRSSMiB: 2500}}, []bool{true, true}},
		{"too fat vs pandas", stats{MedianSeconds: 1.04, PeakRSSMiB: 600}, pandas, []bool{true, false}},
	}
	for _, tc := range tests {
		r, checks := judgeW1(tc.osiris, client, tc.pandas)
		if r == nil || *r != tc.osiris.MedianSeconds/client.MedianSeconds {
			t.Errorf("%s: ratio %v", tc.name, r)
		}
		if len(checks) != len(tc.want) {
			t.Fatalf("%s: %d checks, want %d: %+v", tc.name, len(checks), len(tc.want), checks)
		}
		for i, c := range checks {
			if c.OK != tc.want[i] {
				t.Errorf("%s: check %q ok=%v, want %v", tc.name, c.What, c.OK, tc.want[i])
			}
		}
	}

	// W3: ≤ 1.1 × client (1.29 × fails, as it used to pass against 1.3 ×),
	// peak RSS ≤ 1.4 × the 512 MiB budget.
	w3 := []struct {
		wall, rss float64
		want      []bool
	}{
		{1.09, 600, []bool{true, true}},
		{1.29, 600, []bool{false, true}},
		{1.0, 800, []bool{true, false}},
	}
	for _, tc := range w3 {
		_, checks := judgeW3(stats{MedianSeconds: tc.wall, PeakRSSMiB: tc.rss}, client)
		for i, c := range checks {
			if c.OK != tc.want[i] {
				t.Errorf("W3 %v s %v MB: check %q ok=%v, want %v", tc.wall, tc.rss, c.What, c.OK, tc.want[i])
			}
		}
	}
	if got := workloads()[1].Target; got != "≤ 0.8 × raw pipe" {
		t.Errorf("W2 target %q, want spec 07's ≤ 0.8 × raw pipe", got)
	}

	w8 := []struct {
		small, def float64
		want       []bool
	}{
		{150, 400, []bool{true, true}},
		{250, 400, []bool{true, false}},
		{450, 1000, []bool{false, true}},
		{0, 400, []bool{false, true}}, // no figure is no pass
	}
	for _, tc := range w8 {
		_, checks := judgeW8(stats{PeakRSSMiB: tc.small}, stats{PeakRSSMiB: tc.def})
		for i, c := range checks {
			if c.OK != tc.want[i] {
				t.Errorf("W8 %v vs %v: check %q ok=%v, want %v", tc.small, tc.def, c.What, c.OK, tc.want[i])
			}
		}
	}
}

func TestVerdict(t *testing.T) {
	ok, bad := check{"a", true}, check{"b", false}
	tests := []struct {
		name   string
		r      result
		judged bool
		want   string
		would  *bool
	}{
		{"pass", result{outcome: outcome{Checks: []check{ok}}}, true, verdictPass, ptr(true)},
		{"fail", result{outcome: outcome{Checks: []check{ok, bad}}}, true, verdictFail, ptr(false)},
		{"small size", result{outcome: outcome{Checks: []check{ok}}}, false, verdictNotJudged, ptr(true)},
		{"small size failing", result{outcome: outcome{Checks: []check{bad}}}, false, verdictNotJudged, ptr(false)},
		{"no checks never passes", result{}, true, verdictFail, ptr(false)},
		{"error", result{Error: "boom", outcome: outcome{Checks: []check{ok}}}, true, verdictError, nil},
		{"unavailable", result{Unavailable: "later"}, true, verdictNotAvailable, nil},
	}
	for _, tc := range tests {
		r := tc.r
		verdict(&r, tc.judged)
		if r.Verdict != tc.want {
			t.Errorf("%s: verdict %q, want %q", tc.name, r.Verdict, tc.want)
		}
		if (r.WouldPass == nil) != (tc.would == nil) || (r.WouldPass != nil && *r.WouldPass != *tc.would) {
			t.Errorf("%s: would_pass %v, want %v", tc.name, r.WouldPass, tc.would)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestRenderTable(t *testing.T) {
	osiris := &series{Stats: stats{MedianSeconds: 1.5, MinSeconds: 1.25, MaxSeconds: 2, PeakRSSMiB: 123.45}}
	client := &series{Stats: stats{MedianSeconds: 1.2}}
	results := []result{
		{ID: "W1", Title: "extract", Target: "≤ 1.3 × client", outcome: outcome{
			Osiris: osiris, Baseline: client, BaselineLabel: "mysql client", Ratio: ptr(1.25),
			PandasNote: "not installed (no python3)", Checks: []check{{"wall ≤ 1.3 × mysql client", true}}}},
		{ID: "W2", Title: "copy", Target: "≤ 1.25 × raw pipe", Error: "warm-up: osiris W2: exited with 1\n    stderr"},
		{ID: "W6", Title: "remote", Target: "t6", Unavailable: "not built yet"},
		{ID: "W8", Title: "memory", Target: "t8", outcome: outcome{
			Osiris: osiris, Baseline: &series{Stats: stats{PeakRSSMiB: 200}}, BaselineLabel: "W2 peak RSS",
			BaselineRSS: true, Ratio: ptr(0.617), Checks: []check{{"peak RSS ≤ 1/2 of W2's", false}}}},
	}
	for i := range results {
		verdict(&results[i], true)
	}
	got := renderTable(results, 2_000_000, 3)
	for _, want := range []string{
		"| workload | median (s) | min (s) | max (s) | peak RSS (MB) | baseline median | ratio | target | pandas (W1) | result |",
		"| W1 extract | 1.500 | 1.250 | 2.000 | 123.5 | 1.200 s (mysql client) | 1.25× | ≤ 1.3 × client | not installed | pass |",
		"| W2 copy | — | — | — | — | — | — | ≤ 1.25 × raw pipe | — | error |",
		"| W6 remote | — | — | — | — | — | — | t6 | — | not available |",
		"| W8 memory | 1.500 | 1.250 | 2.000 | 123.5 | 200.0 MB (W2 peak RSS) | 0.62× RSS | t8 | — | fail |",
		"- W1 pandas: not installed (no python3)",
		"- W2 error: warm-up: osiris W2: exited with 1 …",
		"- W6 not available: not built yet",
		"- W8 missed: peak RSS ≤ 1/2 of W2's",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("table lacks line\n%s\n--- table:\n%s", want, got)
		}
	}
	if strings.Contains(got, "not judged") {
		t.Errorf("2M rows must be judged:\n%s", got)
	}
	small := renderTable(nil, 50000, 3)
	if !strings.Contains(small, "BENCH_ROWS=50000") || !strings.Contains(small, "not judged") {
		t.Errorf("small-size header should say it is not judged:\n%s", small)
	}
}

func TestParseTimeRSS(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"12884\n", 12884, false},
		{"Command exited with non-zero status 1\n2384\n", 2384, false},
		{"Command terminated by signal 9\n4096", 4096, false},
		{"", 0, true},
		{"\n\n", 0, true},
		{"12.5\n", 0, true},
		{"-5\n", 0, true},
	}
	for _, tc := range tests {
		got, err := parseTimeRSS([]byte(tc.in))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseTimeRSS(%q) = %d, %v; want %d, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestTSVToCSV(t *testing.T) {
	in := "movie_id\ttitle\tbox_office_usd\tcreated_at\n1\tMovie title number 1\t554321.09\t2020-01-01 00:00:01\n13\tMovie title number 13\tNULL\t2020-01-01 00:00:13\n"
	want := "movie_id,title,box_office_usd,created_at\n1,Movie title number 1,554321.09,2020-01-01 00:00:01\n13,Movie title number 13,,2020-01-01 00:00:13\n"
	var out bytes.Buffer
	if err := tsvToCSV(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestShellPipelineScript(t *testing.T) {
	p := shellPipeline{stages: [][]string{{"mysql", "-e", "SELECT 'a' FROM t"}, {"sed", `s/\tNULL\t/\t\\N\t/g`}}, stdout: "/dev/null"}
	want := `set -o pipefail; mysql -e 'SELECT '\''a'\'' FROM t' | sed 's/\tNULL\t/\t\\N\t/g' > /dev/null`
	if got := p.script("", nil); got != want {
		t.Errorf("script:\n got %s\nwant %s", got, want)
	}
	timed := p.script("/usr/bin/time", []string{"/tmp/a.rss", "/tmp/b.rss"})
	if !strings.HasPrefix(timed, "set -o pipefail; /usr/bin/time -f %M -o /tmp/a.rss -- mysql ") ||
		!strings.Contains(timed, "| /usr/bin/time -f %M -o /tmp/b.rss -- sed ") {
		t.Errorf("timed script does not wrap each stage: %s", timed)
	}
	single := shellPipeline{stages: [][]string{{"true"}}}
	if got := single.script("", nil); got != "true" {
		t.Errorf("single stage script = %q", got)
	}
}

// The pipeline's peak RSS must be its largest stage, measured with and
// without /usr/bin/time. The first stage holds ~40 MB in a bash variable.
func TestPipelineJobMeasuresLargestStage(t *testing.T) {
	p := shellPipeline{stages: [][]string{
		{"bash", "-c", `x=$(head -c 40000000 /dev/zero | tr '\0' a); echo ${#x}`},
		{"cat"},
	}, stdout: "/dev/null"}
	timeBins := []string{""}
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		timeBins = append(timeBins, "/usr/bin/time")
	} else {
		t.Log("/usr/bin/time is not installed: only the wait4 fallback is tested")
	}
	for _, tb := range timeBins {
		j := pipelineJob("big", p, tb, t.TempDir())
		s, err := j.run(context.Background())
		if err != nil {
			t.Fatalf("timeBin=%q: %v", tb, err)
		}
		if s.PeakRSSKiB < 35*1024 {
			t.Errorf("timeBin=%q: peak RSS %d KiB, want ≥ 35 MiB", tb, s.PeakRSSKiB)
		}
		if s.WallSeconds <= 0 {
			t.Errorf("timeBin=%q: wall %v", tb, s.WallSeconds)
		}
		if tb != "" {
			if len(s.StageRSSKiB) != 2 || s.StageRSSKiB[0] != s.PeakRSSKiB || s.StageRSSKiB[1] >= s.StageRSSKiB[0] {
				t.Errorf("per-stage RSS %v, peak %d: want the first stage largest", s.StageRSSKiB, s.PeakRSSKiB)
			}
		}
	}
}

func TestFailingCommandsCarryStderrTail(t *testing.T) {
	fake, err := filepath.Abs("testdata/fake-osiris.sh")
	if err != nil {
		t.Fatal(err)
	}
	_, err = osirisJob("osiris bogus", fake, t.TempDir(), "bogus").run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited with 2") || !strings.Contains(err.Error(), "unknown command bogus") {
		t.Errorf("osiris failure error = %v", err)
	}

	p := shellPipeline{stages: [][]string{{"bash", "-c", "echo from-stage-one >&2; exit 3"}, {"cat"}}}
	_, err = pipelineJob("pipe", p, "", t.TempDir()).run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited with 3") || !strings.Contains(err.Error(), "from-stage-one") {
		t.Errorf("pipeline failure (pipefail) error = %v", err)
	}
}

func TestSummaryRows(t *testing.T) {
	if r := summaryRows([]byte(`{"run_dir":"x","status":"succeeded","rows":42}` + "\n")); r == nil || *r != 42 {
		t.Errorf("rows = %v, want 42", r)
	}
	for _, in := range []string{"", "not json", `{"status":"ok"}`} {
		if r := summaryRows([]byte(in)); r != nil {
			t.Errorf("summaryRows(%q) = %d, want nil", in, *r)
		}
	}
}

func TestParseConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := parseConfig(nil, env(nil), "/repo")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rows != 2_000_000 || cfg.Runs != 3 || cfg.Osiris != "/repo/bin/osiris" || cfg.Build ||
		cfg.SharedDir != "/shared" || cfg.ResultsDir != "/repo/bench/results" || cfg.Only != nil {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = parseConfig([]string{"-only", "w1, W5", "-build"}, env(map[string]string{"BENCH_ROWS": "50_000", "BENCH_RUNS": "5", "OSIRIS_SHARED_DIR": "/s"}), "/repo")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rows != 50000 || cfg.Runs != 5 || cfg.SharedDir != "/s" || !cfg.Only["W1"] || !cfg.Only["W5"] || len(cfg.Only) != 2 || !cfg.Build {
		t.Errorf("env and flags: %+v", cfg)
	}
	for _, bad := range []struct {
		args []string
		env  map[string]string
	}{
		{nil, map[string]string{"BENCH_ROWS": "many"}},
		{nil, map[string]string{"BENCH_RUNS": "0"}},
		{[]string{"-only", "W9"}, nil},
		{[]string{"extra"}, nil},
		{[]string{"-runs", "0"}, nil},
	} {
		if _, err := parseConfig(bad.args, env(bad.env), "/repo"); !errors.Is(err, errUsage) {
			t.Errorf("parseConfig(%v, %v) = %v, want a usage error", bad.args, bad.env, err)
		}
	}
}

// The generated workspace must be valid TOML and YAML, and W5 a DAG of 1,000
// steps whose needs point at earlier steps.
func TestWorkspaceFiles(t *testing.T) {
	dir := t.TempDir()
	s := servers{MySQLHost: "127.0.0.1", MySQLPort: 3306, MySQLUser: "root", PGHost: "127.0.0.1", PGPort: 5432, PGUser: "postgres"}
	if err := writeWorkspace(dir, budgetSmall, s); err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Run struct {
			MemoryBudget string `toml:"memory_budget"`
		}
		Connections map[string]map[string]map[string]any
	}
	if _, err := toml.DecodeFile(filepath.Join(dir, "osiris.toml"), &conf); err != nil {
		t.Fatal(err)
	}
	if conf.Run.MemoryBudget != "64MiB" || conf.Connections["mysql"]["bench"]["database"] != "bench" ||
		conf.Connections["postgres"]["bench"]["dsn"] != "postgres://postgres@127.0.0.1:5432/osiris_bench?sslmode=disable" {
		t.Errorf("osiris.toml decoded to %+v", conf)
	}

	type step struct {
		ID     string         `yaml:"id"`
		Needs  []string       `yaml:"needs"`
		Config map[string]any `yaml:"config"`
	}
	type pipeline struct {
		OML   string `yaml:"oml_version"`
		Steps []step `yaml:"steps"`
	}
	for _, f := range []string{w1File, w2File, w3File, w4File, w5File} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		var p pipeline
		if err := yaml.Unmarshal(b, &p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if p.OML != "0.1.0" || len(p.Steps) == 0 {
			t.Errorf("%s: %+v", f, p)
		}
		if f == w1File && p.Steps[0].Config["query"] != w1Query {
			t.Errorf("W1 query did not survive YAML quoting: %v", p.Steps[0].Config["query"])
		}
		if f != w5File {
			continue
		}
		if len(p.Steps) != w5Steps {
			t.Fatalf("W5 has %d steps, want %d", len(p.Steps), w5Steps)
		}
		seen := map[string]bool{}
		for i, st := range p.Steps {
			if seen[st.ID] {
				t.Fatalf("W5 step id %q twice", st.ID)
			}
			if i > 0 && (len(st.Needs) != 1 || !seen[st.Needs[0]]) {
				t.Fatalf("W5 step %s needs %v, not an earlier step", st.ID, st.Needs)
			}
			seen[st.ID] = true
		}
	}
}

// Every osiris run job checks the rows the run reports, in the warm-up and
// in every measured run: a run that exits 0 with wrong rows is no figure.
func TestOsirisJobChecksRows(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "osiris")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$OSIRIS_FAKE_SUMMARY\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		summary string
		want    *int64
		err     string
	}{
		{`{"rows": 5}`, ptr[int64](5), ""},
		{`{"rows": 4}`, ptr[int64](5), "the run reported 4 rows, want 5"},
		{`{"status": "success"}`, ptr[int64](5), "the run reported no row count, want 5 rows"},
		{`{"status": "success"}`, nil, ""},
	} {
		t.Setenv("OSIRIS_FAKE_SUMMARY", tc.summary)
		j := osirisJob("osiris W1", fake, dir, "run", "--json", "w1.yaml")
		j.wantRows = tc.want
		_, err := measure(context.Background(), 2, func(string, ...any) {}, j)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("summary %s, want rows %v: error %v, want %q", tc.summary, tc.want, err, tc.err)
		}
	}
	jobs := map[string]*job{jobW1: {}, jobW3: {}, jobW4: {}, jobW4Budget0: {}, jobW2: {}, jobW8: {}, jobClientW1: {}}
	setWantRows(jobs, expectedRows{movies: 1000, directors: 20, w4Groups: 7})
	for name, want := range map[string]int64{jobW1: 1000, jobW2: 1000, jobW8: 1000, jobW3: 20, jobW4: 7, jobW4Budget0: 7} {
		if got := jobs[name].wantRows; got == nil || *got != want {
			t.Errorf("%s checks rows %v, want %d", name, got, want)
		}
	}
	if jobs[jobClientW1].wantRows != nil {
		t.Errorf("a baseline got a row check")
	}
}

// Each workload measures its baseline again, interleaved with itself — W3
// does not reuse the client series W1 measured earlier in the sitting.
func TestEveryBaselineInterleavedWithItsWorkload(t *testing.T) {
	var order []string
	fake := func(name string) *job {
		return &job{name: name, run: func(context.Context) (sample, error) {
			order = append(order, name)
			return sample{WallSeconds: 1}, nil
		}}
	}
	b := &bench{cfg: config{Runs: 2}, progress: func(string, ...any) {}, jobs: map[string]*job{}}
	for _, n := range []string{jobW1, jobW3, jobClientW1, jobW2, jobW8} {
		b.jobs[n] = fake(n)
	}
	for _, names := range [][]string{{jobW1, jobClientW1}, {jobW3, jobClientW1}, {jobW2}, {jobW8, jobW2}} {
		order = nil
		ss, err := b.run(context.Background(), names...)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for range 3 { // warm-up, then two runs, each job in turn
			want = append(want, names...)
		}
		if !slices.Equal(order, want) {
			t.Errorf("measuring %v ran %v, want %v", names, order, want)
		}
		for i, s := range ss {
			if s.Name != names[i] || len(s.Runs) != 2 {
				t.Errorf("series %d: %s with %d runs", i, s.Name, len(s.Runs))
			}
		}
	}
}

// -before: every osiris job runs with both binaries, the before job just
// ahead of its after job in every round (warm-up included), baselines
// untouched; both series come back as a pair and the table prints them
// with their spread.
func TestBeforeInterleaved(t *testing.T) {
	var order []string
	fake := func(name string, wall float64) *job {
		return &job{name: name, run: func(context.Context) (sample, error) {
			order = append(order, name)
			return sample{WallSeconds: wall, PeakRSSKiB: 1024 * 100}, nil
		}}
	}
	b := &bench{cfg: config{Runs: 2}, progress: func(string, ...any) {}, jobs: map[string]*job{}}
	for _, j := range []*job{fake(jobW2, 1), fake(beforeName(jobW2), 2), fake(jobRawPipe, 1.5)} {
		b.jobs[j.name] = j
	}
	ss, err := b.run(context.Background(), jobW2, jobRawPipe)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{beforeName(jobW2), jobW2, jobRawPipe}
	want = append(append(append([]string{}, want...), want...), want...) // warm-up and 2 rounds
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("order %v, want %v", order, want)
	}
	if len(ss) != 2 || ss[0].Name != jobW2 || ss[1].Name != jobRawPipe {
		t.Fatalf("series %+v", ss)
	}
	if len(b.pairs) != 1 || b.pairs[0].Before.Stats.MedianSeconds != 2 || b.pairs[0].After.Stats.MedianSeconds != 1 {
		t.Fatalf("pairs %+v", b.pairs)
	}
	r := result{ID: "W2", Title: "copy", Target: "t", outcome: outcome{Osiris: ss[0], Checks: []check{{"x", true}}}, BeforeAfter: b.pairs}
	verdict(&r, true)
	got := renderTable([]result{r}, 2_000_000, 2)
	if !strings.Contains(got, "| W2 | osiris W2 | 2.000 (2.000–2.000) | 0 % | 1.000 (1.000–1.000) | 0 % | 0.50× | 100.0 | 100.0 | 1.00× |") {
		t.Errorf("no before/after row in:\n%s", got)
	}

	cfg, err := parseConfig([]string{"-before", "old/osiris"}, func(string) string { return "" }, "/repo")
	if err != nil || !filepath.IsAbs(cfg.Before) || !strings.HasSuffix(cfg.Before, "old/osiris") {
		t.Errorf("-before: %q, %v", cfg.Before, err)
	}
}
