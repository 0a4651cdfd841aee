package runlog

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/exec"
)

// Detail is one run as `osiris logs show` shows it; its JSON is the
// `logs show --json` schema (pinned by a test: add fields, never rename).
type Detail struct {
	Run
	OsirisVersion string            `json:"osiris_version"`
	Host          string            `json:"host"`
	PID           int               `json:"pid"`
	Error         string            `json:"error"`
	Steps         []exec.StepResult `json:"steps"`
	// LogTail is the failed step's last lines of osiris.log (masked).
	LogTail []string `json:"log_tail"`
	// Compile records: where the manifest went and what validation said.
	ManifestDir string            `json:"manifest_dir,omitempty"`
	Diagnostics []diag.Diagnostic `json:"diagnostics,omitempty"`
}

// LogTailLines is how many lines of osiris.log a failed step shows.
const LogTailLines = 20

// Show reads a run's detail from its directory.
func (s *Store) Show(r Run) (Detail, error) {
	dir := s.Dir(r)
	d := Detail{Run: r, Steps: []exec.StepResult{}, LogTail: []string{}}
	st, err := readStatus(dir)
	if err != nil {
		return d, err
	}
	d.OsirisVersion, d.Host, d.PID = st.OsirisVersion, st.Host, st.PID
	d.Error = s.mask(st.Error)
	if st.Steps != nil {
		d.Steps = st.Steps
	}
	for i := range d.Steps {
		d.Steps[i].Error = s.mask(d.Steps[i].Error)
	}
	if d.ManifestHash == "" {
		d.ManifestHash = st.ManifestHash
	}
	if d.FailedStep == "" {
		d.FailedStep = st.FailedStep
	}
	if d.Status == exec.StatusKilled {
		// Steps still marked running or pending in a killed run never ended.
		for i := range d.Steps {
			if d.Steps[i].Status == exec.StatusPending || d.Steps[i].Status == exec.StatusRunning {
				d.Steps[i].Status = exec.StatusKilled
			}
		}
		if d.Error == "" {
			d.Error = "the run's process ended without recording an outcome (killed, or the machine stopped)"
		}
	}
	if d.Status == exec.StatusFailed {
		d.LogTail = s.logTail(dir, d.FailedStep, LogTailLines)
	}
	d.ManifestDir = st.ManifestDir
	for _, dg := range st.Diagnostics {
		dg.Message, dg.Hint = s.mask(dg.Message), s.mask(dg.Hint)
		d.Diagnostics = append(d.Diagnostics, dg)
	}
	if r.Kind == exec.RecordKindCompile && d.Error == "" && len(d.Diagnostics) > 0 && d.Status == exec.StatusFailed {
		d.Error = d.Diagnostics[0].String()
	}
	return d, nil
}

// logTail returns the last n lines of osiris.log about step (all lines
// when step is ""), masked.
func (s *Store) logTail(dir, step string, n int) []string {
	f, err := os.Open(filepath.Join(dir, "osiris.log"))
	if err != nil {
		return []string{}
	}
	defer f.Close()
	var ring []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	needle := "step=" + step
	for sc.Scan() {
		line := sc.Text()
		if step != "" && !strings.Contains(line, needle+" ") && !strings.HasSuffix(line, needle) {
			continue
		}
		ring = append(ring, s.mask(line))
		if len(ring) > n {
			ring = ring[1:]
		}
	}
	if ring == nil {
		return []string{}
	}
	return ring
}
