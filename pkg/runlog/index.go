package runlog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/exec"
)

// indexFile is what reading runs.jsonl found.
type indexFile struct {
	runs    []exec.IndexedRun // start order, start and end lines merged
	header  bool
	problem string // why the index cannot be trusted ("" = it can)
}

// readIndexFile parses the index. A last line without its newline is an
// append in progress and is ignored; any other line that does not parse is
// damage.
func readIndexFile(path string) (indexFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return indexFile{problem: "missing"}, nil
	}
	if err != nil {
		return indexFile{}, fmt.Errorf("run index: %w", err)
	}
	var ix indexFile
	pos := map[string]int{}
	in := interned{}
	lineNo := 0
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			break // an append in progress
		}
		line := b[:nl]
		b = b[nl+1:]
		lineNo++
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l exec.IndexedRun
		if err := parseIndexLine(line, &l, in); err != nil {
			if ix.problem == "" {
				ix.problem = fmt.Sprintf("damaged (line %d does not parse)", lineNo)
			}
			continue
		}
		if l.Kind == "header" {
			if lineNo == 1 {
				ix.header = true
			}
			continue
		}
		if l.RunID == "" || (l.Kind != "start" && l.Kind != "end") {
			if ix.problem == "" {
				ix.problem = fmt.Sprintf("damaged (line %d is not a run line)", lineNo)
			}
			continue
		}
		i, seen := pos[l.RunID]
		if !seen {
			if l.Kind == "end" {
				if ix.problem == "" {
					ix.problem = fmt.Sprintf("damaged (line %d ends run %s, which never started)", lineNo, l.RunID)
				}
				continue
			}
			pos[l.RunID] = len(ix.runs)
			ix.runs = append(ix.runs, exec.IndexedRun{RunID: l.RunID})
			i = len(ix.runs) - 1
		}
		r := &ix.runs[i]
		switch l.Kind {
		case "start":
			r.Format, r.Record = l.Format, l.Record
			r.Pipeline, r.Slug, r.Profile, r.ManifestHash = l.Pipeline, l.Slug, l.Profile, l.ManifestHash
			r.Started, r.Where, r.RunDir = l.Started, l.Where, l.RunDir
		case "end":
			r.Status, r.Ended, r.DurationMs, r.Rows, r.FailedStep = l.Status, l.Ended, l.DurationMs, l.Rows, l.FailedStep
		}
	}
	for i := range ix.runs {
		if ix.runs[i].Record == "" {
			ix.runs[i].Record = exec.RecordKindRun
		}
	}
	return ix, nil
}

// restarted: an index without a header grew from nothing by appends (a
// first run, or the index was deleted and a run came after).
const restarted = "started afresh without the earlier runs"

// Notice says what the store did on the side (e.g. rebuilt the index); the
// CLI prints it on stderr.
type Notice string

// loadIndex returns the index's runs, rebuilding the index from the run
// directories when it is missing, damaged, or was restarted from nothing.
func (s *Store) loadIndex() ([]exec.IndexedRun, Notice, error) {
	ix, err := readIndexFile(exec.IndexPath(s.StateDir))
	if err != nil {
		return nil, "", err
	}
	if ix.problem == "" && !ix.header {
		ix.problem = restarted
	}
	if ix.problem == "" {
		return ix.runs, "", nil
	}
	runs, unreadable, err := s.rebuild()
	if err != nil {
		return nil, "", err
	}
	var skipped string
	if len(unreadable) > 0 {
		skipped = fmt.Sprintf("; left out %d run %s that cannot be read: %s", len(unreadable),
			map[bool]string{true: "directory", false: "directories"}[len(unreadable) == 1], strings.Join(firstN(unreadable, 5), "; "))
	}
	if ix.problem == restarted {
		// A first index, or one deleted and restarted: checked once, quietly
		// unless the run directories knew more than the index did.
		if len(runs) == len(ix.runs) && skipped == "" {
			return runs, "", nil
		}
	}
	return runs, Notice(fmt.Sprintf("the run index %s was %s; rebuilt it from %d run directories%s",
		relOrAbs(s.Root, exec.IndexPath(s.StateDir)), ix.problem, len(runs), skipped)), nil
}

func firstN(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(append([]string{}, list[:n]...), fmt.Sprintf("… %d more", len(list)-n))
}

// Rebuild writes the index afresh from the run directories under run_logs
// (their status.json, else their events), under the index lock, and
// returns its runs in start order.
func (s *Store) Rebuild() ([]exec.IndexedRun, error) {
	runs, _, err := s.rebuild()
	return runs, err
}

// rebuild is Rebuild, also returning the run directories it could not
// read ("<dir>: why"), which the index leaves out.
func (s *Store) rebuild() ([]exec.IndexedRun, []string, error) {
	unlock, err := exec.LockIndex(s.StateDir)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	runs, unreadable, err := s.scanRunDirs()
	if err != nil {
		return nil, nil, err
	}
	// A live run whose status.json is final may not have appended its end
	// line yet (status.json is written first). It appends it after this
	// rewrite (the lock orders the two), so the rewrite must not write one
	// too — unless the old index already holds it.
	prev, _ := exec.ReadIndex(s.StateDir)
	ended := map[string]bool{}
	for _, p := range prev {
		if p.Status != exec.StatusIncomplete {
			ended[p.RunID] = true
		}
	}
	for i := range runs {
		r := &runs[i]
		dir := filepath.FromSlash(r.RunDir)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(s.Root, dir)
		}
		if r.Status != "" && !ended[r.RunID] && exec.RunLive(dir) {
			r.Status, r.Ended, r.DurationMs, r.Rows, r.FailedStep = "", "", 0, 0, ""
		}
	}
	if err := exec.WriteIndex(s.StateDir, "rebuild", runs); err != nil {
		return nil, nil, err
	}
	return runs, unreadable, nil
}

// scanRunDirs reads every run directory run_logs/<profile>/<slug>/<run>.
// Names starting with a dot (a gc's directories set aside) are skipped.
func (s *Store) scanRunDirs() ([]exec.IndexedRun, []string, error) {
	var runs []exec.IndexedRun
	var unreadable []string
	profiles, err := readDirNames(s.RunLogsDir)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range profiles {
		slugs, err := readDirNames(filepath.Join(s.RunLogsDir, p))
		if err != nil {
			return nil, nil, err
		}
		for _, sl := range slugs {
			names, err := readDirNames(filepath.Join(s.RunLogsDir, p, sl))
			if err != nil {
				return nil, nil, err
			}
			for _, n := range names {
				dir := filepath.Join(s.RunLogsDir, p, sl, n)
				r, err := s.readRecord(dir)
				if err != nil {
					unreadable = append(unreadable, relOrAbs(s.Root, dir)+": "+strings.TrimPrefix(err.Error(), dir+": "))
					continue
				}
				runs = append(runs, r)
			}
		}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if runs[i].Started != runs[j].Started {
			return runs[i].Started < runs[j].Started
		}
		return runs[i].RunID < runs[j].RunID
	})
	return runs, unreadable, nil
}

// readDirNames lists the directories of dir that are not hidden; a
// missing dir is empty.
func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// recordFromDir reads one run directory back into an index entry.
func (s *Store) recordFromDir(dir string) (exec.IndexedRun, bool) {
	r, err := s.readRecord(dir)
	return r, err == nil
}

func (s *Store) readRecord(dir string) (exec.IndexedRun, error) {
	st, err := readStatus(dir)
	if err != nil {
		return exec.IndexedRun{}, err
	}
	r := exec.IndexedRun{
		Format: st.Format, Record: st.Kind, RunID: st.RunID, Pipeline: st.Pipeline, Slug: st.Slug,
		Profile: st.Profile, ManifestHash: st.ManifestHash, Started: st.Started, Where: st.Where,
		RunDir: relOrAbs(s.Root, dir),
		Status: st.Status, Ended: st.Ended, DurationMs: st.DurationMs, Rows: st.RowsTotal, FailedStep: st.FailedStep,
	}
	if r.Record == "" {
		r.Record = exec.RecordKindRun
	}
	if r.Slug == "" {
		r.Slug = filepath.Base(filepath.Dir(dir))
	}
	if r.Profile == "" {
		r.Profile = filepath.Base(filepath.Dir(filepath.Dir(dir)))
	}
	if r.Status == exec.StatusRunning {
		r.Status, r.Ended, r.DurationMs, r.Rows = "", "", 0, 0
	}
	if r.RunID == "" {
		return r, fmt.Errorf("%s: status.json has no run id", dir)
	}
	return r, nil
}

func relOrAbs(root, p string) string {
	if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(p)
}
