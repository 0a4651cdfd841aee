package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/osiris-go/osiris/pkg/diag"
)

// helpText is what `osiris help CMD` (= `osiris CMD --help`) prints besides
// the usage line and the flags, which come from the command itself.
type helpText struct {
	// about is a few lines after the summary: what the command does that
	// the summary does not say.
	about string
	// examples are real command lines, each with a comment line first.
	examples []string
}

// helpTexts is kept apart from commands() so that adding a command stays a
// one-line change; TestEveryCommandHasHelp makes sure none is forgotten.
var helpTexts = map[string]helpText{
	"init": {
		about: "Creates osiris.toml, pipelines/ with an offline example and a MySQL → DuckDB →\nSupabase example, data/, .env.example and .gitignore. Refuses to overwrite an\nexisting osiris.toml unless --force; writes nothing outside DIR.",
		examples: []string{
			"# a new workspace in ./shop, then its offline example",
			"osiris init shop && cd shop && osiris run pipelines/movies_offline.yaml",
			"# refresh the scaffold files of the workspace in the current directory",
			"osiris init . --force",
		},
	},
	"validate": {
		about: "Parses and validates pipelines (all under pipelines/ by default) and prints\nevery problem as file:line:col: error[code]: message. Exit 2 on any error.",
		examples: []string{
			"# every pipeline of the workspace",
			"osiris validate",
			"# one pipeline with a param as it would run",
			"osiris validate pipelines/mysql_duckdb_supabase.yaml --param min_movies=3",
			"# also what a remote sandbox needs: every file a step reads known before it runs",
			"osiris validate --remote",
		},
	},
	"compile": {
		about: "Writes build/pipelines/<profile>/<slug>/<short>-<hash>/ (manifest.yaml, cfg/,\nplan.json, fingerprints.json): deterministic and secret-free, meant to be\ncommitted. An unchanged pipeline rewrites nothing.",
		examples: []string{
			"# compile one pipeline and print its manifest directory and hash",
			"osiris compile pipelines/movies_offline.yaml",
			"# with the prod profile and a param",
			"osiris --profile prod compile pipelines/mysql_duckdb_supabase.yaml --param min_movies=3",
		},
	},
	"run": {
		about: "Compiles a pipeline (or takes a compiled manifest directory) and executes it.\nEvery run is recorded under run_logs/<profile>/<pipeline>/.",
		examples: []string{
			"# run a pipeline",
			"osiris run pipelines/movies_offline.yaml",
			"# show the plan only: steps, connections (masked), inputs",
			"osiris run pipelines/mysql_duckdb_supabase.yaml --dry-run",
			"# run it in the sandbox [remote.box] (or the default one with a bare --remote)",
			"osiris run pipelines/movies_offline.yaml --remote box",
			"# run the last compiled manifest with a time limit",
			"osiris run --last-compile --timeout 30m",
		},
	},
	"watch": {
		about: "Runs the pipelines, then reruns what a saved change affects until Ctrl-C.\nUnchanged steps are served from the step cache; writers always write unless\n--reuse-writes (never an append writer). A save of osiris.toml or .env reruns\nonly the pipelines whose manifest or resolved connections changed. A failed\npipeline waits for a change, or reruns after --retry D.\nCtrl-C, SIGTERM or SIGHUP cancel the runs in progress, record them as\ncancelled and exit 130, whatever the last runs gave (their lines say it).",
		examples: []string{
			"# watch every pipeline of the workspace",
			"osiris watch",
			"# one pipeline, polling instead of inotify (network file systems)",
			"osiris watch pipelines/movies_offline.yaml --poll 1s",
			"# rerun a failed pipeline every 30 s (a database that comes back)",
			"osiris watch --retry 30s",
		},
	},
	"discover": {
		about: "Lists what a database connection holds: tables and views, columns with their\ntypes and nullability, primary and foreign keys, row estimates and, with\n--samples, the first rows of each table (secret values and columns such as\npassword are masked). Only reads; MySQL/MariaDB and PostgreSQL/Supabase.",
		examples: []string{
			"# the tables and columns of a MariaDB database",
			"osiris discover @mysql.sakila",
			"# with three sample rows per table, as JSON",
			"osiris discover @postgres.main --samples 3 --json",
		},
	},
	"schema": {
		about: "Prints a JSON Schema (2020-12) of pipeline files generated from the component\nspecs: every component's config keys, types, enums, defaults and required\nkeys. Point an editor's YAML language server at it; osiris validate stays\nthe judge (needs, params, connections and paths are checked there only).",
		examples: []string{
			"# write it beside the pipelines",
			"osiris schema > pipeline.schema.json",
			"# check a pipeline against it with any JSON Schema tool (here check-jsonschema)",
			"osiris schema > schema.json && check-jsonschema --schemafile schema.json pipelines/daily.yaml",
		},
	},
	"mcp": {
		about: "Serves the workspace over the Model Context Protocol: tools connections_list,\nconnections_doctor, components_list, component_show, discovery_request,\noml_schema_get, oml_validate, oml_save, compile, run, logs_list, logs_show,\nlogs_diff, and the pipelines, component specs and run records as resources.\nstdio by default (an MCP client starts it); --http serves streamable HTTP at\n/mcp on a loopback address. Every answer is masked. Reads osiris.toml once:\nrestart it after editing connections.",
		examples: []string{
			"# what an MCP client starts (stdio)",
			"osiris -C /path/to/workspace mcp",
			"# streamable HTTP on this machine only",
			"osiris mcp --http 127.0.0.1:8765",
		},
	},
	"logs": {
		about: "Browses the runs recorded under run_logs/: a list, one run's steps and\nevents, the static HTML report, the difference between two runs, clean-up.",
		examples: []string{
			"# the failed runs of the last two days",
			"osiris logs list --status failed --since 2d",
			"# the last run of one pipeline, with its events",
			"osiris logs show last:movies_offline --events",
			"# what changed between two runs",
			"osiris logs diff 01JD3 01JD4",
		},
	},
	"connections": {
		about: "Lists the connections of osiris.toml (or osiris_connections.yaml) with their\nsecrets masked, or connects to each and reports reachability and latency.",
		examples: []string{
			"# every connection, masked",
			"osiris connections list",
			"# check one connection",
			"osiris connections doctor @mysql.db_movies",
		},
	},
	"components": {
		about: "Lists the built-in components with their modes, or shows one component's\nconfig keys with types, defaults and which are secret.",
		examples: []string{
			"# every component",
			"osiris components list",
			"# the config keys of the MySQL extractor",
			"osiris components show mysql.extractor",
		},
	},
	"remote": {
		about: "Lists the sandboxes of [remote.<name>] in osiris.toml, or starts one, does the\nprotocol handshake and reports versions, the store's size and bound, free space\nand which connections are reachable from inside it. `remote gc` bounds a sandbox\nnow (each run does it too): dead workers' leftovers go, then blobs no recent run\nused, least recently used first, until the store is under max_store.",
		examples: []string{
			"# every configured sandbox",
			"osiris remote list",
			"# check the sandbox named box",
			"osiris remote doctor box",
			"# bound its store to [remote.box] max_store now",
			"osiris remote gc box",
		},
	},
	"worker": {
		about: "The sandbox side of a remote run: speaks the framed protocol on stdin/stdout.\nStarted by `osiris run --remote`, not by people.",
		examples: []string{
			"# what a sandbox starts",
			"osiris worker --stdio --dir ~/.osiris-sandbox",
			"# the run it serves",
			"osiris run pipelines/movies_offline.yaml --remote local",
		},
	},
	"completion": {
		about: "Prints a shell completion script. It completes commands, flags, pipeline\nfiles, run ids, connection aliases and sandbox names of the current workspace.",
		examples: []string{
			"# bash: for this shell, then for good",
			"source <(osiris completion bash)",
			"osiris completion bash > /etc/bash_completion.d/osiris",
			"# zsh and fish",
			"osiris completion zsh > \"${fpath[1]}/_osiris\"",
			"osiris completion fish > ~/.config/fish/completions/osiris.fish",
		},
	},
	"version": {
		about: "Prints the osiris version and commit, the Go and DuckDB versions and the\nbinary's SHA-256 (what a sandbox is sent).",
		examples: []string{
			"osiris version",
			"osiris --version",
			"osiris --json version",
		},
	},
	"help": {
		about: "Prints the help of a command (the same as `osiris COMMAND --help`), or the\nlist of commands.",
		examples: []string{
			"osiris help run",
			"osiris help",
		},
	},
}

// isGlobalFlag reports whether name is one of the global flags, which every
// command accepts and its help lists apart.
func isGlobalFlag(name string) bool {
	g := flag.NewFlagSet("", flag.ContinueOnError)
	(&app{}).globalFlags(g)
	return g.Lookup(name) != nil
}

// flagLine is one flag of a help listing: "-C DIR" or "--dry-run".
type flagLine struct {
	names string
	usage string
}

// flagLines formats the flags of fs that keep (by name) returns true for,
// merging aliases that share a usage text and target (-v, --verbose).
func flagLines(fs *flag.FlagSet, keep func(name string) bool) []flagLine {
	type group struct {
		names []string
		f     *flag.Flag
	}
	var groups []*group
	byUsage := map[string]*group{}
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		key := f.Usage + "\x00" + f.DefValue
		if g, ok := byUsage[key]; ok {
			g.names = append(g.names, f.Name)
			return
		}
		g := &group{names: []string{f.Name}, f: f}
		byUsage[key] = g
		groups = append(groups, g)
	})
	var out []flagLine
	for _, g := range groups {
		sort.Slice(g.names, func(i, j int) bool { return len(g.names[i]) < len(g.names[j]) })
		arg, usage := flag.UnquoteUsage(g.f)
		if isBoolFlag(g.f) {
			arg = ""
		}
		// Flags without a `NAME` in their usage get a placeholder in capitals.
		switch arg {
		case "string", "value":
			arg = "VALUE"
		case "duration":
			arg = "DURATION"
		case "int", "uint", "int64", "uint64":
			arg = "N"
		case "float":
			arg = "X"
		}
		var names []string
		for _, n := range g.names {
			names = append(names, dashed(n))
		}
		s := strings.Join(names, ", ")
		if arg != "" {
			s += " " + arg
		}
		if d := g.f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" && !isBoolFlag(g.f) {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		out = append(out, flagLine{s, usage})
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.TrimLeft(out[i].names, "-") < strings.TrimLeft(out[j].names, "-")
	})
	return out
}

// dashed writes a flag as users type it: -C for one letter, --name else.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func writeFlagLines(w io.Writer, lines []flagLine) {
	width := 0
	for _, l := range lines {
		width = max(width, len(l.names))
	}
	width = min(width, 26)
	for _, l := range lines {
		if len(l.names) > width {
			fmt.Fprintf(w, "  %s\n  %*s  %s\n", l.names, width, "", l.usage)
			continue
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, l.names, l.usage)
	}
}

// writeCommandHelp prints the help of one command: summary, usage, its own
// flags, the global flags, examples.
func (a *app) writeCommandHelp(w io.Writer, name, synopsis string, fs *flag.FlagSet) {
	summary := ""
	for _, c := range commands() {
		if c.name == name {
			summary = c.summary
		}
	}
	ht := helpTexts[name]
	fmt.Fprintf(w, "osiris %s — %s\n\n", name, summary)
	fmt.Fprintf(w, "Usage:\n  osiris %s\n", synopsis)
	if ht.about != "" {
		fmt.Fprintf(w, "\n%s\n", ht.about)
	}
	if fs != nil {
		if own := flagLines(fs, func(n string) bool { return !isGlobalFlag(n) }); len(own) > 0 {
			fmt.Fprintf(w, "\nFlags:\n")
			writeFlagLines(w, own)
		}
	}
	g := flag.NewFlagSet("", flag.ContinueOnError)
	(&app{}).globalFlags(g)
	fmt.Fprintf(w, "\nGlobal flags:\n")
	writeFlagLines(w, flagLines(g, func(string) bool { return true }))
	if len(ht.examples) > 0 {
		fmt.Fprintf(w, "\nExamples:\n")
		for _, e := range ht.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// flagError rewrites the flag package's parse errors the way the rest of
// the help writes flags (--name) and suggests the nearest flag for a typo.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	const undefined = "flag provided but not defined: -"
	if name, ok := strings.CutPrefix(msg, undefined); ok {
		name = strings.TrimPrefix(name, "-")
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		msg = "unknown flag " + dashed(name)
		if s := diag.Suggest(name, names); s != "" {
			msg += " (did you mean " + dashed(s) + "?)"
		}
		return errors.New(msg)
	}
	// "invalid value "x" for flag -timeout: …" → --timeout
	if i := strings.Index(msg, " for flag -"); i >= 0 {
		rest := msg[i+len(" for flag -"):]
		name, tail, _ := strings.Cut(rest, ":")
		return errors.New(msg[:i] + " for flag " + dashed(name) + ":" + tail)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return errors.New("flag " + dashed(strings.TrimPrefix(name, "-")) + " needs a value")
	}
	return err
}

// commandNames lists the commands users see (hidden ones left out).
func commandNames() []string {
	var out []string
	for _, c := range commands() {
		if !strings.HasPrefix(c.name, "__") {
			out = append(out, c.name)
		}
	}
	return out
}

// unknownCommand is the usage error for a word that is no command.
func unknownCommand(name string) error {
	if s := diag.Suggest(name, append(commandNames(), "help")); s != "" {
		return diag.Usage("unknown command %q (did you mean `%s`?); see `osiris help`", name, s)
	}
	return diag.Usage("unknown command %q; see `osiris help`", name)
}
