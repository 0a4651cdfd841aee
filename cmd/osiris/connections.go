package main

import (
	"context"
	"flag"
	"sort"
	"strings"
	"time"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/workspace"
)

type connectionRow struct {
	Ref     string         `json:"ref"`
	Family  string         `json:"family"`
	Alias   string         `json:"alias"`
	Default bool           `json:"default"`
	Host    string         `json:"host,omitempty"`
	Source  string         `json:"source"`
	Fields  map[string]any `json:"fields"`
}

func (a *app) cmdConnections(args []string) error {
	fs := flag.NewFlagSet("connections", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 10*time.Second, "doctor: time allowed per connection")
	pos, err := a.parseFlags(fs, args, "connections list | doctor [@family.alias...]")
	if err != nil {
		return err
	}
	if *timeout <= 0 {
		return diag.Usage("--timeout %s is not positive; give the time allowed per connection, such as 10s", *timeout)
	}
	if len(pos) == 0 {
		pos = []string{"list"}
	}
	ws, err := a.workspace()
	if err != nil {
		return err
	}
	switch pos[0] {
	case "list":
		rows := connectionRows(ws)
		if a.json {
			return a.printJSON(rows)
		}
		if len(rows) == 0 {
			a.outf("no connections in %s\n", ws.Files.Rel(ws.ConfigFile))
			return nil
		}
		a.outf("%-28s %-10s %-8s %-26s %s\n", "CONNECTION", "FAMILY", "DEFAULT", "HOST", "FROM")
		for _, r := range rows {
			def := ""
			if r.Default {
				def = "yes"
			}
			a.outf("%-28s %-10s %-8s %-26s %s\n", r.Ref, r.Family, def, r.Host, r.Source)
		}
		return nil
	case "doctor":
		return a.connectionsDoctor(ws, pos[1:], *timeout)
	default:
		return diag.Usage("unknown subcommand %q; use: osiris connections list | doctor", pos[0])
	}
}

// connectionRows lists connections with raw (unexpanded) fields, secret
// values masked by key and by value.
func connectionRows(ws *workspace.Workspace) []connectionRow {
	var rows []connectionRow
	for _, ref := range ws.ConnectionRefs() {
		fam, alias, _ := strings.Cut(strings.TrimPrefix(ref, "@"), ".")
		c, ok := ws.Connection(fam, alias)
		if !ok {
			continue
		}
		fields := map[string]any{}
		for k, v := range c.Fields {
			fields[k] = ws.Masker.MaskValue(k, v)
		}
		host := ""
		for _, k := range []string{"host", "path", "base_dir", "url"} {
			if v, ok := fields[k]; ok {
				host, _ = v.(string)
				break
			}
		}
		if host == "" {
			if _, ok := fields["dsn"]; ok {
				host = "(dsn)"
			}
		}
		rows = append(rows, connectionRow{Ref: ref, Family: fam, Alias: alias, Default: c.Default, Host: host, Source: c.File, Fields: fields})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Ref < rows[j].Ref })
	return rows
}

type doctorRow struct {
	Ref       string `json:"ref"`
	OK        bool   `json:"ok"`
	LatencyMS int64  `json:"latency_ms"`
	Error     string `json:"error,omitempty"`
}

func (a *app) connectionsDoctor(ws *workspace.Workspace, refs []string, timeout time.Duration) error {
	if len(refs) == 0 {
		refs = ws.ConnectionRefs()
	}
	var out []doctorRow
	failed := 0
	for _, ref := range refs {
		row := a.doctorOne(context.Background(), ws, ref, timeout)
		if !row.OK {
			failed++
		}
		out = append(out, row)
	}
	if a.json {
		if err := a.printJSON(out); err != nil {
			return err
		}
	} else {
		for _, r := range out {
			if r.OK {
				a.outf("ok    %-28s %d ms\n", r.Ref, r.LatencyMS)
			} else {
				a.outf("FAIL  %-28s %s\n", r.Ref, r.Error)
			}
		}
	}
	if failed > 0 {
		return &exitError{code: exitRunFailed}
	}
	return nil
}

// doctorOne checks one connection (`connections doctor`, the MCP tool
// connections_doctor).
func (a *app) doctorOne(ctx context.Context, ws *workspace.Workspace, ref string, timeout time.Duration) doctorRow {
	fam, _, _ := strings.Cut(strings.TrimPrefix(ref, "@"), ".")
	row := doctorRow{Ref: ref}
	start := time.Now()
	conn, err := ws.ResolveConnection(ref, fam)
	if err == nil {
		if p := component.PingerFor(fam); p == nil {
			err = diag.Usage("no check for connection family %q", fam)
		} else {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			err = p(pctx, conn, ws.Files)
			cancel()
		}
	}
	row.LatencyMS = time.Since(start).Milliseconds()
	if err != nil {
		row.Error = a.mask(err.Error())
	} else {
		row.OK = true
	}
	return row
}
