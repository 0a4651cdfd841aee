// Package workspace is everything osiris knows about the directory it runs
// in: finding the root (the directory holding osiris.toml), loading and
// strictly validating osiris.toml (or an Osiris-Python
// osiris_connections.yaml), reading .env, expanding ${VAR} in connection
// values, deciding what is secret, and masking secret values in any text.
// It also resolves workspace-relative paths without letting them escape.
//
// It is not for pipelines (pkg/compile), running anything (pkg/exec) or
// talking to databases: it hands drivers a resolved Connection and, for
// convenience, the connection string in the shape each driver wants.
//
// Values are expanded only at run time (ResolveConnection); Load never
// fails because a variable is missing, so compile and validate work on a
// machine without the secrets.
package workspace
