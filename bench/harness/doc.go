// Command harness is osiris's benchmark harness (`make bench`): it creates the
// movies dataset in MariaDB when missing, writes throw-away bench workspaces,
// runs each workload of spec 07 (W1…W8) with one warm-up and BENCH_RUNS measured
// runs next to its baseline measured in the same sitting (the mysql client, a
// raw mysql | sed | psql pipe, the budget-0 path, pandas when installed), and
// prints a Markdown table plus a JSON file of every raw figure under
// bench/results/.
//
// It measures the osiris binary from the outside, the way a user runs it, so it
// imports nothing from osiris itself. It is not a test: figures on small noisy
// machines only mean something as ratios against a baseline of the same run,
// and timing never decides whether `go test` passes.
//
// Peak RSS is the largest single process of what was run. For osiris that is
// the Maxrss of the waited child (wait4). For shell pipelines each stage is
// wrapped in `/usr/bin/time -f %M` when that is installed, which gives every
// stage's peak; without it the harness falls back to the Maxrss of the waited
// `bash -c`, which Linux reports as the maximum over bash and every descendant
// it reaped — the same "largest process" figure, without the per-stage split.
// (RUSAGE_CHILDREN of the harness cannot be used for deltas: ru_maxrss is a
// running maximum over all children ever, not a sum.)
package main
