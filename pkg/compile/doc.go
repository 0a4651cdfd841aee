// Package compile turns an OML 0.1.0 pipeline file into a deterministic,
// secret-free Manifest and writes it under build/.
//
// It owns the whole front end: reading the YAML with positions (goccy/go-yaml
// AST, never a plain Unmarshal, so every problem carries file:line:col),
// the single validator shared by validate, compile, run and watch (all
// problems in one pass, as diag.Diagnostic with stable codes), params and
// profiles, dependency resolution and the topological order, canonical JSON
// and the fingerprints (oml_fp, params_fp, registry_fp, compiler_fp, step_fp,
// manifest_hash), and the build/ writer and reader.
//
// It is not the engine: it never connects to a database, never resolves a
// connection's values (the manifest keeps "@family.alias"), and never reads
// files named in a config. It does apply the workspace path policy
// (workspace.Files, see paths.go) to them — `..`, symlinks out, protected
// files, a writer overwriting its own input or a DuckDB file — so that run
// never meets a path validate accepted; the drivers check again at run time. Component names are never hard-coded here: everything
// about a component comes from its registered component.Spec.
//
// Choices where the spec is silent:
//   - A step with `inputs` but no `needs` depends on its inputs only (not also
//     on the previous step). With neither written, the implicit rule applies
//     (combineNeeds): a step in mode read gets no dependency; a transform or
//     writer depends on the nearest earlier step that produces a table,
//     skipping writers. Osiris-Python's "extract → write" pair lists thus
//     pair each writer with its own extractor and run the extractors in
//     parallel.
//   - A write step must have exactly one upstream step: the table it writes.
//     No step may depend on a writer (it produces no table). Every graph rule
//     the engine checks before a run is checked here first (checkGraph).
//   - step_fp also covers the upstream step ids and the `inputs` names,
//     because a DuckDB processor sees its inputs under those names.
//   - oml_fp hashes the pipeline after params resolution without its
//     `params` and `profiles` sections: their effect is in the resolved steps
//     and in params_fp.
//   - A pipeline outside the workspace is recorded by its base name only, so
//     no absolute path reaches build/.
//   - When a step omits `connection` and its component names families, the
//     first family with a default connection fills it in (also for
//     components where a connection is optional, such as duckdb.writer);
//     without one it is an error only when the spec says ConnectionRequired.
//   - A pipeline's slug (its folder under build/ and run_logs/) includes its
//     sub-folders of the pipelines folder, joined with "." (sales/daily.yaml
//     is sales.daily); files that still share a slug, ignoring case, are
//     refused, and so is a slug that is no portable folder name (characters
//     other than letters, digits, _ . -, more than 64 characters, a Windows
//     device name such as con or nul).
//   - One writer per file (targets.go): two steps whose written paths are
//     one file once cleaned, joined to base_dir and with symlinks followed
//     are refused, because steps without a dependency between them run in
//     no set order. Two duckdb.writer steps may share a database, not a
//     table.
//   - A DuckDB path is a database: a file another step reads or writes as
//     data, or an existing file the spec's CheckFile refuses (no DuckDB
//     header), is an error. ":memory:" is DuckDB's in-memory database: an
//     extractor may query it; a writer into it is refused, since what it
//     wrote would be gone when the step ends.
//   - Top-level keys starting with "x-" are ignored silently (a place for
//     YAML anchors); other unknown keys are warnings.
//   - manifest.yaml is written by a small emitter of this package, and every
//     write is read back and hash-checked before it lands, so the file
//     always loads to exactly the manifest that was hashed.
package compile
