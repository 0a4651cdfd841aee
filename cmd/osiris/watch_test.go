package main

import (
	"strings"
	"testing"
)

func TestWatchPrinterNames(t *testing.T) {
	w := &watchPrinter{root: "/ws", pipelines: "/ws/pipelines"}
	for file, want := range map[string]string{
		"/ws/pipelines/x.yaml":     "x",
		"/ws/pipelines/sub/x.yaml": "sub/x",
		"/ws/pipelines/y.yml":      "y",
		"/ws/other/z.yaml":         "other/z",
	} {
		if got := w.name(file); got != want {
			t.Errorf("name(%s) = %q, want %q", file, got, want)
		}
	}
}

func TestShortWarning(t *testing.T) {
	long := "step cache entry ignored, running the step: cached artifact /ws/run_logs/dev/movies_offline/20261206T124935Z_01M95PE46SXNBH0TC3JX4FBAVD-59effdb/artifacts/extract-movies/output.parquet has SHA-256 sha256:233d4809807d21d1b24ae54639eede42f519dcbe35ca71d51bd051bca59c6a68, the entry says sha256:39a88879d32335354cc031044fe602c13d3789d95c0cee52b41fdf50f389fecc (changed or corrupted)\nsecond line"
	got := shortWarning("/ws", long)
	if n := len([]rune(got)); n > maxWarning {
		t.Errorf("%d characters, want at most %d: %s", n, maxWarning, got)
	}
	for _, want := range []string{"step cache entry ignored", "(changed or corrupted)", "sha256:39a88879d323…"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "/ws/") || strings.Contains(got, "second line") {
		t.Errorf("absolute path or second line kept: %s", got)
	}
	if short := "a short warning about /ws/data/x.csv"; shortWarning("/ws", short) != "a short warning about data/x.csv" {
		t.Errorf("short warning: %q", shortWarning("/ws", short))
	}
}
