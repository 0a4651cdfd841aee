package main

import (
	"bytes"
	"strings"
	"testing"
)

// Every command a user can see has a help page: summary, usage, flags in
// --flag form, global flags apart, and at least two examples.
func TestEveryCommandHasHelp(t *testing.T) {
	t.Chdir(t.TempDir()) // no workspace: help never needs one
	for _, name := range commandNames() {
		t.Run(name, func(t *testing.T) {
			ht, ok := helpTexts[name]
			if !ok {
				t.Fatalf("command %q has no entry in helpTexts (cmd/osiris/help.go)", name)
			}
			n := 0
			for _, e := range ht.examples {
				if strings.HasPrefix(e, "osiris ") {
					n++
				}
			}
			if n < 2 {
				t.Errorf("command %q has %d example command lines, want at least 2", name, n)
			}
			var out, errb bytes.Buffer
			if code := run([]string{"help", name}, strings.NewReader(""), &out, &errb); code != 0 {
				t.Fatalf("osiris help %s: exit %d, stderr %s", name, code, errb.String())
			}
			h := out.String()
			for _, want := range []string{"osiris " + name + " — ", "\nUsage:\n  osiris " + name, "\nGlobal flags:\n", "\nExamples:\n"} {
				if !strings.Contains(h, want) {
					t.Errorf("help of %s lacks %q:\n%s", name, want, h)
				}
			}
			for _, line := range strings.Split(h, "\n") {
				// A long flag written with one dash ("-dry-run") is Go's style, not ours.
				if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "-") && !strings.HasPrefix(f[0], "--") && len(strings.TrimRight(f[0], ",")) > 2 {
					t.Errorf("help of %s lists a flag in single-dash form: %q", name, line)
				}
			}
		})
	}
}

// The examples of the help pages are real: their commands and flags exist.
func TestHelpExamplesParse(t *testing.T) {
	a := newApp(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	for name, ht := range helpTexts {
		for _, e := range ht.examples {
			if !strings.HasPrefix(e, "osiris ") {
				continue
			}
			for _, cmdline := range strings.Split(e, "&&") {
				words := strings.Fields(strings.TrimSpace(cmdline))
				if len(words) == 0 || words[0] != "osiris" {
					continue
				}
				words = words[1:]
				// Skip the global flags.
				for len(words) > 0 && strings.HasPrefix(words[0], "-") {
					if words[0] == "-C" || words[0] == "--profile" {
						words = words[1:]
					}
					words = words[1:]
				}
				if len(words) == 0 {
					continue // osiris --version
				}
				c, ok := lookupCommand(words[0])
				if !ok {
					if words[0] == "help" {
						continue
					}
					if _, planned := helpTexts[words[0]]; planned {
						continue // a command another change adds
					}
					t.Errorf("help of %s: example %q: no command %q", name, e, words[0])
					continue
				}
				fs := a.commandFlags(c)
				for _, w := range words[1:] {
					if w == ">" || strings.HasPrefix(w, "<(") {
						break
					}
					if !strings.HasPrefix(w, "-") || fs == nil {
						continue
					}
					flagName, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
					if fs.Lookup(flagName) == nil && flagName != "help" {
						t.Errorf("help of %s: example %q: %s has no flag %s", name, e, words[0], w)
					}
				}
			}
		}
	}
}
