package compile

import (
	"container/heap"
	"fmt"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
)

// checkGraph checks what needs the whole graph: dependencies on steps that
// produce no table, writers' inputs and cycles. Every graph rule the engine
// enforces before a run (pkg/exec prepare) is checked here first, so a
// pipeline that validates never fails to start for its graph.
func (v *validator) checkGraph() {
	for _, st := range v.steps {
		if st.node == nil {
			continue
		}
		for _, n := range st.needs {
			up := v.byID[n]
			if up == nil || producesTable(up) {
				continue
			}
			at, ok := st.needAt[n]
			if !ok {
				at = st.node.pos()
			}
			verb := "needs"
			if contains(st.inputNeeds, n) && !st.hasNeedsKey {
				verb = "takes an input from"
			}
			v.errorf(at, "needs-writer", st.label,
				"a writer's output is a file or a database table, not a table for another step; depend on the step it writes from",
				"%s %q, a write step that produces no table", verb, n)
		}
	}
	for _, st := range v.steps {
		if st.node == nil || st.spec == nil || st.spec.Role != component.RoleWrite {
			continue
		}
		if len(st.needs) != 1 && !(len(st.needs) == 0 && st.badNeeds > 0) {
			at := st.node.pos()
			if st.hasNeedsKey {
				at = st.needsPos
			}
			what := "none"
			if len(st.needs) > 1 {
				what = strings.Join(st.needs, ", ")
			}
			v.errorf(at, "writer-inputs", st.label, "a writer writes the output of exactly one upstream step; list it in needs",
				"%s writes one upstream step's output; this step has %s", st.component, what)
		}
	}
	if _, rest := v.topoOrder(); len(rest) > 0 {
		v.reportCycles(rest)
	}
}

// graphSteps are the steps that take part in the graph, in declaration order.
func (v *validator) graphSteps() []*stepIR {
	var out []*stepIR
	for _, st := range v.steps {
		if st.idOK {
			out = append(out, st)
		}
	}
	return out
}

// topoOrder is Kahn's algorithm with ties broken by declaration order. It
// returns the ordered steps and those left on cycles (or behind them).
func (v *validator) topoOrder() (order []*stepIR, rest []*stepIR) {
	steps := v.graphSteps()
	indeg := map[string]int{}
	consumers := map[string][]*stepIR{}
	for _, st := range steps {
		indeg[st.id] += 0
		for _, n := range st.needs {
			indeg[st.id]++
			consumers[n] = append(consumers[n], st)
		}
	}
	ready := &stepHeap{}
	for _, st := range steps {
		if indeg[st.id] == 0 {
			heap.Push(ready, st)
		}
	}
	for ready.Len() > 0 {
		st := heap.Pop(ready).(*stepIR)
		order = append(order, st)
		for _, c := range consumers[st.id] {
			indeg[c.id]--
			if indeg[c.id] == 0 {
				heap.Push(ready, c)
			}
		}
	}
	if len(order) < len(steps) {
		for _, st := range steps {
			if indeg[st.id] > 0 {
				rest = append(rest, st)
			}
		}
	}
	return order, rest
}

type stepHeap []*stepIR

func (h stepHeap) Len() int           { return len(h) }
func (h stepHeap) Less(i, j int) bool { return h[i].idx < h[j].idx }
func (h stepHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *stepHeap) Push(x any)        { *h = append(*h, x.(*stepIR)) }
func (h *stepHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// reportCycles names each cycle among the stuck steps once, as
// a → b → c → a, starting at the cycle's first declared step. Steps that
// only wait on a cycle are not reported: the cycle is the problem.
func (v *validator) reportCycles(stuck []*stepIR) {
	inStuck := map[string]bool{}
	for _, st := range stuck {
		inStuck[st.id] = true
	}
	reported := map[string]bool{}
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(id string)
	visit = func(id string) {
		state[id] = onPath
		path = append(path, id)
		for _, n := range v.byID[id].needs {
			if !inStuck[n] {
				continue
			}
			switch state[n] {
			case unvisited:
				visit(n)
			case onPath:
				var cycle []string
				for i := len(path) - 1; i >= 0; i-- {
					cycle = append(cycle, path[i])
					if path[i] == n {
						break
					}
				}
				v.reportCycle(cycle, reported)
			}
		}
		path = path[:len(path)-1]
		state[id] = done
	}
	for _, st := range stuck {
		if state[st.id] == unvisited {
			visit(st.id)
		}
	}
}

// reportCycle reports a cycle given in data-flow order (each step feeds
// the next, the last feeds the first), starting at its first declared step.
func (v *validator) reportCycle(flow []string, reported map[string]bool) {
	start := 0
	for i, id := range flow {
		if v.byID[id].idx < v.byID[flow[start]].idx {
			start = i
		}
	}
	flow = append(flow[start:], flow[:start]...)
	key := strings.Join(flow, "\x00")
	if reported[key] {
		return
	}
	reported[key] = true
	first := v.byID[flow[0]]
	at := first.node.pos()
	if first.hasNeedsKey {
		at = first.needsPos
	}
	v.errorf(at, "cycle", first.label, "remove one of these needs or inputs",
		"dependency cycle: %s → %s", strings.Join(flow, " → "), flow[0])
}

// order returns the graph steps in manifest order; call only without errors.
func (v *validator) order() ([]*stepIR, error) {
	order, rest := v.topoOrder()
	if len(rest) > 0 {
		return nil, fmt.Errorf("dependency cycle among %d steps", len(rest))
	}
	return order, nil
}
