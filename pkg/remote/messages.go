package remote

// Hello is the first frame each way.
type Hello struct {
	Protocol      int    `json:"protocol"`
	OsirisVersion string `json:"osiris_version"`
	// Worker side only:
	OS        string `json:"os,omitempty"`
	Arch      string `json:"arch,omitempty"`
	CASBytes  int64  `json:"cas_bytes,omitempty"`  // bytes held by the store
	FreeBytes int64  `json:"free_bytes,omitempty"` // free space where the store lives
	Dir       string `json:"dir,omitempty"`        // the worker's directory, as it sees it
	// Client side only: the store bound applied after the run.
	GC *GCRequest `json:"gc,omitempty"`
}

// Hashes is the body of have and missing.
type Hashes struct {
	Hashes []string `json:"hashes"`
	// Corrupted (missing only) are blobs the store held under a name their
	// content did not match: removed, and asked for again.
	Corrupted []string `json:"corrupted,omitempty"`
}

// Put announces a blob; data frames (Re = the put's id) carry Size bytes.
type Put struct {
	Hash string `json:"hash"`
	Size int64  `json:"size"`
}

// Stored answers put.
type Stored struct {
	Hash string `json:"hash"`
}

// Get asks for a blob; the answer is a blob frame then data frames.
type Get struct {
	Hash string `json:"hash"`
}

// Blob heads a blob sent in answer to get.
type Blob struct {
	Hash string `json:"hash"`
	Size int64  `json:"size"`
}

// ErrorBody is an error frame: the request it names failed.
type ErrorBody struct {
	Message string `json:"message"`
}

// RunConnection is one connection the manifest uses, resolved (secrets
// included): it exists in the run request and the worker's memory only.
type RunConnection struct {
	Ref    string          `json:"ref"` // as the step wrote it; "" = the family's default
	Family string          `json:"family"`
	Conn   *WireConnection `json:"conn"`
}

// FilesChunk is part of the next run request's Files, sent ahead of it
// when the whole list would not fit one frame.
type FilesChunk struct {
	Files map[string]string `json:"files"`
}

// ListChunk is how many hashes or files travel in one have or files frame:
// far below wire.MaxHeaderBytes even with long paths.
const ListChunk = 2000

// RunRequest asks the worker to run a manifest over files already stored.
type RunRequest struct {
	RunID string `json:"run_id"`
	// Files maps tree paths (forward slashes) to blob hashes: manifest/…
	// is the compiled manifest directory, ws/… the workspace files.
	Files map[string]string `json:"files"`
	// Writable are tree paths a step writes in place (a DuckDB file): they
	// are copied, not hard-linked, out of the store.
	Writable []string `json:"writable,omitempty"`
	// Outputs are workspace paths (ws/…) the client takes back when the
	// run wrote them.
	Outputs     []string          `json:"outputs,omitempty"`
	Connections []RunConnection   `json:"connections,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Options     RunOptions        `json:"options"`
	// TimeoutMs bounds the run in the worker (osiris run --timeout), so a
	// time limit ends it the way it ends a local run; 0 = none.
	TimeoutMs int64 `json:"timeout_ms,omitempty"`
}

// Done ends a run: the engine's result and the blobs it produced, by tree
// path (run/… in the run directory, ws/… workspace files).
type Done struct {
	Status    string            `json:"status"`
	Result    *RunResult        `json:"result,omitempty"`
	Error     string            `json:"error,omitempty"`
	Artifacts map[string]string `json:"artifacts,omitempty"`
	Sizes     map[string]int64  `json:"sizes,omitempty"`
	// Missing are blobs of the run request that failed verification as the
	// run's tree was laid out (nothing ran): the client uploads them and
	// sends the run again.
	Missing []string `json:"missing,omitempty"`
}

// Status answers a status request (osiris remote doctor): free space and
// whether each address is reachable from inside the sandbox.
type Status struct {
	CASBytes  int64        `json:"cas_bytes"`
	CASBlobs  int64        `json:"cas_blobs"`
	FreeBytes int64        `json:"free_bytes"`
	RunsBytes int64        `json:"runs_bytes"` // run trees (of live or dead workers)
	TmpBytes  int64        `json:"tmp_bytes"`  // partial uploads
	BinBytes  int64        `json:"bin_bytes"`  // provisioned binaries
	KeptRuns  int          `json:"kept_runs"`  // run records pinning blobs
	Reach     []ReachCheck `json:"reach,omitempty"`
}

// ReachCheck is one address tried from inside the sandbox.
type ReachCheck struct {
	Name  string `json:"name"` // a connection reference
	Addr  string `json:"addr"` // host:port
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// StatusRequest lists the addresses to try.
type StatusRequest struct {
	Reach []ReachCheck `json:"reach,omitempty"`
}
