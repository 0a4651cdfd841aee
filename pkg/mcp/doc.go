// Package mcp serves an osiris workspace over the Model Context Protocol
// (the official Go SDK), so that an AI assistant can list connections and
// components, discover a database, validate and save pipelines, compile,
// run and read run records — with the tool names of Osiris-Python's MCP
// server, so that an assistant configured for it works here.
//
// It is one more caller of the packages the CLI calls: the validator
// (pkg/compile), the component registry and its discoverers
// (pkg/component), the run store (pkg/runlog). What only the CLI knows —
// how `osiris run` and `osiris compile` prepare, record and execute a
// pipeline — it reaches through Host, which cmd/osiris implements with the
// very functions its commands use. It is not a second validator, runner or
// connection layer, and it reads and writes nothing outside the workspace.
//
// Every answer, notification and log line passes the workspace's Masker.
package mcp
