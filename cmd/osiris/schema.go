package main

import (
	"flag"
	"fmt"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/diag"
)

func (a *app) cmdSchema(args []string) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	pos, err := a.parseFlags(fs, args, "schema")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return diag.Usage("schema takes no arguments; redirect its output to a file: osiris schema > pipeline.schema.json")
	}
	b, err := compile.JSONSchema()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(a.stdout, string(b))
	return err
}
