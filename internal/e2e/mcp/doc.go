// Package mcp holds the end-to-end tests of `osiris mcp`: the real binary
// driven over stdio by the MCP Go SDK's own client, as an AI assistant's
// client drives it, against the real MariaDB (Sakila) — and the MCP
// conformance suite against `osiris mcp --http`.
package mcp
