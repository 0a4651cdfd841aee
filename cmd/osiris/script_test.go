package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/osiris-go/osiris/internal/testenv"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"osiris": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the end-to-end scenarios in testdata/script/*.txtar: each
// is a workspace, the commands a user types and what they must print.
// Conditions: [mysql] and [postgres] say the real server is reachable; under
// CI=true a script that needs one fails instead of skipping.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("NO_COLOR", "1")
			e.Setenv("TZ", "UTC")
			e.Setenv("OSIRIS_TEST_MYSQL_HOST", testenv.MySQLHost())
			e.Setenv("OSIRIS_TEST_PG_HOST", testenv.PGHost())
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "mysql":
				return testenv.Reachable(testenv.MySQLHost(), testenv.MySQLPort()), nil
			case "postgres":
				return testenv.Reachable(testenv.PGHost(), testenv.PGPort()), nil
			case "ci":
				return testenv.InCI(), nil
			}
			return false, nil
		},
		RequireExplicitExec: true,
	})
}
