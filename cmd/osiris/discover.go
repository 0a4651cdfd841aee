package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/diag"
)

func (a *app) cmdDiscover(args []string) error {
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	samples := fs.Int("samples", 0, fmt.Sprintf("read up to `N` rows of each table (0 to %d), masked", component.MaxDiscoverSamples))
	timeout := fs.Duration("timeout", time.Minute, "time allowed for the whole discovery")
	pos, err := a.parseFlags(fs, args, "discover @family.alias [--samples N] [--json]")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return diag.Usage("discover takes one connection, such as @mysql.sakila (osiris connections list shows them)")
	}
	if *timeout <= 0 {
		return diag.Usage("--timeout %s is not positive; give the time allowed, such as 1m", *timeout)
	}
	ws, err := a.workspace()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	d, err := component.Discover(ctx, ws, pos[0], component.DiscoverOptions{Samples: *samples})
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(d)
	}
	a.outf("%s (%s, database %s): %d tables and views\n", d.Connection, d.Family, d.Database, len(d.Tables))
	for _, t := range d.Tables {
		name := t.Name
		if t.Schema != "" {
			name = t.Schema + "." + t.Name
		}
		a.outf("\n%s  %s  ~%d rows", name, t.Kind, t.RowEstimate)
		if len(t.PrimaryKey) > 0 {
			a.outf("  primary key (%s)", strings.Join(t.PrimaryKey, ", "))
		}
		a.outf("\n")
		for _, c := range t.Columns {
			null := ""
			if c.Nullable {
				null = "  null"
			}
			a.outf("  %-28s %s%s\n", c.Name, c.Type, null)
		}
		for _, fk := range t.ForeignKeys {
			a.outf("  foreign key (%s) → %s (%s)\n", strings.Join(fk.Columns, ", "), fk.RefTable, strings.Join(fk.RefColumns, ", "))
		}
		for _, row := range t.Samples {
			vals := make([]string, len(row))
			for i, v := range row {
				if v == nil {
					vals[i] = "NULL"
				} else {
					vals[i] = fmt.Sprint(v)
				}
			}
			a.outf("  | %s\n", strings.Join(vals, " | "))
		}
	}
	return nil
}
