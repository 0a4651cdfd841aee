package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/internal/termsafe"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/workspace"
)

// app holds the global flags and the streams of one invocation.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	dir     string // -C
	profile string
	json    bool
	verbose bool
	noColor bool

	ws *workspace.Workspace // loaded on demand

	// probe, when set, receives the flag set of the command being run
	// instead of running it (shell completion uses it to list flags).
	probe func(fs *flag.FlagSet)

	dryRun bool // run --dry-run: compile stages are not recorded

	// remote: the pipeline is compiled for a remote sandbox (run --remote,

	// validate/compile --remote): compile.Options.Remote.

	remote bool
}

// errProbed ends a command whose flags were probed.
var errProbed = errors.New("flags probed")

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, noColor: os.Getenv("NO_COLOR") != ""}
}

type command struct {
	name    string
	summary string
	run     func(a *app, args []string) error
}

func commands() []command {
	return []command{
		{"init", "scaffold a workspace", (*app).cmdInit},
		{"validate", "parse and validate pipelines", (*app).cmdValidate},
		{"compile", "compile pipelines to build/", (*app).cmdCompile},
		{"run", "compile if needed, then execute a pipeline", (*app).cmdRun},
		{"watch", "run pipelines, then rerun what a saved change affects", (*app).cmdWatch},
		{"connections", "list or check connections", (*app).cmdConnections},
		{"discover", "list a database connection's tables, columns, keys (and sample rows)", (*app).cmdDiscover},
		{"components", "list or show the built-in components", (*app).cmdComponents},
		{"schema", "print the JSON Schema of pipeline files (for editors)", (*app).cmdSchema},
		{"logs", "browse recorded runs: list, show, diff, html, gc", (*app).cmdLogs},
		{"remote", "list, check or clean sandboxes (remote list | remote doctor [NAME] | remote gc [NAME])", (*app).cmdRemote},
		{"mcp", "serve the workspace to AI assistants (Model Context Protocol)", (*app).cmdMCP},
		{"worker", "the sandbox side of a remote run (started by sandboxes)", (*app).cmdWorker},
		{"version", "print version information", (*app).cmdVersion},
		{"completion", "print a shell completion script (bash, zsh, fish)", (*app).cmdCompletion},
		{"__complete", "", (*app).cmdComplete}, // hidden: what completion scripts call
	}
}

const usageText = `osiris turns a workspace of pipeline files into data movement.

Usage: osiris [global flags] <command> [arguments]

Commands:
%s
Global flags (also accepted after the command):
  -C DIR          run as if started in DIR
  --profile P     profile to use (default: [project].profile)
  --json          machine output on stdout, human messages on stderr
  -v, --verbose   more output
  --no-color      no colour (also NO_COLOR)
  --version       print version information

Run ` + "`osiris help COMMAND`" + ` (or ` + "`osiris COMMAND --help`" + `) for a command's flags and examples.

Exit codes: 0 success, 1 run failed, 2 bad usage or invalid input (nothing ran), 130 interrupted.
`

func (a *app) usage() string {
	var b strings.Builder
	for _, c := range commands() {
		if strings.HasPrefix(c.name, "__") {
			continue
		}
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	return fmt.Sprintf(usageText, b.String())
}

func (a *app) main(args []string) error {
	g := flag.NewFlagSet("osiris", flag.ContinueOnError)
	g.SetOutput(io.Discard)
	a.globalFlags(g)
	showVersion := g.Bool("version", false, "print version information (= osiris version)")
	if err := g.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(a.stdout, a.usage())
			return nil
		}
		return diag.Usage("%v (see `osiris help`)", flagError(g, err))
	}
	rest := g.Args()
	if *showVersion {
		return a.cmdVersion(rest)
	}
	if len(rest) == 0 {
		fmt.Fprint(a.stderr, a.usage())
		return &exitError{code: exitUsage}
	}
	name := rest[0]
	if name == "-h" || name == "--help" {
		fmt.Fprint(a.stdout, a.usage())
		return nil
	}
	if name == "help" {
		if len(rest) == 1 {
			fmt.Fprint(a.stdout, a.usage())
			return nil
		}
		if rest[1] == "help" {
			a.writeCommandHelp(a.stdout, "help", "help [COMMAND]", nil)
			return nil
		}
		c, ok := lookupCommand(rest[1])
		if !ok {
			return unknownCommand(rest[1])
		}
		return c.run(a, []string{"--help"})
	}
	if c, ok := lookupCommand(name); ok {
		return c.run(a, rest[1:])
	}
	return unknownCommand(name)
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func (a *app) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.dir, "C", a.dir, "run as if started in `DIR`")
	fs.StringVar(&a.profile, "profile", a.profile, "use profile `P` (default: [project].profile)")
	fs.BoolVar(&a.json, "json", a.json, "machine output on stdout, human messages on stderr")
	fs.BoolVar(&a.verbose, "v", a.verbose, "more output")
	fs.BoolVar(&a.verbose, "verbose", a.verbose, "more output")
	fs.BoolVar(&a.noColor, "no-color", a.noColor, "no colour (also NO_COLOR)")
}

// parseFlags parses a command's flags, allowing them anywhere among the
// positional arguments (`osiris run x.yaml --param a=1`). The global flags
// are accepted too.
func (a *app) parseFlags(fs *flag.FlagSet, args []string, synopsis string) ([]string, error) {
	fs.SetOutput(io.Discard)
	a.globalFlags(fs)
	if a.probe != nil {
		// Completion asks for a command's flags without running it.
		a.probe(fs)
		return nil, errProbed
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.writeCommandHelp(a.stdout, fs.Name(), synopsis, fs)
				return nil, &exitError{code: exitOK}
			}
			return nil, diag.Usage("%v\nusage: osiris %s (see `osiris help %s`)", flagError(fs, err), synopsis, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			pos = append(pos, rest[1:]...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, nil
}

// workDir is -C or the current directory, absolute.
func (a *app) workDir() (string, error) {
	d := a.dir
	if d == "" {
		d = "."
	}
	return filepath.Abs(d)
}

// workspace finds and loads the workspace once.
func (a *app) workspace() (*workspace.Workspace, error) {
	if a.ws != nil {
		return a.ws, nil
	}
	start, err := a.workDir()
	if err != nil {
		return nil, err
	}
	root, err := workspace.FindRoot(start)
	if err != nil {
		return nil, &diag.UsageError{Err: err}
	}
	ws, err := workspace.Load(root)
	if err != nil {
		var dl diag.List
		if errors.As(err, &dl) {
			return nil, dl
		}
		return nil, &diag.UsageError{Err: err}
	}
	if a.profile == "" {
		a.profile = ws.Config.Project.Profile
	}
	a.ws = ws
	return ws, nil
}

// mask masks secret values known to the workspace (nothing before it loads).
func (a *app) mask(s string) string {
	if a.ws != nil && a.ws.Masker != nil {
		return a.ws.Masker.Mask(s)
	}
	return s
}

func (a *app) printErr(err error) {
	var dl diag.List
	if errors.As(err, &dl) {
		for _, d := range dl {
			fmt.Fprintln(a.stderr, a.term(d.String()))
		}
		return
	}
	fmt.Fprintln(a.stderr, "osiris: "+a.term(err.Error()))
}

// printJSON writes v as indented JSON on stdout, masked.
func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(a.stdout, a.termJSON(b))
	return err
}

// term makes text for a person's terminal: secret values masked, control
// bytes from data, SQL or servers shown as escapes (an error quoting a CSV
// value must not clear the screen or retitle the window).
func (a *app) term(s string) string { return termsafe.String(a.mask(s)) }

// termJSON is term for a JSON document: masked, and still valid JSON.
func (a *app) termJSON(b []byte) string { return string(termsafe.JSON([]byte(a.mask(string(b))))) }

// outf prints a human line on stdout (stderr under --json), masked.
func (a *app) outf(format string, args ...any) {
	w := a.stdout
	if a.json {
		w = a.stderr
	}
	fmt.Fprint(w, a.term(fmt.Sprintf(format, args...)))
}

// paramFlag collects repeated --param k=v.
type paramFlag map[string]string

func (p paramFlag) String() string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k+"="+p[k])
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (p paramFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("--param wants NAME=VALUE, got %q", s)
	}
	p[k] = v
	return nil
}
