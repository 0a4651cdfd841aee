package runlog

import (
	"fmt"

	"github.com/osiris-go/osiris/pkg/exec"
)

// dagSVG is the run's DAG laid out for an inline SVG: steps in columns by
// depth (longest chain of needs), in manifest order within a column.
type dagSVG struct {
	Width, Height int
	Nodes         []dagNode
	Edges         []string // SVG path data
}

type dagNode struct {
	ID, Component, Status string
	Label, Sub            string
	X, Y, W, H            int
}

const (
	nodeW, nodeH   = 200, 48
	colGap, rowGap = 56, 16
	dagPad         = 12
)

func layoutDAG(steps []manifestStep, results []exec.StepResult) dagSVG {
	byID := map[string]exec.StepResult{}
	for _, r := range results {
		byID[r.ID] = r
	}
	depth := map[string]int{}
	var depthOf func(id string, seen map[string]bool) int
	idx := map[string]int{}
	for i, s := range steps {
		idx[s.ID] = i
	}
	depthOf = func(id string, seen map[string]bool) int {
		if d, ok := depth[id]; ok {
			return d
		}
		i, ok := idx[id]
		if !ok || seen[id] {
			return 0
		}
		seen[id] = true
		d := 0
		for _, n := range steps[i].Needs {
			d = max(d, depthOf(n, seen)+1)
		}
		depth[id] = d
		return d
	}
	rows := map[int]int{}
	pos := map[string][2]int{}
	var g dagSVG
	for _, s := range steps {
		d := depthOf(s.ID, map[string]bool{})
		r := rows[d]
		rows[d]++
		x, y := dagPad+d*(nodeW+colGap), dagPad+r*(nodeH+rowGap)
		pos[s.ID] = [2]int{x, y}
		res := byID[s.ID]
		st := res.Status
		if st == "" {
			st = exec.StatusPending
		}
		sub := st
		if st == exec.StatusSuccess {
			sub = fmt.Sprintf("%d rows · %s", res.RowsOut, fmtDuration(res.DurationMs))
		} else if res.DurationMs > 0 {
			sub = fmt.Sprintf("%s · %s", st, fmtDuration(res.DurationMs))
		}
		g.Nodes = append(g.Nodes, dagNode{ID: s.ID, Component: s.Component, Status: st, Label: clip(s.ID, 26), Sub: sub, X: x, Y: y, W: nodeW, H: nodeH})
		g.Width = max(g.Width, x+nodeW+dagPad)
		g.Height = max(g.Height, y+nodeH+dagPad)
	}
	for _, s := range steps {
		to := pos[s.ID]
		for _, n := range s.Needs {
			from, ok := pos[n]
			if !ok {
				continue
			}
			x1, y1 := from[0]+nodeW, from[1]+nodeH/2
			x2, y2 := to[0], to[1]+nodeH/2
			mx := (x1 + x2) / 2
			g.Edges = append(g.Edges, fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mx, y1, mx, y2, x2-6, y2))
		}
	}
	return g
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// timelineSVG is a Gantt chart of the steps: one bar per step from its
// start to its end, on the run's time axis.
type timelineSVG struct {
	Width, Height int
	Bars          []timelineBar
	Ticks         []timelineTick
	AxisY         int
}

type timelineBar struct {
	Step, Status, Title string
	Y                   int
	X, W                float64
	LabelY              int
}

type timelineTick struct {
	X     float64
	Label string
}

const (
	tlLabelW = 190
	tlChartW = 720
	tlRowH   = 22
)

func layoutTimeline(d Detail) timelineSVG {
	t0 := parseTS(d.Started)
	total := float64(max(d.DurationMs, 1))
	for _, s := range d.Steps {
		if s.Ended != nil && !t0.IsZero() {
			total = max(total, float64(s.Ended.Sub(t0).Milliseconds()))
		}
	}
	tl := timelineSVG{Width: tlLabelW + tlChartW + 20}
	y := 8
	for _, s := range d.Steps {
		b := timelineBar{Step: clip(s.ID, 28), Status: s.Status, Y: y, LabelY: y + 14}
		if s.Started != nil && !t0.IsZero() {
			start := float64(s.Started.Sub(t0).Milliseconds())
			b.X = tlLabelW + start/total*tlChartW
			b.W = max(2, float64(s.DurationMs)/total*tlChartW)
			b.Title = fmt.Sprintf("%s: %s, starts at +%s, takes %s", s.ID, s.Status, fmtDuration(int64(start)), fmtDuration(s.DurationMs))
			// Streaming: the bar overlaps its upstream's; say why.
			for _, in := range s.Inputs {
				if in.Source == exec.SourceStream {
					b.Title += fmt.Sprintf(", reads %s as it runs (stream)", in.Step)
				}
			}
		} else {
			b.X, b.W = tlLabelW, 0
			b.Title = fmt.Sprintf("%s: %s (did not run)", s.ID, s.Status)
		}
		tl.Bars = append(tl.Bars, b)
		y += tlRowH
	}
	tl.AxisY = y + 4
	for i := 0; i <= 4; i++ {
		tl.Ticks = append(tl.Ticks, timelineTick{X: tlLabelW + float64(i)*tlChartW/4, Label: fmtDuration(int64(total * float64(i) / 4))})
	}
	tl.Height = y + 26
	return tl
}
