package compile

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Limits on pipeline files. They bound the time and memory the parser and
// validator can spend on one file, whatever it contains.
const (
	// MaxFileSize is the largest pipeline file accepted.
	MaxFileSize = 10 << 20
	// maxAliases is the most `*alias` nodes one document may hold; real
	// pipelines use a handful, "billion laughs" needs many.
	maxAliases = 100
	// maxAliasExpansion bounds how many nodes aliases may add when expanded.
	maxAliasExpansion = 100_000
	// maxNesting bounds flow-collection and one-line "- - -" nesting, which
	// would otherwise drive the recursive parser arbitrarily deep.
	maxNesting = 500
)

type nodeKind int

const (
	kindNull nodeKind = iota
	kindScalar
	kindMap
	kindSeq
)

// yNode is a YAML value with the position it was written at. Aliases share
// the anchored node (no copy), so a tree is a DAG whose expanded size was
// checked before anyone expands it.
type yNode struct {
	kind      nodeKind
	line, col int
	// value of a scalar: string, int64, uint64 (above MaxInt64), float64 or bool.
	value any
	// text is a scalar's source text (for "0.1 is a float, quote it").
	text    string
	entries []yEntry // kindMap, in document order, duplicates removed
	items   []*yNode // kindSeq
}

type yEntry struct {
	key       string
	line, col int // of the key
	val       *yNode
}

// get returns the entry for key, or nil.
func (n *yNode) get(key string) *yEntry {
	if n == nil || n.kind != kindMap {
		return nil
	}
	for i := range n.entries {
		if n.entries[i].key == key {
			return &n.entries[i]
		}
	}
	return nil
}

func (n *yNode) str() (string, bool) {
	if n == nil || n.kind != kindScalar {
		return "", false
	}
	s, ok := n.value.(string)
	return s, ok
}

// plain converts the tree to map[string]any / []any / scalars (nil for null).
func (n *yNode) plain() any {
	if n == nil {
		return nil
	}
	switch n.kind {
	case kindScalar:
		return n.value
	case kindMap:
		m := make(map[string]any, len(n.entries))
		for _, e := range n.entries {
			m[e.key] = e.val.plain()
		}
		return m
	case kindSeq:
		s := make([]any, len(n.items))
		for i, it := range n.items {
			s[i] = it.plain()
		}
		return s
	}
	return nil
}

// kindName names a node's type for messages.
func (n *yNode) kindName() string {
	if n == nil {
		return "null"
	}
	switch n.kind {
	case kindMap:
		return "a mapping"
	case kindSeq:
		return "a list"
	case kindNull:
		return "null"
	}
	return valueKindName(n.value)
}

func valueKindName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case int64, uint64, int:
		return "an integer"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%T", x)
	}
}

// rawProblem is a diagnostic found while reading, before steps are known.
type rawProblem struct {
	line, col int
	code      string
	path      string // YAML path where known, e.g. steps[2].config
	message   string
	hint      string
}

// checkSource refuses files that must not reach the parser.
func checkSource(src []byte) *rawProblem {
	if len(src) > MaxFileSize {
		return &rawProblem{code: "file-too-large",
			message: fmt.Sprintf("pipeline file is %s; the limit is %s", humanBytes(int64(len(src))), humanBytes(MaxFileSize)),
			hint:    "a pipeline describes steps; keep data in files the steps read"}
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return &rawProblem{code: "empty-file", message: "pipeline file is empty",
			hint: `start with oml_version: "0.1.0", name and steps`}
	}
	if !utf8.Valid(src) {
		off := invalidUTF8Offset(src)
		line, col := lineCol(src, off)
		return &rawProblem{line: line, col: col, code: "not-utf8",
			message: fmt.Sprintf("byte 0x%02x at offset %d is not valid UTF-8", src[off], off),
			hint:    "save the file as UTF-8"}
	}
	if line, col, ok := findTabIndent(src); ok {
		return &rawProblem{line: line, col: col, code: "tab-indent",
			message: "tab character used for indentation; YAML indents with spaces only",
			hint:    "replace the tabs with spaces"}
	}
	if line, col, ok := findDeepNesting(src); ok {
		return &rawProblem{line: line, col: col, code: "yaml-syntax",
			message: fmt.Sprintf("nesting deeper than %d levels", maxNesting),
			hint:    "a pipeline never needs this; check the brackets"}
	}
	return nil
}

func humanBytes(n int64) string {
	const mib = 1 << 20
	if n >= mib {
		return strconv.FormatFloat(float64(n)/mib, 'f', 1, 64) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func invalidUTF8Offset(src []byte) int {
	for off := 0; off < len(src); {
		r, size := utf8.DecodeRune(src[off:])
		if r == utf8.RuneError && size <= 1 {
			return off
		}
		off += size
	}
	return 0
}

// lineCol turns a byte offset into a 1-based line and a 1-based column
// counted in characters.
func lineCol(src []byte, off int) (int, int) {
	line, start := 1, 0
	for i := 0; i < off && i < len(src); i++ {
		if src[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, utf8.RuneCount(src[start:off]) + 1
}

// findTabIndent finds a tab in the indentation of a line. Lines inside a
// block scalar (| or >) deeper than its parent may hold tabs after the
// spaces: they are text (SQL), not indentation.
func findTabIndent(src []byte) (int, int, bool) {
	blockParent := -1 // indentation of the line that opened a block scalar
	for i, line := range bytes.Split(src, []byte("\n")) {
		spaces := 0
		for spaces < len(line) && line[spaces] == ' ' {
			spaces++
		}
		rest := line[spaces:]
		if blockParent >= 0 {
			if len(bytes.TrimSpace(line)) == 0 || spaces > blockParent {
				continue
			}
			blockParent = -1
		}
		if len(rest) > 0 && rest[0] == '\t' {
			// A tab right after the indentation and before any content.
			j := 0
			for j < len(rest) && (rest[j] == '\t' || rest[j] == ' ') {
				j++
			}
			if j < len(rest) && rest[j] != '#' {
				return i + 1, spaces + 1, true
			}
		}
		if opensBlockScalar(rest) {
			blockParent = spaces
		}
	}
	return 0, 0, false
}

// opensBlockScalar reports whether a line ends with a block scalar header
// ("key: |", "- >-", "key: |2 # comment").
func opensBlockScalar(line []byte) bool {
	s := string(line)
	if i := strings.Index(s, " #"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimRight(s, " \t\r")
	j := len(s)
	for j > 0 && strings.IndexByte("+-0123456789", s[j-1]) >= 0 {
		j--
	}
	if j == 0 || (s[j-1] != '|' && s[j-1] != '>') {
		return false
	}
	before := s[:j-1]
	return before == "" || strings.HasSuffix(before, ": ") || strings.HasSuffix(before, "- ") ||
		strings.HasSuffix(before, ":") || before == "-"
}

// findDeepNesting estimates nesting depth without parsing: open flow
// brackets outside quotes and comments, and "- - -" runs at a line start.
// It errs towards accepting; it only exists to keep the parser's recursion
// bounded.
func findDeepNesting(src []byte) (int, int, bool) {
	depth, line, col := 0, 1, 0
	var quote byte
	comment := false
	lineStart := true
	seqRun := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		col++
		if c == '\n' {
			line, col, comment, lineStart, seqRun = line+1, 0, false, true, 0
			if quote == '\'' || quote == '"' {
				continue // quoted scalars may span lines
			}
			continue
		}
		if comment {
			continue
		}
		if quote != 0 {
			if c == '\\' && quote == '"' {
				i++
				col++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		if lineStart {
			switch {
			case c == ' ':
				continue
			case (c == '-' || c == '?') && i+1 < len(src) && src[i+1] == ' ':
				seqRun++
				if seqRun > maxNesting {
					return line, col, true
				}
				continue
			}
			lineStart = false
		}
		switch c {
		case '#':
			if i == 0 || src[i-1] == ' ' || src[i-1] == '\t' {
				comment = true
			}
		case '"', '\'':
			if i == 0 || strings.IndexByte(" \t[{,:", src[i-1]) >= 0 {
				quote = c
			}
		case '[', '{':
			depth++
			if depth > maxNesting {
				return line, col, true
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return 0, 0, false
}

// parseTree parses src into a positioned tree. Problems found while
// reading (syntax, aliases, duplicate keys) are returned; the tree is nil
// when nothing sensible can be validated.
func parseTree(src []byte) (root *yNode, problems []rawProblem) {
	if p := checkSource(src); p != nil {
		return nil, []rawProblem{*p}
	}
	file, err := safeParse(src)
	if err != nil {
		return nil, []rawProblem{syntaxProblem(err)}
	}
	var docs []*ast.DocumentNode
	for _, d := range file.Docs {
		if d != nil && d.Body != nil {
			if _, isComment := d.Body.(*ast.CommentGroupNode); isComment {
				continue
			}
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, []rawProblem{{code: "empty-file", message: "pipeline file has no content (only comments or document markers)",
			hint: `start with oml_version: "0.1.0", name and steps`}}
	}
	if len(docs) > 1 {
		tk := docs[1].Body.GetToken()
		p := rawProblem{code: "yaml-syntax", message: "more than one YAML document in the file",
			hint: "a pipeline file holds one document; remove the extra ---"}
		if tk != nil {
			p.line, p.col = tk.Position.Line, tk.Position.Column
		}
		return nil, []rawProblem{p}
	}
	c := &converter{anchors: map[string]*yNode{}}
	body := docs[0].Body
	if n := countAliases(body, 0); n > maxAliases {
		return nil, []rawProblem{{line: 1, col: 1, code: "alias-limit",
			message: fmt.Sprintf("the document uses %d aliases; the limit is %d", n, maxAliases),
			hint:    "write the values out; pipelines need few anchors"}}
	}
	root = c.convert(body, "")
	if c.fatal != nil {
		return nil, append(c.problems, *c.fatal)
	}
	base := c.nodes
	if total := expandedSize(root, map[*yNode]int{}, base+maxAliasExpansion); total > base+maxAliasExpansion {
		return nil, []rawProblem{{line: 1, col: 1, code: "alias-limit",
			message: fmt.Sprintf("aliases would expand the document by more than %d nodes", maxAliasExpansion),
			hint:    "this looks like an alias bomb; write the values out"}}
	}
	return root, c.problems
}

// safeParse runs the third-party parser, turning a panic inside it into a
// syntax error: a user's file must never crash the CLI.
func safeParse(src []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this file: %v", r)
		}
	}()
	return parser.ParseBytes(src, 0, parser.AllowDuplicateMapKey())
}

func syntaxProblem(err error) rawProblem {
	p := rawProblem{code: "yaml-syntax", message: err.Error(), hint: "fix the YAML syntax"}
	if ye, ok := err.(yaml.Error); ok {
		p.message = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil {
			p.line, p.col = tk.Position.Line, tk.Position.Column
		}
	}
	p.message = strings.TrimSpace(strings.SplitN(p.message, "\n", 2)[0])
	if strings.Contains(p.message, "'\t'") || strings.Contains(p.message, "\t") {
		p.message = strings.ReplaceAll(p.message, "\t", `\t`)
	}
	return p
}

// countAliases counts alias nodes without following them.
func countAliases(n ast.Node, acc int) int {
	switch x := n.(type) {
	case nil:
	case *ast.AliasNode:
		acc++
	case *ast.MappingNode:
		for _, v := range x.Values {
			acc = countAliases(v, acc)
		}
	case *ast.MappingValueNode:
		acc = countAliases(x.Key, acc)
		acc = countAliases(x.Value, acc)
	case *ast.MappingKeyNode:
		acc = countAliases(x.Value, acc)
	case *ast.SequenceNode:
		for _, v := range x.Values {
			acc = countAliases(v, acc)
		}
	case *ast.AnchorNode:
		acc = countAliases(x.Value, acc)
	case *ast.TagNode:
		acc = countAliases(x.Value, acc)
	}
	return acc
}

// expandedSize counts the nodes of the tree with aliases expanded, using
// memoised sizes of shared nodes, and stops early past limit.
func expandedSize(n *yNode, memo map[*yNode]int, limit int) int {
	if n == nil {
		return 1
	}
	if s, ok := memo[n]; ok {
		return s
	}
	size := 1
	switch n.kind {
	case kindMap:
		for _, e := range n.entries {
			size += expandedSize(e.val, memo, limit)
			if size > limit {
				break
			}
		}
	case kindSeq:
		for _, it := range n.items {
			size += expandedSize(it, memo, limit)
			if size > limit {
				break
			}
		}
	}
	memo[n] = size
	return size
}

type converter struct {
	anchors  map[string]*yNode
	problems []rawProblem
	fatal    *rawProblem
	nodes    int
}

func tokenPos(n ast.Node) (int, int) {
	if n == nil {
		return 0, 0
	}
	if _, ok := n.(*ast.DocumentNode); ok {
		return 0, 0 // GetToken panics on a document without body
	}
	tk := n.GetToken()
	if tk == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

func (c *converter) fail(n ast.Node, path, msg string) *yNode {
	if c.fatal == nil {
		line, col := tokenPos(n)
		c.fatal = &rawProblem{line: line, col: col, code: "yaml-syntax", path: path, message: msg, hint: "fix the YAML syntax"}
	}
	return &yNode{kind: kindNull}
}

func (c *converter) convert(n ast.Node, path string) *yNode {
	if c.fatal != nil {
		return &yNode{kind: kindNull}
	}
	c.nodes++
	line, col := tokenPos(n)
	switch x := n.(type) {
	case nil:
		return &yNode{kind: kindNull}
	case *ast.NullNode:
		return &yNode{kind: kindNull, line: line, col: col}
	case *ast.StringNode:
		return &yNode{kind: kindScalar, line: line, col: col, value: x.Value, text: x.Value}
	case *ast.LiteralNode:
		v := ""
		if x.Value != nil {
			v = x.Value.Value
		}
		return &yNode{kind: kindScalar, line: line, col: col, value: v, text: v}
	case *ast.IntegerNode:
		var v any
		switch iv := x.Value.(type) {
		case int64:
			v = iv
		case uint64:
			if iv <= math.MaxInt64 {
				v = int64(iv)
			} else {
				v = iv
			}
		default:
			return c.fail(n, path, fmt.Sprintf("integer %q cannot be read", x.Token.Value))
		}
		return &yNode{kind: kindScalar, line: line, col: col, value: v, text: x.Token.Value}
	case *ast.FloatNode:
		return &yNode{kind: kindScalar, line: line, col: col, value: x.Value, text: x.Token.Value}
	case *ast.InfinityNode:
		return &yNode{kind: kindScalar, line: line, col: col, value: x.Value, text: x.Token.Value}
	case *ast.NanNode:
		return &yNode{kind: kindScalar, line: line, col: col, value: math.NaN(), text: x.Token.Value}
	case *ast.BoolNode:
		return &yNode{kind: kindScalar, line: line, col: col, value: x.Value, text: x.Token.Value}
	case *ast.TagNode:
		tag := ""
		if x.Start != nil {
			tag = x.Start.Value
		}
		inner := c.convert(x.Value, path)
		if tag == "!!str" && inner.kind == kindScalar {
			s := inner.text
			return &yNode{kind: kindScalar, line: inner.line, col: inner.col, value: s, text: s}
		}
		if tag == "!!str" && inner.kind == kindNull {
			return &yNode{kind: kindScalar, line: line, col: col, value: "", text: ""}
		}
		return inner
	case *ast.AnchorNode:
		v := c.convert(x.Value, path)
		if x.Name != nil {
			c.anchors[x.Name.GetToken().Value] = v
		}
		return v
	case *ast.AliasNode:
		name := ""
		if x.Value != nil && x.Value.GetToken() != nil {
			name = x.Value.GetToken().Value
		}
		v, ok := c.anchors[name]
		if !ok {
			return c.fail(n, path, fmt.Sprintf("alias *%s refers to no anchor defined before it", name))
		}
		return v
	case *ast.SequenceNode:
		out := &yNode{kind: kindSeq, line: line, col: col}
		for i, v := range x.Values {
			out.items = append(out.items, c.convert(v, fmt.Sprintf("%s[%d]", path, i)))
		}
		return out
	case *ast.MappingValueNode:
		return c.mapping(n, []*ast.MappingValueNode{x}, path)
	case *ast.MappingNode:
		m := c.mapping(n, x.Values, path)
		if len(x.Values) == 0 {
			m.line, m.col = line, col
		}
		return m
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &yNode{kind: kindNull, line: line, col: col}
	default:
		return c.fail(n, path, fmt.Sprintf("unsupported YAML node %s", n.Type()))
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (c *converter) mapping(n ast.Node, values []*ast.MappingValueNode, path string) *yNode {
	out := &yNode{kind: kindMap}
	seen := map[string]int{} // key → index in out.entries
	var merges []*yNode
	for i, mv := range values {
		if mv == nil {
			continue
		}
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			merges = append(merges, c.convert(mv.Value, path))
			continue
		}
		keyNode := ast.Node(mv.Key)
		if k, ok := mv.Key.(*ast.MappingKeyNode); ok {
			keyNode = k.Value
		}
		kline, kcol := tokenPos(keyNode)
		k := c.convert(keyNode, path)
		if k.kind != kindScalar {
			return c.fail(keyNode, path, "mapping keys must be plain scalars")
		}
		key := k.text
		if s, ok := k.value.(string); ok {
			key = s
		}
		if i == 0 || out.line == 0 {
			out.line, out.col = kline, kcol
		}
		val := c.convert(mv.Value, joinPath(path, key))
		if first, dup := seen[key]; dup {
			c.problems = append(c.problems, rawProblem{line: kline, col: kcol, code: "duplicate-key", path: joinPath(path, key),
				message: fmt.Sprintf("key %q is already defined at line %d", key, out.entries[first].line),
				hint:    "remove one of them"})
			continue
		}
		seen[key] = len(out.entries)
		out.entries = append(out.entries, yEntry{key: key, line: kline, col: kcol, val: val})
	}
	// Merge keys (<<: *base): explicit keys win, earlier merges win.
	for _, m := range merges {
		srcs := []*yNode{m}
		if m.kind == kindSeq {
			srcs = m.items
		}
		for _, s := range srcs {
			if s.kind != kindMap {
				return c.fail(n, path, "<< merges only mappings")
			}
			for _, e := range s.entries {
				if _, dup := seen[e.key]; dup {
					continue
				}
				seen[e.key] = len(out.entries)
				out.entries = append(out.entries, e)
			}
		}
	}
	if out.line == 0 {
		out.line, out.col = tokenPos(n)
	}
	return out
}
