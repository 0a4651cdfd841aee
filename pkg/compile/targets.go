package compile

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
)

// What a run would otherwise break on half-way, or get silently wrong,
// about the files steps write (issue: validate accepts what run then
// breaks on). The paths compared are st.paths, resolved and with symlinks
// followed, so every spelling of one file is that file.

// memoryPath names DuckDB's in-memory database (pkg/component/duckdb).
const memoryPath = ":memory:"

// checkTargets runs the pipeline-wide file checks: one writer per file, a
// DuckDB database path that is a data file, a DuckDB writer into memory.
func (v *validator) checkTargets() {
	if v.files() == nil {
		return
	}
	reported := v.checkDatabaseIsNotData()
	v.checkFileContents(reported)
	v.checkMemoryWriters()
	v.checkOneWriterPerFile()
}

// isDuckDB: the step's path names a DuckDB database, not a data file.
func isDuckDB(st *stepIR) bool {
	return st.spec != nil && contains(st.spec.Families, "duckdb")
}

// checkFileContents applies the component's CheckFile to the existing files
// a step names (a DuckDB database path that holds a CSV), except where a
// more telling error was reported already.
func (v *validator) checkFileContents(reported map[pos]bool) {
	for _, st := range v.steps {
		if st.spec == nil || st.spec.CheckFile == nil {
			continue
		}
		for _, u := range st.paths {
			if u.glob || u.shown == memoryPath || reported[u.at] {
				continue
			}
			if err := st.spec.CheckFile(u.abs); err != nil {
				v.errorf(u.at, "not-a-database", st.label,
					"point it at a DuckDB database file such as warehouse.duckdb; duckdb.writer creates one that does not exist yet",
					"%s %q %v", u.what, u.shown, err)
			}
		}
	}
}

// checkMemoryWriters refuses a DuckDB writer into ":memory:": what it
// writes is gone when the step ends. Extractors may query memory (SQL that
// reads files needs no database).
func (v *validator) checkMemoryWriters() {
	for _, st := range v.steps {
		if !isDuckDB(st) || st.spec.Role != component.RoleWrite {
			continue
		}
		p, what, at := v.databasePathOf(st)
		if p == memoryPath {
			v.errorf(at, "memory-writer", st.label, "write into a database file, such as path = \"warehouse.duckdb\"",
				"%s %q is an in-memory database: everything %s writes would be gone when the step ends", what, p, st.component)
		}
	}
}

// databasePathOf returns a DuckDB step's database path as written (its
// config's path, else its connection's), what names it and where.
func (v *validator) databasePathOf(st *stepIR) (p, what string, at pos) {
	at = st.node.pos()
	if ce := st.node.get("config"); ce != nil && ce.val.kind == kindMap {
		at = ce.val.pos()
		if pe := ce.val.get("path"); pe != nil {
			s, _ := st.effective["path"].(string)
			return s, st.path + ".config.path", pe.val.pos()
		}
		if c := ce.val.get("connection"); c != nil {
			at = c.val.pos()
		}
	}
	p, where, ok := v.connectionField(st.connection, "path")
	if !ok {
		return "", "", at
	}
	return p, fmt.Sprintf("path of connection %s (%s)", st.connection, where), at
}

// checkOneWriterPerFile refuses two steps writing one file: they run in
// no set order, so the file holds whichever finished last and changes from
// run to run. Two DuckDB writers may share a database, not a table.
func (v *validator) checkOneWriterPerFile() {
	type writer struct {
		st *stepIR
		u  pathUse
	}
	first := map[string]writer{}
	for _, st := range v.steps {
		if st.spec == nil || st.spec.Role != component.RoleWrite {
			continue
		}
		for _, u := range st.paths {
			if !u.write || u.shown == memoryPath {
				continue
			}
			key := v.files().RealPath(u.abs)
			if isDuckDB(st) {
				table, _ := st.effective["table"].(string)
				key += "\x00" + strings.ToLower(table)
			}
			prev, seen := first[key]
			if !seen {
				first[key] = writer{st, u}
				continue
			}
			if prev.st == st || isDuckDB(prev.st) != isDuckDB(st) {
				continue // a DuckDB database written as a data file: checkWriteTargets
			}
			if isDuckDB(st) {
				table, _ := st.effective["table"].(string)
				v.errorf(u.at, "one-writer-per-file", st.label, "write each step's output to its own table, or merge the steps",
					"%s %q and step %q (%s %q, line %d) both write table %s of one database; they run in no set order, so it would hold whichever ran last",
					u.what, u.shown, prev.st.id, prev.u.what, prev.u.shown, prev.u.at.line, table)
				continue
			}
			v.errorf(u.at, "one-writer-per-file", st.label, "write each step's output to a file of its own",
				"%s %q is the file step %q writes too (%s %q, line %d); they run in no set order, so the file would hold whichever ran last",
				u.what, u.shown, prev.st.id, prev.u.what, prev.u.shown, prev.u.at.line)
		}
	}
}

// checkDatabaseIsNotData refuses a DuckDB database path that another step
// reads or writes as a data file (a CSV a step extracts): DuckDB cannot use
// it as a database, and the writer used to load its rows into memory. It
// returns where it reported.
func (v *validator) checkDatabaseIsNotData() map[pos]bool {
	reported := map[pos]bool{}
	for _, db := range v.steps {
		if !isDuckDB(db) {
			continue
		}
		for _, du := range db.paths {
			if du.glob || du.shown == memoryPath {
				continue
			}
			real := v.files().RealPath(du.abs)
			if other, ou := v.dataUseOf(real, db); other != nil {
				verb := "reads"
				if ou.write {
					verb = "writes"
				}
				reported[du.at] = true
				v.errorf(du.at, "not-a-database", db.label,
					"point the DuckDB step or connection at a database file of its own, such as warehouse.duckdb",
					"%s %q is the data file step %q %s (%s %q, line %d), not a DuckDB database",
					du.what, du.shown, other.id, verb, ou.what, ou.shown, ou.at.line)
			}
		}
	}
	return reported
}

// dataUseOf returns a step that is not a DuckDB step and reads or writes
// the file real (a glob it reads matching it included).
func (v *validator) dataUseOf(real string, except *stepIR) (*stepIR, pathUse) {
	for _, st := range v.steps {
		if st == except || isDuckDB(st) {
			continue
		}
		for _, u := range st.paths {
			if u.glob {
				if ok, _ := filepath.Match(u.abs, real); ok {
					return st, u
				}
				continue
			}
			if v.files().RealPath(u.abs) == real {
				return st, u
			}
		}
	}
	return nil, pathUse{}
}

// slugPattern is what build/ and run_logs/ accept as a folder name (the
// step id rule, which checkWritable and the run directory apply).
var slugPattern = stepIDPattern

// windowsDevices are names Windows reserves in every folder (CON, NUL,
// COM1, …, with any extension): a run folder of that name cannot exist
// there, nor be copied there.
var windowsDevices = regexp.MustCompile(`(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$`)

// checkSlugName refuses a pipeline file whose name makes no valid folder
// name for build/ and run_logs/: the run would fail after validate said
// yes. The hint proposes a name that works.
func (v *validator) checkSlugName() {
	slug := v.slug()
	reason := ""
	switch {
	case len(slug) > 64:
		reason = fmt.Sprintf("is %d characters; the limit is 64", len(slug))
	case !slugPattern.MatchString(slug):
		if bad := notSlugChar.FindAllString(slug, -1); len(bad) > 0 {
			reason = fmt.Sprintf("holds %q; folder names are letters, digits, _ . -", strings.Join(bad, ""))
		} else {
			reason = fmt.Sprintf("starts with %q; it must start with a letter or digit", slug[:1])
		}
	case windowsDevices.MatchString(slug):
		reason = "is a device name Windows reserves"
	default:
		return
	}
	v.errorf(pos{}, "bad-file-name", "", "rename the file, e.g. to "+v.renameHint(slug),
		"the pipeline's folder name under build/ and run_logs/ (%q, from its file name) %s", slug, reason)
}

var notSlugChar = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// renameHint proposes a file name whose slug is valid.
func (v *validator) renameHint(slug string) string {
	base := filepath.Base(filepath.FromSlash(v.file))
	ext := filepath.Ext(base)
	name := strings.TrimSuffix(base, ext)
	prefixLen := len(slug) - len(name) // the sub-folders' part of the slug
	if prefixLen < 0 {
		prefixLen = 0
	}
	good := strings.TrimLeft(notSlugChar.ReplaceAllString(name, "_"), "_.-")
	if windowsDevices.MatchString(good) {
		good = "pipeline_" + good
	}
	if good == "" {
		good = "pipeline"
	}
	if max := 64 - prefixLen; max > 0 && len(good) > max {
		good = good[:max]
	}
	dir := filepath.ToSlash(filepath.Dir(filepath.FromSlash(v.file)))
	if ext == "" {
		ext = ".yaml"
	}
	return fmt.Sprintf("%q", strings.TrimPrefix(dir+"/"+good+ext, "./"))
}
