package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/diag"
)

func (a *app) cmdComponents(args []string) error {
	fs := flag.NewFlagSet("components", flag.ContinueOnError)
	pos, err := a.parseFlags(fs, args, "components list | show NAME")
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		pos = []string{"list"}
	}
	switch pos[0] {
	case "list":
		specs := component.Specs()
		if a.json {
			return a.printJSON(specs)
		}
		for _, s := range specs {
			desc := s.Description
			if s.AliasOf != "" {
				desc = "alias of " + s.AliasOf
			}
			a.outf("%-30s %-9s %-22s %s\n", s.Name, strings.Join(s.Modes, ","), familyText(s), desc)
		}
		return nil
	case "show":
		if len(pos) != 2 {
			return diag.Usage("usage: osiris components show NAME")
		}
		s, ok := component.Lookup(pos[1])
		if !ok {
			return diag.Usage("no component %q; `osiris components list` shows them", pos[1])
		}
		if a.json {
			return a.printJSON(s)
		}
		a.outf("%s — %s\n", s.Name, s.Description)
		if s.AliasOf != "" {
			a.outf("alias of:   %s\n", s.AliasOf)
		}
		a.outf("role:       %s\nmodes:      %s\nconnection: %s\n", s.Role, strings.Join(s.Modes, ", "), familyText(s))
		for _, g := range s.ExactlyOneOf {
			a.outf("exactly one of: %s\n", strings.Join(g, ", "))
		}
		if len(s.PrimaryKeyFor) > 0 {
			a.outf("primary_key required for write_mode: %s\n", strings.Join(s.PrimaryKeyFor, ", "))
		}
		a.outf("\nconfig:\n")
		for _, f := range s.Fields {
			var extra []string
			if f.Required {
				extra = append(extra, "required")
			}
			if f.Default != nil {
				d, _ := json.Marshal(f.Default)
				extra = append(extra, "default "+string(d))
			}
			if len(f.Enum) > 0 {
				extra = append(extra, "one of "+strings.Join(f.Enum, "|"))
			}
			if f.Min != nil {
				extra = append(extra, fmt.Sprintf("min %g", *f.Min))
			}
			if f.Max != nil {
				extra = append(extra, fmt.Sprintf("max %g", *f.Max))
			}
			if f.Secret {
				extra = append(extra, "secret")
			}
			e := ""
			if len(extra) > 0 {
				e = " [" + strings.Join(extra, ", ") + "]"
			}
			a.outf("  %-18s %-12s %s%s\n", f.Name, f.Type, f.Doc, e)
		}
		return nil
	default:
		return diag.Usage("unknown subcommand %q; use: osiris components list | show NAME", pos[0])
	}
}

func familyText(s component.Spec) string {
	if len(s.Families) == 0 {
		return "-"
	}
	t := strings.Join(s.Families, "|")
	if s.ConnectionRequired {
		return t
	}
	return t + " (optional)"
}
