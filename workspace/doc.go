// Package workspace is everything osiris knows about the directory it runs
// in: finding the root (the directory holding osiris.toml), loading and
// strictly validating osiris.toml (or an Osiris-Python
// osiris_connections.yaml), reading .env, expanding ${VAR} in connection
// values, deciding what is secret, and masking secret values in any text.
// It also owns the path policy (Files), the one rule for every path osiris
// is given — [paths], a step's path, a connection's base_dir or DuckDB
// path:
//
//   - relative means relative to the root and inside it: `..` that climbs
//     out is refused, and so is a symlink, dangling or not, that leads out;
//   - absolute is honoured as written (data or run_logs elsewhere on purpose);
//   - protected paths are never data, relative or absolute, read or write:
//     osiris.toml, osiris_connections.yaml, every dot-entry of the root
//     (.env, .osiris, .git), and the pipelines, build, run_logs and state
//     folders ([paths]; pipelines = "." protects no folder). build, run_logs
//     and state may not be the root itself;
//   - [paths] folders never overlap one another nor are (or hold)
//     osiris.toml, osiris_connections.yaml, .env or .git, and build,
//     run_logs and state written relative are folders of their own at the
//     root, never inside a data folder (checkPathsLayout).
//
// Connections are strict like the rest of osiris.toml: the families and
// fields osiris knows are listed once, in connkeys.go; in
// osiris_connections.yaml the fields Osiris-Python's connections use are
// accepted too (and ignored).
//
// Files.DataPaths is what DuckDB SQL may touch: the unprotected entries of
// the root, listed when a session opens.
//
// It is not for pipelines (pkg/compile), running anything (pkg/exec) or
// talking to databases: it hands drivers a resolved Connection and, for
// convenience, the connection string in the shape each driver wants.
//
// Values are expanded only at run time (ResolveConnection); Load never
// fails because a variable is missing, so compile and validate work on a
// machine without the secrets.
package workspace
