// Package component is the registry of osiris components: each component is a
// Spec (name, modes, typed config schema, connection family) plus a driver that
// implements one role interface (Extractor, Transformer or Writer).
//
// Drivers live in one folder per family (mysql/, postgres/, duckdb/, file/) and
// register themselves from init(), the database/sql way. The compiler reads the
// specs to validate pipelines; the engine looks drivers up by name. Nothing else
// switches on component names. A family registers, beside its drivers, how to
// check a connection (Pinger: `osiris connections doctor`) and how to list what
// it holds (Discoverer: `osiris discover`, the MCP tool discovery_request).
//
// This package is a leaf of the engine: it knows Arrow and the workspace, never
// the compiler, the engine, terminals or transports.
package component
