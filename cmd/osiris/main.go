// Command osiris turns a workspace of pipeline files into data movement.
//
// This package is the command line only: flags, output and exit codes. Every
// command is one file that parses its flags and makes one call into a package.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	_ "github.com/osiris-go/osiris/pkg/component/all" // every built-in component
	"github.com/osiris-go/osiris/pkg/diag"
)

// Exit codes (spec 01).
const (
	exitOK          = 0
	exitRunFailed   = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// exitError carries an exit code with an error that has already been
// reported (err may be nil then) or still has to be.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without os.Exit, so script tests can call it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	err := app.main(args)
	return app.report(err)
}

// report prints err (masked) and returns the exit code it means.
func (a *app) report(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitRunFailed
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	var ue *diag.UsageError
	var dl diag.List
	switch {
	case errors.As(err, &dl):
		code = exitUsage
	case errors.As(err, &ue):
		code = exitUsage
	}
	if err != nil {
		a.printErr(err)
	}
	return code
}
