package compile

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// What a run would otherwise break on half-way, or get silently wrong,
// about the files steps write (issue: validate accepts what run then
// breaks on). The paths compared are st.paths, resolved and with symlinks
// followed, so every spelling of one file is that file.

// memoryPath names DuckDB's in-memory database (pkg/component/duckdb).
const memoryPath = ":memory:"

// checkTargets runs the pipeline-wide file checks: one writer per file, a
// DuckDB database path that is a data file or missing, a DuckDB writer into
// memory.
func (v *validator) checkTargets() {
	if v.files() == nil {
		return
	}
	reported := v.checkDatabaseIsNotData()
	v.checkFileContents(reported)
	v.checkDatabasePaths()
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
			if u.glob || u.sql || u.shown == memoryPath || reported[u.at] {
				continue // a file its query reads is data, not its database
			}
			if err := st.spec.CheckFile(u.abs); err != nil {
				v.errorf(u.at, "not-a-database", st.label,
					"point it at a DuckDB database file such as warehouse.duckdb; duckdb.writer creates one that does not exist yet",
					"%s %q %v", u.what, u.shown, err)
			}
		}
	}
}

// checkDatabasePaths refuses a DuckDB step the driver would find no
// database for, and a DuckDB writer into memory (":memory:", or Osiris-
// Python's memory: true): what it writes is gone when the step ends.
// Extractors may query memory (SQL that reads files needs no database). A
// writer through a connection Osiris-Python marks read_only is refused too.
func (v *validator) checkDatabasePaths() {
	for _, st := range v.steps {
		if !isDuckDB(st) || st.node == nil || !contains(st.spec.ReadsPaths, "path") {
			continue
		}
		db := v.databaseOf(st)
		writer := st.spec.Role == component.RoleWrite
		switch {
		case !db.known:
		case db.path == "":
			hint := "add path: <file>.duckdb to the step, or a duckdb connection with a path in osiris.toml"
			if st.connection != "" {
				hint = "give connection " + st.connection + " a path, or the step a path"
			}
			v.errorf(db.at, "no-database", st.label, hint, "%s names no database file (no path in its config or its connection)", st.component)
		case db.path == memoryPath && writer:
			what := fmt.Sprintf("%s %q is", db.what, db.path)
			if db.memoryFlag {
				what = fmt.Sprintf("connection %s (%s) has memory: true,", st.connection, db.where)
			}
			v.errorf(db.at, "memory-writer", st.label, "write into a database file, such as path = \"warehouse.duckdb\"",
				"%s an in-memory database: everything %s writes would be gone when the step ends", what, st.component)
		case writer && db.readOnly:
			v.errorf(db.at, "read-only-database", st.label, "write through another connection, or remove read_only from this one",
				"connection %s (%s) is read_only, and %s writes into its database", st.connection, db.where, st.component)
		}
	}
}

// stepDatabase is a DuckDB step's database as the driver will pick it.
type stepDatabase struct {
	path     string // as written; memoryPath for memory: true
	what     string // names it in messages
	where    string // the connection's file:line
	at       pos
	readOnly bool
	// memoryFlag: memory is from Osiris-Python's memory: true.
	memoryFlag bool
	known      bool // false when it depends on a variable or a broken reference
}

// databaseOf returns a DuckDB step's database: its config's path, else its
// connection's path, else memory when the connection says memory: true.
func (v *validator) databaseOf(st *stepIR) stepDatabase {
	db := stepDatabase{at: st.node.pos(), known: true}
	if ce := st.node.get("config"); ce != nil && ce.val.kind == kindMap {
		db.at = ce.val.pos()
		if pe := ce.val.get("path"); pe != nil {
			db.path, _ = st.effective["path"].(string)
			db.what, db.at, db.known = st.path+".config.path", pe.val.pos(), db.path != ""
			return db
		}
		if c := ce.val.get("connection"); c != nil {
			db.at = c.val.pos()
		}
	}
	if st.connection == "" {
		return db
	}
	family, alias, err := workspace.ParseRef(st.connection)
	fe, okF := v.env.(ConnectionFieldEnv)
	ce, okC := v.env.(ConnectionEnv)
	if err != nil || !okF || !okC {
		db.known = false
		return db
	}
	_, db.where, _ = fe.ConnectionField(family, alias, "path")
	conn, err := ce.ResolveConnection(st.connection, family)
	if err != nil {
		db.known = false // a variable not set here, or a reference reported elsewhere
		return db
	}
	db.what = fmt.Sprintf("path of connection %s (%s)", st.connection, db.where)
	db.path = conn.Get("path")
	if db.path == "" && conn.Get("memory") == "true" {
		db.path, db.memoryFlag = memoryPath, true
	}
	db.readOnly = conn.Get("read_only") == "true"
	return db
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
			if du.glob || du.sql || du.shown == memoryPath {
				continue // a file its query reads is data, not its database
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

// dataUseOf returns a step that reads or writes the file real as data (a
// glob it reads matching it included): a step that is not a DuckDB step, or
// a DuckDB step's query.
func (v *validator) dataUseOf(real string, except *stepIR) (*stepIR, pathUse) {
	for _, st := range v.steps {
		if st == except {
			continue
		}
		for _, u := range st.paths {
			if isDuckDB(st) && !u.sql {
				continue
			}
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
