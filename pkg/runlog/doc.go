// Package runlog reads recorded runs back: the run index
// (<state>/index/runs.jsonl, rebuilt from the run directories when it is
// missing or damaged), listing and selecting runs (`last`,
// `last:<pipeline>`, id prefixes shown unique as git shows them), a run's
// detail and events (also while it is still going, and after it was
// killed: both read from its events), diffs between two runs, retention
// (gc), and the static HTML site: run_logs/index.html and a
// self-contained report.html per run directory, kept current while a run
// goes (LiveReport) and served on the loopback address by `logs serve`.
//
// It reads what pkg/exec records and writes only derived files (the index
// when it rebuilds or collects it, the HTML pages, a live run's `alive`
// mark) and, for gc, removes run directories. It never runs a pipeline and
// never touches build/. Packages never print: the CLI
// (cmd/osiris/logs.go) formats what this package returns, and makes it
// safe for a terminal (internal/termsafe).
//
// # The run page, point by point
//
// report.html was held against Dagster's run view and a GitHub Actions run
// page. What each shows, and what osiris does:
//
//	point                  Dagster run view                  GitHub Actions run page           osiris report.html
//	---------------------  --------------------------------  --------------------------------  ----------------------------------------------
//	status at a glance     status tag; failure banner        status icon and summary           badge, "errors" count (failed + killed steps),
//	                                                                                           banner for running, cancelled and killed runs
//	while it runs          live (GraphQL subscription)       live log stream                   rewritten as steps start/finish and every 3 s,
//	                                                                                           reloads itself; index lists it with its step
//	a killed run           marked failed by run monitoring;  "runner lost" / cancelled; steps  banner; finished, killed and not_started
//	                       steps left "unknown"              cut off                           steps; times up to its last sign of life
//	structure              op/asset graph                    job graph                         DAG (SVG) coloured by status, rows, duration
//	timing                 Gantt of the steps                durations per job and step        timeline (Gantt) of the steps
//	step drill-down        logs, config, materializations    expandable step logs              details per step: error, config as run
//	                                                                                           (masked), its log lines, schema, first rows
//	logs / events          structured, filter by step, type  text log, search                  events table: filter by step, type, text;
//	                       and level, search                                                   fields as key/value
//	the data               metadata a user attaches          none                              schema with null counts, first 20 rows, cut
//	                                                                                           values with their length
//	against the last run   materialization history           none                              "since the previous run": changed steps,
//	                                                                                           config keys, rows, schema, digests
//	where it ran           run launcher, tags                runner name                       where, host and pid, sandbox sync figures
//	offline                needs its webserver and database  needs the site                    one file, file://, no network (CSP), < 2 MB
//	secrets                as the user logs them             masked ***                        masked everywhere (a test checks every page)
//	re-run                 "re-execute from failure" button  "re-run failed jobs" button       not a button (a static page): the command
//	                                                                                           line to run it again is in the header
//
// Left out on purpose: buttons that act (a page from file:// runs nothing),
// per-step log levels (osiris.log has one level per event).
package runlog
