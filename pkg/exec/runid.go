package exec

import "github.com/oklog/ulid/v2"

// NewRunID returns a new run id: a ULID (sortable by time, unique across
// concurrent runs and processes).
func NewRunID() string { return ulid.Make().String() }
