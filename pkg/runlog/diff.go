package runlog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
)

// Diff is what changed from run A to run B (`osiris logs diff A B`, and the
// report's section against the previous run of the same pipeline). Its JSON
// is the `logs diff --json` schema.
type Diff struct {
	A               Run        `json:"a"`
	B               Run        `json:"b"`
	ManifestChanged bool       `json:"manifest_changed"`
	RowsDelta       int64      `json:"rows_delta"`
	Steps           []StepDiff `json:"steps"` // changed steps only, in B's order (then A's removed ones)
	Unchanged       int        `json:"unchanged"`
}

// StepDiff is one step that differs between the runs.
type StepDiff struct {
	Step    string   `json:"step"`
	Changes []string `json:"changes"` // added removed status config rows schema target_schema digest
	StatusA string   `json:"status_a"`
	StatusB string   `json:"status_b"`
	RowsA   int64    `json:"rows_a"`
	RowsB   int64    `json:"rows_b"`
	// RowsDelta is RowsB - RowsA (rows out).
	RowsDelta int64 `json:"rows_delta"`
	// ConfigKeys are the config keys whose values differ.
	ConfigKeys []string `json:"config_keys"`
	// Schema changes of the step's artifact.
	ColumnsAdded   []exec.Column  `json:"columns_added"`
	ColumnsRemoved []exec.Column  `json:"columns_removed"`
	TypesChanged   []ColumnChange `json:"types_changed"`
	DigestA        string         `json:"digest_a"`
	DigestB        string         `json:"digest_b"`
	// TargetSchema is what run B's schema_changed events of the step say
	// a writer changed in its target table (schema_evolution).
	TargetSchema []string `json:"target_schema"`
}

// ColumnChange is a column whose type or nullability changed.
type ColumnChange struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Has reports whether the step changed in the given way.
func (d StepDiff) Has(change string) bool {
	for _, c := range d.Changes {
		if c == change {
			return true
		}
	}
	return false
}

// Previous returns the run of r's pipeline (and profile, and kind) that
// started just before r; ok is false when there is none.
func (s *Store) Previous(r Run) (Run, bool, error) {
	runs, _, err := s.List(Filter{Pipeline: r.Pipeline, Kind: r.Kind})
	if err != nil {
		return Run{}, false, err
	}
	for _, p := range runs {
		if p.RunID != r.RunID && p.Profile == r.Profile && (p.Started < r.Started || (p.Started == r.Started && p.RunID < r.RunID)) {
			return p, true, nil
		}
	}
	return Run{}, false, nil
}

// DiffRuns compares two runs step by step: status, config (cfg/<step>.json),
// rows out, artifact schema and table digest.
func (s *Store) DiffRuns(a, b Run) (Diff, error) {
	if a.Kind == exec.RecordKindCompile || b.Kind == exec.RecordKindCompile {
		return Diff{}, diag.Usage("logs diff compares runs; %s is a compile", map[bool]string{true: a.RunID, false: b.RunID}[a.Kind == exec.RecordKindCompile])
	}
	da, err := s.Show(a)
	if err != nil {
		return Diff{}, err
	}
	db, err := s.Show(b)
	if err != nil {
		return Diff{}, err
	}
	d := Diff{A: a, B: b, ManifestChanged: a.ManifestHash != b.ManifestHash, RowsDelta: b.Rows - a.Rows, Steps: []StepDiff{}}
	stepsA := map[string]exec.StepResult{}
	for _, st := range da.Steps {
		stepsA[st.ID] = st
	}
	seen := map[string]bool{}
	dirA, dirB := s.Dir(a), s.Dir(b)
	targetSchema := map[string][]string{}
	if evs, _, err := s.Events(b, ""); err == nil {
		for _, e := range evs {
			if e.Event == exec.EventSchemaChanged {
				targetSchema[e.Step] = append(targetSchema[e.Step], fmt.Sprintf("%v: %v", e.Fields["table"], e.Fields["summary"]))
			}
		}
	}
	for _, sb := range db.Steps {
		seen[sb.ID] = true
		sa, ok := stepsA[sb.ID]
		sd := StepDiff{Step: sb.ID, StatusB: sb.Status, RowsB: sb.RowsOut, TargetSchema: targetSchema[sb.ID]}
		if !ok {
			sd.Changes = []string{"added"}
			sd.RowsDelta = sb.RowsOut
			sd.DigestB = digestOf(sb)
			d.Steps = append(d.Steps, s.fill(sd))
			continue
		}
		sd.StatusA, sd.RowsA, sd.RowsDelta = sa.Status, sa.RowsOut, sb.RowsOut-sa.RowsOut
		sd.DigestA, sd.DigestB = digestOf(sa), digestOf(sb)
		if sa.Status != sb.Status {
			sd.Changes = append(sd.Changes, "status")
		}
		if keys := configDiff(dirA, dirB, sb.ID); len(keys) > 0 {
			sd.ConfigKeys = keys
			sd.Changes = append(sd.Changes, "config")
		}
		if sd.RowsDelta != 0 {
			sd.Changes = append(sd.Changes, "rows")
		}
		if sa.Artifact != nil && sb.Artifact != nil {
			sd.ColumnsAdded, sd.ColumnsRemoved, sd.TypesChanged = schemaDiff(sa.Artifact.Schema, sb.Artifact.Schema)
			if len(sd.ColumnsAdded)+len(sd.ColumnsRemoved)+len(sd.TypesChanged) > 0 {
				sd.Changes = append(sd.Changes, "schema")
			}
		}
		if len(sd.TargetSchema) > 0 {
			sd.Changes = append(sd.Changes, "target_schema")
		}
		if sd.DigestA != sd.DigestB && sd.DigestA != "" && sd.DigestB != "" {
			sd.Changes = append(sd.Changes, "digest")
		}
		if len(sd.Changes) == 0 {
			d.Unchanged++
			continue
		}
		d.Steps = append(d.Steps, s.fill(sd))
	}
	for _, sa := range da.Steps {
		if !seen[sa.ID] {
			d.Steps = append(d.Steps, s.fill(StepDiff{Step: sa.ID, Changes: []string{"removed"}, StatusA: sa.Status, RowsA: sa.RowsOut, RowsDelta: -sa.RowsOut, DigestA: digestOf(sa)}))
		}
	}
	return d, nil
}

// fill writes empty lists rather than nulls (zeros written, not omitted).
func (s *Store) fill(d StepDiff) StepDiff {
	if d.ConfigKeys == nil {
		d.ConfigKeys = []string{}
	}
	if d.ColumnsAdded == nil {
		d.ColumnsAdded = []exec.Column{}
	}
	if d.ColumnsRemoved == nil {
		d.ColumnsRemoved = []exec.Column{}
	}
	if d.TypesChanged == nil {
		d.TypesChanged = []ColumnChange{}
	}
	if d.TargetSchema == nil {
		d.TargetSchema = []string{}
	}
	return d
}

func digestOf(s exec.StepResult) string {
	if s.Artifact != nil {
		return s.Artifact.TableDigest
	}
	return ""
}

// configDiff returns the top-level keys of cfg/<step>.json that differ.
func configDiff(dirA, dirB, step string) []string {
	read := func(dir string) map[string]any {
		b, err := os.ReadFile(filepath.Join(dir, "cfg", step+".json"))
		if err != nil {
			return nil
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			return map[string]any{"(text)": string(b)}
		}
		return m
	}
	a, b := read(dirA), read(dirB)
	if a == nil || b == nil {
		return nil
	}
	var keys []string
	for k, va := range a {
		if vb, ok := b[k]; !ok || !reflect.DeepEqual(va, vb) {
			keys = append(keys, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func schemaDiff(a, b []exec.Column) (added, removed []exec.Column, changed []ColumnChange) {
	ia := map[string]exec.Column{}
	for _, c := range a {
		ia[c.Name] = c
	}
	ib := map[string]bool{}
	for _, c := range b {
		ib[c.Name] = true
		old, ok := ia[c.Name]
		switch {
		case !ok:
			added = append(added, c)
		case old.Type != c.Type || old.Nullable != c.Nullable:
			changed = append(changed, ColumnChange{Name: c.Name, From: typeText(old), To: typeText(c)})
		}
	}
	for _, c := range a {
		if !ib[c.Name] {
			removed = append(removed, c)
		}
	}
	return added, removed, changed
}

func typeText(c exec.Column) string {
	if c.Nullable {
		return c.Type
	}
	return c.Type + " not null"
}

// Summary is the diff of one step in a line: "rows +12 (40 → 52); schema
// +col x (int64), -col y; config query".
func (d StepDiff) Summary() string {
	out := ""
	add := func(s string) {
		if out != "" {
			out += "; "
		}
		out += s
	}
	for _, c := range d.Changes {
		switch c {
		case "added":
			add(fmt.Sprintf("new step (%d rows)", d.RowsB))
		case "removed":
			add(fmt.Sprintf("step removed (had %d rows)", d.RowsA))
		case "status":
			add(fmt.Sprintf("status %s → %s", d.StatusA, d.StatusB))
		case "config":
			add(fmt.Sprintf("config %v", d.ConfigKeys))
		case "rows":
			add(fmt.Sprintf("rows %+d (%d → %d)", d.RowsDelta, d.RowsA, d.RowsB))
		case "schema":
			s := "schema"
			for _, c := range d.ColumnsAdded {
				s += fmt.Sprintf(" +%s (%s)", c.Name, c.Type)
			}
			for _, c := range d.ColumnsRemoved {
				s += fmt.Sprintf(" -%s (%s)", c.Name, c.Type)
			}
			for _, c := range d.TypesChanged {
				s += fmt.Sprintf(" %s: %s → %s", c.Name, c.From, c.To)
			}
			add(s)
		case "target_schema":
			for _, t := range d.TargetSchema {
				add("schema_changed " + t)
			}
		case "digest":
			add("data changed (table digest)")
		}
	}
	return out
}
