package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/pkg/runlog"
)

// The completion scripts are thin: they hand the words of the command line
// to `osiris __complete` and offer what it prints, one candidate a line. So
// the candidates (commands, flags, pipeline files, run ids, connection
// aliases, sandbox names) come from the same code and the same workspace as
// the commands themselves, in every shell.

const bashCompletion = `# bash completion for osiris; load with: source <(osiris completion bash)
_osiris() {
    local cur words cword
    cur="${COMP_WORDS[COMP_CWORD]}"
    words=("${COMP_WORDS[@]:1:COMP_CWORD}")
    local IFS=$'\n'
    COMPREPLY=($(osiris __complete "${words[@]}" 2>/dev/null))
    # directories and prefixes that end in / or : or = go on without a space
    if [[ ${#COMPREPLY[@]} -eq 1 && ( ${COMPREPLY[0]} == */ || ${COMPREPLY[0]} == *= ) ]]; then
        compopt -o nospace 2>/dev/null || true
    fi
}
complete -o default -F _osiris osiris
`

const zshCompletion = `#compdef osiris
# zsh completion for osiris; install: osiris completion zsh > "${fpath[1]}/_osiris"
_osiris() {
    local -a candidates
    candidates=("${(@f)$(osiris __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    if (( ${#candidates[@]} )) && [[ -n ${candidates[1]} ]]; then
        compadd -S '' -Q -- "${candidates[@]}"
    else
        _files
    fi
}
if [ "$funcstack[1]" = "_osiris" ]; then
    _osiris "$@"
else
    compdef _osiris osiris
fi
`

const fishCompletion = `# fish completion for osiris; install: osiris completion fish > ~/.config/fish/completions/osiris.fish
function __osiris_complete
    set -l words (commandline -opc)
    set -e words[1]
    osiris __complete $words (commandline -ct) 2>/dev/null
end
complete -c osiris -f -a '(__osiris_complete)'
`

func (a *app) cmdCompletion(args []string) error {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	pos, err := a.parseFlags(fs, args, "completion bash | zsh | fish")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return diag.Usage("osiris completion wants one shell: bash, zsh or fish")
	}
	switch pos[0] {
	case "bash":
		fmt.Fprint(a.stdout, bashCompletion)
	case "zsh":
		fmt.Fprint(a.stdout, zshCompletion)
	case "fish":
		fmt.Fprint(a.stdout, fishCompletion)
	default:
		msg := fmt.Sprintf("no completion for shell %q: choose bash, zsh or fish", pos[0])
		if s := diag.Suggest(pos[0], []string{"bash", "zsh", "fish"}); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return diag.Usage("%s", msg)
	}
	return nil
}

// cmdComplete prints the completions of the last word of args, the words
// that follow `osiris` on the command line being completed. It never
// fails loudly: a shell asking mid-typing gets fewer candidates, not errors.
func (a *app) cmdComplete(args []string) error {
	if len(args) == 0 {
		args = []string{""}
	}
	for _, c := range a.completions(args) {
		fmt.Fprintln(a.stdout, c)
	}
	return nil
}

// subcommands of the commands that have them, for completion.
var subcommands = map[string][]string{
	"connections": {"list", "doctor"},
	"components":  {"list", "show"},
	"logs":        {"list", "show", "html", "gc", "diff"},
	"remote":      {"list", "doctor"},
}

func (a *app) completions(words []string) []string {
	cur := words[len(words)-1]
	prev := words[:len(words)-1]

	// The global flags and the command.
	cmd, cmdAt := "", -1
	for i := 0; i < len(prev); i++ {
		w := prev[i]
		if name, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "="); strings.HasPrefix(w, "-") {
			if (name == "C" || name == "profile") && !hasVal {
				if i+1 < len(prev) {
					if name == "C" {
						a.dir = prev[i+1]
					}
					i++
				}
			} else if name == "C" {
				a.dir = val
			}
			continue
		}
		cmd, cmdAt = w, i
		break
	}
	last := ""
	if len(prev) > 0 {
		last = prev[len(prev)-1]
	}
	if cmd == "" {
		switch last {
		case "-C", "--C":
			return completePaths(cur, func(string) bool { return false })
		case "--profile", "-profile":
			return nil
		}
		if strings.HasPrefix(cur, "-") {
			g := flag.NewFlagSet("", flag.ContinueOnError)
			a.globalFlags(g)
			return withPrefix(cur, append(flagNames(g), "--version", "--help"))
		}
		return withPrefix(cur, append(commandNames(), "help"))
	}

	c, ok := lookupCommand(cmd)
	if !ok {
		if cmd == "help" {
			return withPrefix(cur, commandNames())
		}
		return nil
	}
	fs := a.commandFlags(c)

	// The value of a flag?
	if strings.HasPrefix(last, "-") && !strings.Contains(last, "=") && len(prev)-1 > cmdAt && fs != nil {
		// --remote takes an optional NAME (run splits it off itself), so
		// its flag is a bool; its value is still completed.
		if f := fs.Lookup(strings.TrimLeft(last, "-")); f != nil && (!isBoolFlag(f) || f.Name == "remote") {
			switch f.Name {
			case "remote":
				return withPrefix(cur, a.sandboxNames())
			case "C":
				return completePaths(cur, func(string) bool { return false })
			}
			return nil
		}
	}
	if strings.HasPrefix(cur, "-") {
		if fs == nil {
			return nil
		}
		return withPrefix(cur, append(flagNames(fs), "--help"))
	}

	// Positional arguments so far (flag values skipped).
	var pos []string
	args := prev[cmdAt+1:]
	for i := 0; i < len(args); i++ {
		w := args[i]
		if strings.HasPrefix(w, "-") {
			if fs != nil && !strings.Contains(w, "=") {
				if f := fs.Lookup(strings.TrimLeft(w, "-")); f != nil && !isBoolFlag(f) {
					i++
				}
			}
			continue
		}
		pos = append(pos, w)
	}

	if subs, ok := subcommands[cmd]; ok && len(pos) == 0 {
		return withPrefix(cur, subs)
	}
	switch cmd {
	case "run", "validate", "compile", "watch":
		return a.completePipelines(cur)
	case "logs":
		if pos[0] == "show" || pos[0] == "diff" {
			return withPrefix(cur, a.runSelectors())
		}
	case "connections":
		if pos[0] == "doctor" {
			return withPrefix(cur, a.connectionRefs())
		}
	case "discover":
		if len(pos) == 0 {
			return withPrefix(cur, a.connectionRefs())
		}
	case "components":
		if pos[0] == "show" && len(pos) == 1 {
			return withPrefix(cur, component.Names())
		}
	case "remote":
		if pos[0] == "doctor" {
			return withPrefix(cur, a.sandboxNames())
		}
	case "completion":
		if len(pos) == 0 {
			return withPrefix(cur, []string{"bash", "zsh", "fish"})
		}
	}
	return nil
}

// commandFlags returns c's flag set without running c (see app.probe).
func (a *app) commandFlags(c command) *flag.FlagSet {
	var got *flag.FlagSet
	probe := *a
	probe.probe = func(fs *flag.FlagSet) { got = fs }
	probe.stdout, probe.stderr = discard{}, discard{}
	func() {
		defer func() { _ = recover() }() // a command that does work before its flags: no flags then
		err := c.run(&probe, nil)
		_ = errors.Is(err, errProbed)
	}()
	return got
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func flagNames(fs *flag.FlagSet) []string {
	var out []string
	fs.VisitAll(func(f *flag.Flag) { out = append(out, dashed(f.Name)) })
	sort.Strings(out)
	return out
}

func withPrefix(cur string, cands []string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, cur) {
			out = append(out, c)
		}
	}
	return out
}

// completePipelines offers pipeline files: paths under the current
// directory that are YAML files or directories holding some; with nothing
// typed yet, the workspace's pipelines as the commands take them.
func (a *app) completePipelines(cur string) []string {
	isPipeline := func(name string) bool {
		ext := strings.ToLower(filepath.Ext(name))
		return ext == ".yaml" || ext == ".yml"
	}
	out := completePaths(cur, isPipeline)
	if len(out) == 0 && a.dir != "" {
		// -C DIR: paths are relative to that workspace.
		base := a.dir
		for _, c := range completePaths(filepath.Join(base, cur), isPipeline) {
			if rel, err := filepath.Rel(base, c); err == nil {
				if strings.HasSuffix(c, "/") {
					rel += "/"
				}
				out = append(out, rel)
			}
		}
	}
	return out
}

// completePaths lists the entries that complete cur as a path: directories
// (with a trailing /) and the files keep accepts. Hidden entries only when
// cur names them.
func completePaths(cur string, keep func(name string) bool) []string {
	dir, part := filepath.Split(cur)
	readDir := dir
	if readDir == "" {
		readDir = "."
	}
	entries, err := os.ReadDir(readDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, part) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(part, ".")) {
			continue
		}
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if st, err := os.Stat(filepath.Join(readDir, name)); err == nil {
				isDir = st.IsDir()
			}
		}
		switch {
		case isDir:
			out = append(out, dir+name+"/")
		case keep(name):
			out = append(out, dir+name)
		}
	}
	return out
}

// runSelectors offers `last`, `last:<pipeline>` and run ids, newest first
// (what `logs show` and `logs diff` take).
func (a *app) runSelectors() []string {
	st, _, err := a.logsStore()
	if err != nil {
		return nil
	}
	runs, _, err := st.List(runlog.Filter{})
	if err != nil {
		return nil
	}
	out := []string{"last"}
	seen := map[string]bool{}
	for _, r := range runs {
		if p := r.Slug; p != "" && !seen[p] {
			seen[p] = true
			out = append(out, "last:"+p)
		}
	}
	for _, r := range runs {
		out = append(out, r.RunID)
	}
	return out
}

func (a *app) connectionRefs() []string {
	ws, err := a.workspace()
	if err != nil {
		return nil
	}
	return ws.ConnectionRefs()
}

func (a *app) sandboxNames() []string {
	ws, err := a.workspace()
	if err != nil {
		return nil
	}
	out := []string{}
	hasLocal := false
	for name := range ws.Config.Remote {
		out = append(out, name)
		hasLocal = hasLocal || name == "local"
	}
	if !hasLocal {
		out = append(out, "local")
	}
	sort.Strings(out)
	return out
}
