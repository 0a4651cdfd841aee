package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	frames := []*Frame{
		NewFrame(TypeHello, 1, 0, map[string]any{"protocol": 1, "osiris_version": "v1"}),
		{Type: TypeData, Re: 7, Payload: bytes.Repeat([]byte{0xab}, ChunkBytes)},
		NewFrame(TypeBye, 2, 0, nil),
	}
	for _, f := range frames {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	dec := NewDecoder(&buf)
	for i, want := range frames {
		got, err := dec.Decode()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got.Type != want.Type || got.ID != want.ID || got.Re != want.Re || !bytes.Equal(got.Payload, want.Payload) || !bytes.Equal(got.Body, want.Body) {
			t.Errorf("frame %d: got %+v, want %+v", i, got, want)
		}
	}
	if _, err := dec.Decode(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

func rawFrame(header string, payload []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(header)))
	b.WriteString(header)
	b.Write(payload)
	return b.Bytes()
}

func TestDecoderRefusesBadFrames(t *testing.T) {
	huge := make([]byte, 4)
	binary.BigEndian.PutUint32(huge, MaxHeaderBytes+1)
	for _, tc := range []struct {
		name string
		in   []byte
		want string // substring of the error; "" = io.ErrUnexpectedEOF
	}{
		{"header length over the limit", huge, "limit"},
		{"zero header length", []byte{0, 0, 0, 0}, "frame header of 0 bytes"},
		{"header not JSON", rawFrame("nope", nil), "not JSON"},
		{"no type", rawFrame(`{"id":1}`, nil), "without a type"},
		{"payload length over the limit", rawFrame(`{"t":"data","n":4194305}`, nil), "limit"},
		{"negative payload length", rawFrame(`{"t":"data","n":-1}`, nil), "payload of -1"},
		{"truncated header", rawFrame(`{"t":"hello"}`, nil)[:8], ""},
		{"truncated payload", rawFrame(`{"t":"data","n":10}`, []byte("abc")), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDecoder(bytes.NewReader(tc.in)).Decode()
			if tc.want == "" {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestEncoderRefusesOversizedPayload(t *testing.T) {
	err := NewEncoder(io.Discard).Encode(&Frame{Type: TypeData, Payload: make([]byte, MaxPayloadBytes+1)})
	if err == nil {
		t.Fatal("a payload over the limit was encoded")
	}
}

// FuzzDecodeFrame: the decoder never panics, and whatever the length fields
// say, a decoded frame's header and payload stay within the limits.
func FuzzDecodeFrame(f *testing.F) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	enc.Encode(NewFrame(TypeHello, 1, 0, map[string]int{"protocol": 1}))
	enc.Encode(&Frame{Type: TypeData, Re: 3, Payload: []byte("payload")})
	f.Add(buf.Bytes())
	f.Add(rawFrame(`{"t":"data","n":4194304}`, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(rawFrame(`{"t":"put","id":2,"body":{"hash":"x","size":-5}}`, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := NewDecoder(bytes.NewReader(data))
		for i := 0; i < 8; i++ {
			fr, err := dec.Decode()
			if err != nil {
				return
			}
			if fr.Type == "" {
				t.Fatal("decoded a frame without a type")
			}
			if len(fr.Payload) > MaxPayloadBytes || len(fr.Body) > MaxHeaderBytes {
				t.Fatalf("frame beyond the limits: payload %d, body %d", len(fr.Payload), len(fr.Body))
			}
			// Whatever decodes re-encodes and decodes to the same frame.
			var out bytes.Buffer
			if err := NewEncoder(&out).Encode(fr); err != nil {
				continue // e.g. a body that is not valid JSON on its own
			}
			again, err := NewDecoder(&out).Decode()
			if err != nil || again.Type != fr.Type || again.ID != fr.ID || again.Re != fr.Re || !bytes.Equal(again.Payload, fr.Payload) {
				t.Fatalf("re-encoded frame differs: %+v vs %+v (%v)", again, fr, err)
			}
		}
	})
}
