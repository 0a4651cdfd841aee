package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

// QueryIO is what DuckDB's own parser says a query touches: the literal
// paths it reads, and why its reads or its result cannot be known from its
// text and its inputs alone.
type QueryIO struct {
	// Reads are the paths and globs of read_csv(…), read_parquet(…), glob(…)
	// and the other file functions, and of replacement scans (FROM
	// 'data/x.csv'), as written.
	Reads []string
	// ReadsUnknown says why the files read cannot be known before the query
	// runs (a path built at run time); "" when they can.
	ReadsUnknown string
	// NonDeterministic says why two runs over the same files may differ
	// (now(), random(), USING SAMPLE without a seed); "" when they cannot.
	NonDeterministic string
}

// NotSelectError is a query that is not made of SELECT statements: COPY …
// TO, EXPORT DATABASE, CREATE, INSERT, ATTACH, SET, PRAGMA, INSTALL/LOAD.
// SQL in a pipeline reads; files and tables are written by writer steps.
type NotSelectError struct {
	First string // the query's first word, for the message
}

func (e *NotSelectError) Error() string {
	what := "it"
	if e.First != "" {
		what = strings.ToUpper(e.First)
	}
	return fmt.Sprintf("the query is not a SELECT (%s): SQL in a pipeline only reads — "+
		"COPY … TO, EXPORT DATABASE, CREATE, INSERT, ATTACH, SET and PRAGMA are refused; "+
		"write files with a filesystem.csv_writer step and tables with a duckdb.writer step, "+
		"and name intermediate results with WITH x AS (…)", what)
}

// parseDB is the in-memory database that parses queries (it never runs
// one, and cannot touch a file).
var parseDB = sync.OnceValues(func() (*sql.DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec("SET enable_external_access = false"); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
})

// parseStmt is json_serialize_sql prepared once: preparing it again for
// every query cost as much as the parse itself (a 1,000-step pipeline's
// validate).
var parseStmt = sync.OnceValues(func() (*sql.Stmt, error) {
	db, err := parseDB()
	if err != nil {
		return nil, err
	}
	return db.Prepare("SELECT json_serialize_sql(?::VARCHAR)::VARCHAR")
})

type analysis struct {
	io  QueryIO
	err error
}

// parseCache remembers analyses by query text: the validator, the engine
// and remote sync ask about the same queries many times.
var parseCache = struct {
	sync.Mutex
	m map[string]analysis
}{m: map[string]analysis{}}

const parseCacheMax = 4096

// AnalyzeQuery parses query with DuckDB (json_serialize_sql) and returns
// what it reads. A query that is not made of SELECT statements gives a
// *NotSelectError. A query that does not parse gives ReadsUnknown (DuckDB
// reports the syntax error when the step runs).
func AnalyzeQuery(query string) (QueryIO, error) {
	parseCache.Lock()
	a, ok := parseCache.m[query]
	parseCache.Unlock()
	if ok {
		return a.io, a.err
	}
	io, err := analyzeQuery(query, 0)
	if isInternal(err) {
		return io, err // not remembered: the next call may succeed
	}
	parseCache.Lock()
	if len(parseCache.m) >= parseCacheMax {
		clear(parseCache.m)
	}
	parseCache.m[query] = analysis{io, err}
	parseCache.Unlock()
	return io, err
}

type internalError struct{ error }

func isInternal(err error) bool {
	_, ok := err.(internalError)
	return ok
}

// maxQueryDepth bounds query('…') inside query('…').
const maxQueryDepth = 8

func analyzeQuery(query string, depth int) (QueryIO, error) {
	stmt, err := parseStmt()
	if err != nil {
		return QueryIO{}, internalError{fmt.Errorf("duckdb parser: %w", err)}
	}
	var text string
	if err := stmt.QueryRowContext(context.Background(), query).Scan(&text); err != nil {
		return QueryIO{}, internalError{fmt.Errorf("duckdb parser: %w", err)}
	}
	var doc struct {
		Error        bool   `json:"error"`
		ErrorType    string `json:"error_type"`
		ErrorMessage string `json:"error_message"`
		Statements   []any  `json:"statements"`
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return QueryIO{}, internalError{fmt.Errorf("duckdb parser: %w", err)}
	}
	if doc.Error {
		if doc.ErrorType == "not implemented" {
			first := ""
			if f := strings.Fields(query); len(f) > 0 {
				first = strings.Trim(f[0], "(;")
			}
			return QueryIO{}, &NotSelectError{First: first}
		}
		return QueryIO{ReadsUnknown: "the query does not parse (" + doc.ErrorMessage + ")"}, nil
	}
	w := &walker{query: query, depth: depth, seen: map[string]bool{}}
	for _, st := range doc.Statements {
		w.walk(st)
	}
	if w.err != nil {
		return QueryIO{}, w.err
	}
	sort.Strings(w.io.Reads) // the parse tree's maps have no order
	return w.io, nil
}

// fileFunctions are DuckDB functions whose first argument names the files
// they read. Any other function named read_* or *_scan counts as well.
var fileFunctions = map[string]bool{
	"glob": true, "sniff_csv": true,
	"parquet_metadata": true, "parquet_schema": true, "parquet_file_metadata": true,
	"parquet_kv_metadata": true, "parquet_bloom_probe": true,
}

func isFileFunction(name string) bool {
	return fileFunctions[name] || strings.HasPrefix(name, "read_") || strings.HasSuffix(name, "_scan")
}

// nonDeterministic are functions whose result is not a function of their
// arguments. Column references current_date, current_timestamp and the like
// are the SQL keywords (DuckDB parses them as columns).
var nonDeterministic = map[string]bool{
	"now": true, "get_current_timestamp": true, "current_timestamp": true, "transaction_timestamp": true,
	"statement_timestamp": true, "current_date": true, "current_time": true, "get_current_time": true,
	"today": true, "localtimestamp": true, "localtime": true, "current_localtimestamp": true,
	"current_localtime": true, "random": true, "uuid": true, "gen_random_uuid": true, "uuidv4": true,
	"uuidv7": true, "setseed": true, "nextval": true, "currval": true, "current_query": true,
}

// replacementExtensions are the file endings DuckDB's replacement scans
// read as a table (FROM 'x.csv'), after a .gz or .zst.
var replacementExtensions = []string{".csv", ".tsv", ".parquet", ".json", ".jsonl", ".ndjson"}

type walker struct {
	query string
	depth int
	io    QueryIO
	seen  map[string]bool
	err   error
}

func (w *walker) addRead(p string) {
	if !w.seen[p] {
		w.seen[p] = true
		w.io.Reads = append(w.io.Reads, p)
	}
}

// at names a parser offset as line:col of the query.
func (w *walker) at(node map[string]any) string {
	off, ok := node["query_location"].(float64)
	if !ok || off < 0 || int(off) > len(w.query) {
		return ""
	}
	before := w.query[:int(off)]
	line := strings.Count(before, "\n") + 1
	col := int(off) - strings.LastIndexByte(before, '\n')
	return fmt.Sprintf(" at line %d, column %d of the query", line, col)
}

func (w *walker) unknown(format string, args ...any) {
	if w.io.ReadsUnknown == "" {
		w.io.ReadsUnknown = fmt.Sprintf(format, args...)
	}
}

func (w *walker) nonDet(format string, args ...any) {
	if w.io.NonDeterministic == "" {
		w.io.NonDeterministic = fmt.Sprintf(format, args...)
	}
}

func (w *walker) walk(v any) {
	switch n := v.(type) {
	case []any:
		for _, x := range n {
			w.walk(x)
		}
	case map[string]any:
		w.node(n)
		for _, x := range n {
			w.walk(x)
		}
	}
}

func (w *walker) node(n map[string]any) {
	switch {
	case n["class"] == "FUNCTION":
		name := strings.ToLower(fmt.Sprint(n["function_name"]))
		args, _ := n["children"].([]any)
		switch {
		case nonDeterministic[name]:
			w.nonDet("%s()%s gives a different value on every run", name, w.at(n))
		case name == "query" || name == "query_table":
			w.nested(name, n, args)
		case isFileFunction(name):
			w.fileArg(name, n, args)
		}
	case n["class"] == "COLUMN_REF":
		if cols, _ := n["column_names"].([]any); len(cols) == 1 {
			if name := strings.ToLower(fmt.Sprint(cols[0])); nonDeterministic[name] {
				w.nonDet("%s%s gives a different value on every run", name, w.at(n))
			}
		}
	case n["type"] == "BASE_TABLE":
		if n["schema_name"] == "" && n["catalog_name"] == "" {
			if name, _ := n["table_name"].(string); looksLikeFile(name) {
				w.addRead(name)
			}
		}
	}
	if s, ok := n["sample"].(map[string]any); ok {
		if seed, _ := s["seed"].(float64); seed < 0 {
			w.nonDet("USING SAMPLE without a seed%s picks other rows on every run (add REPEATABLE (seed))", w.at(n))
		}
	}
}

func looksLikeFile(name string) bool {
	l := strings.ToLower(name)
	l = strings.TrimSuffix(strings.TrimSuffix(l, ".gz"), ".zst")
	for _, ext := range replacementExtensions {
		if strings.HasSuffix(l, ext) {
			return true
		}
	}
	return false
}

// fileArg records the first argument of a file function: a string, or a
// list of strings; anything else is built at run time.
func (w *walker) fileArg(name string, n map[string]any, args []any) {
	if len(args) == 0 {
		return
	}
	paths, ok := literalStrings(args[0])
	if !ok {
		w.unknown("%s()%s reads a path built at run time", name, w.at(n))
		return
	}
	for _, p := range paths {
		w.addRead(p)
	}
}

// nested analyses the SQL text of query('…'), and query_table('t')'s
// names as tables.
func (w *walker) nested(name string, n map[string]any, args []any) {
	if len(args) == 0 {
		return
	}
	texts, ok := literalStrings(args[0])
	if !ok {
		w.unknown("%s()%s runs SQL built at run time", name, w.at(n))
		return
	}
	for _, t := range texts {
		if name == "query_table" {
			if looksLikeFile(t) {
				w.addRead(t)
			}
			continue
		}
		if w.depth >= maxQueryDepth {
			w.unknown("query()%s is nested too deeply", w.at(n))
			return
		}
		sub, err := analyzeQuery(t, w.depth+1)
		if err != nil {
			if w.err == nil {
				w.err = err
			}
			return
		}
		for _, p := range sub.Reads {
			w.addRead(p)
		}
		if sub.ReadsUnknown != "" {
			w.unknown("query()%s: %s", w.at(n), sub.ReadsUnknown)
		}
		if sub.NonDeterministic != "" {
			w.nonDet("query()%s: %s", w.at(n), sub.NonDeterministic)
		}
	}
}

// literalStrings returns the text of a VARCHAR constant or of a list of
// them ([…] parses as list_value(…)).
func literalStrings(v any) ([]string, bool) {
	n, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	switch n["class"] {
	case "CONSTANT":
		val, _ := n["value"].(map[string]any)
		if val == nil || val["is_null"] == true {
			return nil, false
		}
		switch x := val["value"].(type) {
		case string:
			return []string{x}, true
		case []any:
			var out []string
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, false
				}
				out = append(out, s)
			}
			return out, true
		}
	case "FUNCTION":
		if strings.ToLower(fmt.Sprint(n["function_name"])) != "list_value" {
			return nil, false
		}
		var out []string
		args, _ := n["children"].([]any)
		for _, a := range args {
			s, ok := literalStrings(a)
			if !ok {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, true
	}
	return nil, false
}

// queryIO is the IO hook of the components with a query: the files the
// query reads join the step's reads. A query that is not a SELECT is an
// error at validate and at run.
func queryIO(cfg component.Config, _ *workspace.Connection, io *component.StepIO) error {
	q := strings.TrimSpace(cfg.String("query"))
	if q == "" {
		return nil
	}
	a, err := AnalyzeQuery(q)
	if err != nil {
		return &component.KeyError{Key: "query", Err: err}
	}
	for _, p := range a.Reads {
		io.AddRead(p, "query")
	}
	if io.ReadsUnknown == "" {
		io.ReadsUnknown = a.ReadsUnknown
	}
	if io.NonDeterministic == "" {
		io.NonDeterministic = a.NonDeterministic
	}
	return nil
}

// checkQuery is the driver's own check before DuckDB sees a query (the
// validator made the same one, unless the manifest was run as it is): a
// query that is not a SELECT is refused, and so is a literal path it
// reads that the workspace rules refuse (.env, osiris.toml, pipelines/, a
// symlink out) — with the path in the message, where DuckDB's confinement
// would only say "Permission Error".
func checkQuery(req *component.Request, query string) error {
	a, err := AnalyzeQuery(query)
	if err != nil {
		return fmt.Errorf("step %q: %w", req.StepID, err)
	}
	if req.Files == nil {
		return nil
	}
	for _, p := range a.Reads {
		if err := req.Files.CheckRead(p); err != nil {
			return fmt.Errorf("step %q: the query reads %w", req.StepID, err)
		}
	}
	return nil
}
