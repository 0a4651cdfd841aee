// Package remote runs a compiled manifest in a sandbox: the framed protocol
// spoken over the worker's stdin/stdout, the content-addressed store the
// sandbox keeps between runs, the client (`osiris run --remote`) and the
// worker (`osiris worker --stdio`).
//
// It is a transport, not a runner. The worker hands the manifest to the same
// pkg/exec Engine.Run a local run uses; events, metrics and the result come
// back as the engine emitted them and are recorded locally by the same
// exec.Recorder. Everything the run needs travels by SHA-256 (the manifest,
// its cfg/, every workspace file a step reads, DuckDB files of the
// connections used) and everything it produces comes back by SHA-256,
// verified on both sides. Secrets travel once, in the run request, for the
// connections the manifest uses plus [remote.x].pass_env; the worker keeps
// them in memory and masks them in everything it emits.
//
// Where workers run (a bubblewrap jail, a container, an ssh host) is
// pkg/remote/sandbox's business; nothing here assumes a disk shared with
// the sandbox.
package remote
