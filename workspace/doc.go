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
// Files.DataPaths is what DuckDB SQL may read, listed when a session
// opens, as real paths (symlinks resolved). DuckDB's allowed_directories is
// a prefix check made after DuckDB canonicalises both sides (symlinks and
// .. resolved; measured with DuckDB 1.5.6), so what matters is the real
// folders allowed: none may be, or contain, a protected entry, and none may
// lie outside the real root. A folder holding a protected entry (the root
// itself, var/ when build = "var/build") is never allowed whole; its other
// entries are, one by one. A symlink is judged by its real target: self ->
// ., up -> .., r -> / and a link to .env or pipelines/ are left out, a link
// to data adds nothing new. Below an allowed folder, a link such as
// data/self -> .. needs no listing: DuckDB resolves data/self/.env to
// <root>/.env, which no allowed folder holds. So every spelling — self/.env,
// up/<ws>/pipelines/x, data/../.env, /proc/self/cwd/.env — reaches a
// protected entry only through a real path outside the set. A hard link to
// a protected file inside a data folder is the one thing a real path cannot
// tell apart; osiris never makes one. CheckRead applies the policy to a
// path a step reads (a file or a glob, each match checked).
//
// It is not for pipelines (pkg/compile), running anything (pkg/exec) or
// talking to databases: it hands drivers a resolved Connection and, for
// convenience, the connection string in the shape each driver wants.
//
// Values are expanded only at run time (ResolveConnection); Load never
// fails because a variable is missing, so compile and validate work on a
// machine without the secrets.
package workspace
