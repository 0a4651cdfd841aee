// Package wire is the framing of the remote protocol: a 4-byte big-endian
// length, a JSON header of that length, then a binary payload of the length
// the header states. It knows nothing of what the frames mean (that is
// pkg/remote); it only guarantees that no length field can make a reader
// allocate more than the limits, which its fuzz target checks.
package wire

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Frame limits. A frame is a 4-byte big-endian length, a JSON header of that
// length, then a binary payload of the length the header states. Both
// lengths are checked before anything is allocated, so a corrupt or hostile
// length can never make a reader allocate more than MaxHeaderBytes +
// MaxPayloadBytes.
const (
	MaxHeaderBytes  = 1 << 20
	MaxPayloadBytes = 4 << 20
	// ChunkBytes is how much of a blob one data frame carries.
	ChunkBytes = 1 << 20
)

// Frame types.
const (
	TypeHello   = "hello"
	TypeHave    = "have"
	TypeMissing = "missing"
	TypePut     = "put"
	TypeData    = "data"
	TypeStored  = "stored"
	TypeRun     = "run"
	TypeEvent   = "event"
	TypeMetric  = "metric"
	TypeDone    = "done"
	TypeGet     = "get"
	TypeBlob    = "blob"
	TypeCancel  = "cancel"
	TypeBye     = "bye"
	TypeError   = "error"
	TypeStatus  = "status" // doctor: store space, reachability
	TypeLog     = "log"    // a worker log line (payload), answering the run
	TypeFiles   = "files"  // part of the next run request's files (large runs)
	TypeGC      = "gc"     // bound the sandbox now (osiris remote gc)
)

// Frame is one protocol message. ID is set on requests (unique per sender);
// Re names the request a response (or an event, a data chunk) belongs to.
type Frame struct {
	Type    string          `json:"t"`
	ID      uint64          `json:"id,omitempty"`
	Re      uint64          `json:"re,omitempty"`
	Body    json.RawMessage `json:"body,omitempty"`
	Payload []byte          `json:"-"`
}

type wireHeader struct {
	Frame
	PayloadLen int `json:"n,omitempty"`
}

// FrameError is a malformed frame: the stream cannot be trusted after it.
type FrameError struct{ Msg string }

func (e *FrameError) Error() string { return "protocol: " + e.Msg }

// Decoder reads frames.
type Decoder struct {
	r *bufio.Reader
}

// NewDecoder reads frames from r.
func NewDecoder(r io.Reader) *Decoder { return &Decoder{r: bufio.NewReaderSize(r, 64<<10)} }

// Decode reads the next frame. io.EOF means the stream ended cleanly
// between frames; io.ErrUnexpectedEOF that it ended inside one.
func (d *Decoder) Decode() (*Frame, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(d.r, lenBuf[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lenBuf[:])
	if n == 0 || n > MaxHeaderBytes {
		return nil, &FrameError{Msg: fmt.Sprintf("frame header of %d bytes (limit %d): the stream is not osiris frames or is corrupt", n, MaxHeaderBytes)}
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(d.r, hdr); err != nil {
		return nil, eofInFrame(err)
	}
	var h wireHeader
	if err := json.Unmarshal(hdr, &h); err != nil {
		return nil, &FrameError{Msg: fmt.Sprintf("frame header is not JSON: %v", err)}
	}
	if h.Type == "" {
		return nil, &FrameError{Msg: "frame without a type"}
	}
	if h.PayloadLen < 0 || h.PayloadLen > MaxPayloadBytes {
		return nil, &FrameError{Msg: fmt.Sprintf("%s frame states a payload of %d bytes (limit %d)", h.Type, h.PayloadLen, MaxPayloadBytes)}
	}
	f := h.Frame
	if h.PayloadLen > 0 {
		f.Payload = make([]byte, h.PayloadLen)
		if _, err := io.ReadFull(d.r, f.Payload); err != nil {
			return nil, eofInFrame(err)
		}
	}
	return &f, nil
}

func eofInFrame(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Encoder writes frames; safe for concurrent use (events and responses are
// written from different goroutines).
type Encoder struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

// NewEncoder writes frames to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: bufio.NewWriterSize(w, 64<<10)} }

// Encode writes f and flushes.
func (e *Encoder) Encode(f *Frame) error {
	if len(f.Payload) > MaxPayloadBytes {
		return fmt.Errorf("protocol: %s frame payload of %d bytes exceeds %d", f.Type, len(f.Payload), MaxPayloadBytes)
	}
	hdr, err := json.Marshal(wireHeader{Frame: *f, PayloadLen: len(f.Payload)})
	if err != nil {
		return fmt.Errorf("protocol: encoding %s frame: %w", f.Type, err)
	}
	if len(hdr) > MaxHeaderBytes {
		return fmt.Errorf("protocol: %s frame header of %d bytes exceeds %d", f.Type, len(hdr), MaxHeaderBytes)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	var lenBuf [4]byte
	binary.BigEndian.PutUint32(lenBuf[:], uint32(len(hdr)))
	e.w.Write(lenBuf[:])
	e.w.Write(hdr)
	e.w.Write(f.Payload)
	if err := e.w.Flush(); err != nil {
		e.err = fmt.Errorf("protocol: writing %s frame: %w", f.Type, err)
		return e.err
	}
	return nil
}

// NewFrame builds a frame with body marshalled from v (nil: no body).
func NewFrame(typ string, id, re uint64, v any) *Frame {
	f := &Frame{Type: typ, ID: id, Re: re}
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			// Bodies are our own structs; failing to marshal one is a bug.
			panic(fmt.Sprintf("remote: marshalling %s body: %v", typ, err))
		}
		f.Body = b
	}
	return f
}

// DecodeBody unmarshals f's body into v, naming the frame on error.
func (f *Frame) DecodeBody(v any) error {
	if len(f.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(f.Body, v); err != nil {
		return &FrameError{Msg: fmt.Sprintf("%s frame body: %v", f.Type, err)}
	}
	return nil
}
