package main

import (
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// W7's pipeline is W3's, writing its own table, with the edit number in the
// aggregate, so every edit changes the query and its output.
func TestW7Pipeline(t *testing.T) {
	var p struct {
		Name  string `yaml:"name"`
		Steps []struct {
			ID     string         `yaml:"id"`
			Config map[string]any `yaml:"config"`
		} `yaml:"steps"`
	}
	if err := yaml.Unmarshal([]byte(w7Pipeline(3)), &p); err != nil {
		t.Fatal(err)
	}
	if p.Name != "w7-watch" || len(p.Steps) != 3 {
		t.Fatalf("W7 pipeline: %+v", p)
	}
	if q := p.Steps[1].Config["query"]; q != w7Aggregate(3) || !strings.Contains(q.(string), "COUNT(*) + 3") {
		t.Errorf("W7 aggregate: %v", q)
	}
	if p.Steps[2].Config["table"] != w7Table || p.Steps[0].Config["query"] != w1Query {
		t.Errorf("W7 writes %v from %v", p.Steps[2].Config["table"], p.Steps[0].Config["query"])
	}
	if w7Pipeline(1) == w7Pipeline(2) {
		t.Error("two edits give the same pipeline")
	}
}

func TestJudgeW7(t *testing.T) {
	for _, tc := range []struct {
		rerun, full, latency float64
		ok                   []bool
	}{
		{1, 10, 12, []bool{true, true}},
		{3, 10, 12, []bool{false, true}},
		{1, 10, 60, []bool{true, false}},
		{1, 0, 0, []bool{false, false}},
	} {
		_, checks := judgeW7(stats{MedianSeconds: tc.rerun}, stats{MedianSeconds: tc.full}, tc.latency)
		for i, c := range checks {
			if c.OK != tc.ok[i] {
				t.Errorf("rerun %v full %v latency %v: check %q = %v", tc.rerun, tc.full, tc.latency, c.What, c.OK)
			}
		}
	}
}
