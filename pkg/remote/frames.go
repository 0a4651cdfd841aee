package remote

import "github.com/osiris-go/osiris/pkg/remote/wire"

// ProtocolVersion is the version both sides state in hello. A worker
// refuses a client of another version (and the client a worker), naming
// both: client and worker are the same binary only when provisioned so.
//
// 2: blobs re-verified by the store (missing.corrupted, done.missing),
// run files sent in chunks (files frames) before a large run request.
const ProtocolVersion = 2

// The framing lives in pkg/remote/wire (small, fuzzed on its own).
type (
	Frame      = wire.Frame
	FrameError = wire.FrameError
	Encoder    = wire.Encoder
	Decoder    = wire.Decoder
)

var (
	NewEncoder = wire.NewEncoder
	NewDecoder = wire.NewDecoder
	NewFrame   = wire.NewFrame
)

// Frame types.
const (
	TypeHello   = wire.TypeHello
	TypeHave    = wire.TypeHave
	TypeMissing = wire.TypeMissing
	TypePut     = wire.TypePut
	TypeData    = wire.TypeData
	TypeStored  = wire.TypeStored
	TypeRun     = wire.TypeRun
	TypeEvent   = wire.TypeEvent
	TypeMetric  = wire.TypeMetric
	TypeDone    = wire.TypeDone
	TypeGet     = wire.TypeGet
	TypeBlob    = wire.TypeBlob
	TypeCancel  = wire.TypeCancel
	TypeBye     = wire.TypeBye
	TypeError   = wire.TypeError
	TypeStatus  = wire.TypeStatus
	TypeLog     = wire.TypeLog
	TypeFiles   = wire.TypeFiles
	TypeGC      = wire.TypeGC

	ChunkBytes = wire.ChunkBytes
)
