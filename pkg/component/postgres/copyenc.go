package postgres

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"
)

// The binary COPY stream is encoded straight from the Arrow buffers: each
// column binds to a small closure over the typed value slice once per batch,
// so no value is ever boxed into an interface on the way to the socket.

const (
	// pgEpochMicros and pgEpochDays move Unix-epoch values to PostgreSQL's
	// 2000-01-01 epoch.
	pgEpochMicros = 946684800000000
	pgEpochDays   = 10957
	// copyChunk is how much encoded data is produced per refill; pgconn
	// sends 64 KiB CopyData messages, so a few of those per refill.
	copyChunk = 256 << 10
)

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// encodeFn appends field i (int32 length + value, or −1 for NULL).
type encodeFn func(dst []byte, i int) ([]byte, error)

// errNoDirectEncoding: the Arrow type has no direct binary encoding for the
// target column type (the writer then loads through a cast).
var errNoDirectEncoding = errors.New("no direct binary encoding")

func appendNull(dst []byte) []byte { return append(dst, 0xff, 0xff, 0xff, 0xff) }

// valueEnc wraps a non-null encoder with the validity check.
func valueEnc(arr arrow.Array, f func(dst []byte, i int) ([]byte, error)) encodeFn {
	if arr.NullN() == 0 {
		return f
	}
	return func(dst []byte, i int) ([]byte, error) {
		if arr.IsNull(i) {
			return appendNull(dst), nil
		}
		return f(dst, i)
	}
}

func appendInt16(dst []byte, v int16) []byte {
	return binary.BigEndian.AppendUint16(append(dst, 0, 0, 0, 2), uint16(v))
}
func appendInt32(dst []byte, v int32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, 0, 0, 0, 4), uint32(v))
}
func appendInt64(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0, 0, 0, 8), uint64(v))
}

// appendVar appends a length-prefixed variable-length value.
func appendVar(dst []byte, b []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

// appendNumericField appends a length-prefixed numeric.
func appendNumericField(dst []byte, enc func([]byte) []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = enc(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

type rangeError struct {
	value  string
	target string
}

func (e *rangeError) Error() string {
	return fmt.Sprintf("value %s out of range for %s", e.value, e.target)
}

func bindSigned[T int8 | int16 | int32 | int64](arr arrow.Array, vals []T, target uint32) (encodeFn, error) {
	switch target {
	case pgtype.Int2OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			v := int64(vals[i])
			if v < math.MinInt16 || v > math.MaxInt16 {
				return dst, &rangeError{fmt.Sprint(v), "smallint"}
			}
			return appendInt16(dst, int16(v)), nil
		}), nil
	case pgtype.Int4OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			v := int64(vals[i])
			if v < math.MinInt32 || v > math.MaxInt32 {
				return dst, &rangeError{fmt.Sprint(v), "integer"}
			}
			return appendInt32(dst, int32(v)), nil
		}), nil
	case pgtype.Int8OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) { return appendInt64(dst, int64(vals[i])), nil }), nil
	case pgtype.Float4OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			return binary.BigEndian.AppendUint32(append(dst, 0, 0, 0, 4), math.Float32bits(float32(vals[i]))), nil
		}), nil
	case pgtype.Float8OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			return binary.BigEndian.AppendUint64(append(dst, 0, 0, 0, 8), math.Float64bits(float64(vals[i]))), nil
		}), nil
	case pgtype.NumericOID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			v := int64(vals[i])
			mag := [1]uint64{uint64(v)}
			if v < 0 {
				mag[0] = uint64(-v) // two's complement: also right for MinInt64
			}
			return appendNumericField(dst, func(b []byte) []byte { return appendNumeric(b, mag[:], v < 0, 0) }), nil
		}), nil
	}
	return nil, errNoDirectEncoding
}

func bindUnsigned[T uint8 | uint16 | uint32 | uint64](arr arrow.Array, vals []T, target uint32) (encodeFn, error) {
	switch target {
	case pgtype.Int2OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			v := uint64(vals[i])
			if v > math.MaxInt16 {
				return dst, &rangeError{fmt.Sprint(v), "smallint"}
			}
			return appendInt16(dst, int16(v)), nil
		}), nil
	case pgtype.Int4OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			v := uint64(vals[i])
			if v > math.MaxInt32 {
				return dst, &rangeError{fmt.Sprint(v), "integer"}
			}
			return appendInt32(dst, int32(v)), nil
		}), nil
	case pgtype.Int8OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			v := uint64(vals[i])
			if v > math.MaxInt64 {
				return dst, &rangeError{fmt.Sprint(v), "bigint"}
			}
			return appendInt64(dst, int64(v)), nil
		}), nil
	case pgtype.Float4OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			return binary.BigEndian.AppendUint32(append(dst, 0, 0, 0, 4), math.Float32bits(float32(vals[i]))), nil
		}), nil
	case pgtype.Float8OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			return binary.BigEndian.AppendUint64(append(dst, 0, 0, 0, 8), math.Float64bits(float64(vals[i]))), nil
		}), nil
	case pgtype.NumericOID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			mag := [1]uint64{uint64(vals[i])}
			return appendNumericField(dst, func(b []byte) []byte { return appendNumeric(b, mag[:], false, 0) }), nil
		}), nil
	}
	return nil, errNoDirectEncoding
}

func bindFloat[T float32 | float64](arr arrow.Array, vals []T, target uint32) (encodeFn, error) {
	switch target {
	case pgtype.Float4OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			return binary.BigEndian.AppendUint32(append(dst, 0, 0, 0, 4), math.Float32bits(float32(vals[i]))), nil
		}), nil
	case pgtype.Float8OID:
		return valueEnc(arr, func(dst []byte, i int) ([]byte, error) {
			return binary.BigEndian.AppendUint64(append(dst, 0, 0, 0, 8), math.Float64bits(float64(vals[i]))), nil
		}), nil
	}
	return nil, errNoDirectEncoding
}

// bindBytes binds string and binary arrays; at returns value i's bytes.
func bindBytes(a arrow.Array, at func(i int) []byte, isText bool, target uint32) (encodeFn, error) {
	switch {
	case target == pgtype.ByteaOID || (isText && isTextLike(target)):
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) { return appendVar(dst, at(i)), nil }), nil
	case isText && target == pgtype.JSONBOID:
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			b := at(i)
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)+1))
			return append(append(dst, 1), b...), nil // jsonb binary = version 1 + text
		}), nil
	case isText && target == pgtype.UUIDOID:
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			u, err := parseUUID(at(i))
			if err != nil {
				return dst, err
			}
			return append(append(dst, 0, 0, 0, 16), u[:]...), nil
		}), nil
	}
	return nil, errNoDirectEncoding
}

// isTextLike: types whose binary form is the text bytes themselves.
func isTextLike(oid uint32) bool {
	switch oid {
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.JSONOID, pgtype.XMLOID:
		return true
	}
	return false
}

func parseUUID(b []byte) ([16]byte, error) {
	var u [16]byte
	var h [32]byte
	n := 0
	for _, c := range b {
		if c == '-' || c == '{' || c == '}' {
			continue
		}
		if n == 32 {
			n++
			break
		}
		h[n] = c
		n++
	}
	if n != 32 {
		return u, fmt.Errorf("invalid uuid %q", b)
	}
	if _, err := hex.Decode(u[:], h[:]); err != nil {
		return u, fmt.Errorf("invalid uuid %q", b)
	}
	return u, nil
}

// toMicros converts a value in unit to microseconds; lossy counts values that
// had sub-microsecond digits (nanoseconds), which PostgreSQL cannot hold.
func toMicrosFn(unit arrow.TimeUnit, lossy *int64) func(v int64) (int64, error) {
	mul := func(f int64) func(v int64) (int64, error) {
		return func(v int64) (int64, error) {
			if v > math.MaxInt64/f || v < math.MinInt64/f {
				return 0, &rangeError{fmt.Sprint(v), "a microsecond value"}
			}
			return v * f, nil
		}
	}
	switch unit {
	case arrow.Second:
		return mul(1_000_000)
	case arrow.Millisecond:
		return mul(1_000)
	case arrow.Nanosecond:
		return func(v int64) (int64, error) {
			q, r := v/1000, v%1000
			if r != 0 {
				*lossy++
				if r < 0 {
					q-- // floor, so an instant never moves forward
				}
			}
			return q, nil
		}
	}
	return func(v int64) (int64, error) { return v, nil }
}

// bindColumn binds one Arrow column of a batch to the encoder for a target
// column of type target. lossy counts sub-microsecond truncations.
func bindColumn(arr arrow.Array, target uint32, lossy *int64) (encodeFn, error) {
	if arr.DataType().ID() == arrow.NULL {
		return func(dst []byte, i int) ([]byte, error) { return appendNull(dst), nil }, nil
	}
	switch a := arr.(type) {
	case *array.Int8:
		return bindSigned(a, a.Int8Values(), target)
	case *array.Int16:
		return bindSigned(a, a.Int16Values(), target)
	case *array.Int32:
		return bindSigned(a, a.Int32Values(), target)
	case *array.Int64:
		return bindSigned(a, a.Int64Values(), target)
	case *array.Uint8:
		return bindUnsigned(a, a.Uint8Values(), target)
	case *array.Uint16:
		return bindUnsigned(a, a.Uint16Values(), target)
	case *array.Uint32:
		return bindUnsigned(a, a.Uint32Values(), target)
	case *array.Uint64:
		return bindUnsigned(a, a.Uint64Values(), target)
	case *array.Float32:
		return bindFloat(a, a.Float32Values(), target)
	case *array.Float64:
		return bindFloat(a, a.Float64Values(), target)
	case *array.Boolean:
		if target != pgtype.BoolOID {
			break
		}
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			if a.Value(i) {
				return append(dst, 0, 0, 0, 1, 1), nil
			}
			return append(dst, 0, 0, 0, 1, 0), nil
		}), nil
	case *array.Decimal128:
		if target != pgtype.NumericOID {
			break
		}
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		vals := a.Values()
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			return appendNumericField(dst, func(b []byte) []byte { return appendNumericDecimal128(b, vals[i], scale) }), nil
		}), nil
	case *array.Decimal256:
		if target != pgtype.NumericOID {
			break
		}
		scale := a.DataType().(*arrow.Decimal256Type).Scale
		vals := a.Values()
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			return appendNumericField(dst, func(b []byte) []byte { return appendNumericDecimal256(b, vals[i], scale) }), nil
		}), nil
	case *array.String:
		// ValueBytes starts at the first value of a sliced array.
		off, data := a.ValueOffsets(), a.ValueBytes()
		base := off[0]
		return bindBytes(a, func(i int) []byte { return data[off[i]-base : off[i+1]-base] }, true, target)
	case *array.LargeString:
		// ValueBytes starts at the first value of a sliced array.
		off, data := a.ValueOffsets(), a.ValueBytes()
		base := off[0]
		return bindBytes(a, func(i int) []byte { return data[off[i]-base : off[i+1]-base] }, true, target)
	case *array.StringView:
		return bindBytes(a, func(i int) []byte { return []byte(a.Value(i)) }, true, target)
	case *array.Binary:
		return bindBytes(a, a.Value, false, target)
	case *array.LargeBinary:
		return bindBytes(a, a.Value, false, target)
	case *array.BinaryView:
		return bindBytes(a, a.Value, false, target)
	case *array.FixedSizeBinary:
		return bindBytes(a, a.Value, false, target)
	case *array.Date32:
		if target != pgtype.DateOID {
			break
		}
		vals := a.Date32Values()
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			return appendInt32(dst, int32(vals[i])-pgEpochDays), nil
		}), nil
	case *array.Date64:
		if target != pgtype.DateOID {
			break
		}
		vals := a.Date64Values()
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			ms := int64(vals[i])
			days := ms / 86_400_000
			if ms%86_400_000 < 0 {
				days--
			}
			return appendInt32(dst, int32(days-pgEpochDays)), nil
		}), nil
	case *array.Timestamp:
		if target != pgtype.TimestampOID && target != pgtype.TimestamptzOID {
			break
		}
		// Without a zone the value is a wall clock and is sent as is; with
		// a zone it is an instant in UTC, which is what timestamptz stores.
		vals := a.TimestampValues()
		conv := toMicrosFn(a.DataType().(*arrow.TimestampType).Unit, lossy)
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			us, err := conv(int64(vals[i]))
			if err != nil {
				return dst, err
			}
			return appendInt64(dst, us-pgEpochMicros), nil
		}), nil
	case *array.Time32:
		if target != pgtype.TimeOID {
			break
		}
		vals := a.Time32Values()
		conv := toMicrosFn(a.DataType().(*arrow.Time32Type).Unit, lossy)
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			us, err := conv(int64(vals[i]))
			return appendInt64(dst, us), err
		}), nil
	case *array.Time64:
		if target != pgtype.TimeOID {
			break
		}
		vals := a.Time64Values()
		conv := toMicrosFn(a.DataType().(*arrow.Time64Type).Unit, lossy)
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			us, err := conv(int64(vals[i]))
			return appendInt64(dst, us), err
		}), nil
	case *array.Duration:
		if target != pgtype.IntervalOID {
			break
		}
		vals := a.DurationValues()
		conv := toMicrosFn(a.DataType().(*arrow.DurationType).Unit, lossy)
		return valueEnc(a, func(dst []byte, i int) ([]byte, error) {
			us, err := conv(int64(vals[i]))
			if err != nil {
				return dst, err
			}
			dst = binary.BigEndian.AppendUint64(append(dst, 0, 0, 0, 16), uint64(us))
			return append(dst, 0, 0, 0, 0, 0, 0, 0, 0), nil // days 0, months 0
		}), nil
	}
	return nil, errNoDirectEncoding
}

// canEncodeDirect reports whether Arrow type dt encodes straight into target.
func canEncodeDirect(dt arrow.DataType, target uint32) bool {
	empty := array.MakeArrayOfNull(memory.DefaultAllocator, dt, 0)
	defer empty.Release()
	var lossy int64
	_, err := bindColumn(empty, target, &lossy)
	return err == nil
}

// copyStream is an io.Reader producing a binary COPY stream from a record
// reader: header, rows of all batches, trailer. It is read by pgconn's
// CopyFrom goroutine. pgconn can return from CopyFrom (server error, dead
// connection) while that goroutine is still inside Read, so Read runs under
// mu and stop() waits for it: after stop the source may be released.
type copyStream struct {
	mu      sync.Mutex
	stopped bool

	ctx     context.Context
	src     array.RecordReader
	targets []uint32 // target type per input column
	names   []string

	buf []byte
	off int

	rec  arrow.RecordBatch
	fns  []encodeFn
	row  int
	rows int64 // rows encoded so far

	started bool
	done    bool
	err     error // first error: a source or encoding failure, kept for reporting
	lossy   int64
}

func newCopyStream(ctx context.Context, src array.RecordReader, names []string, targets []uint32) *copyStream {
	return &copyStream{ctx: ctx, src: src, names: names, targets: targets, buf: make([]byte, 0, copyChunk+64<<10)}
}

// errStreamStopped is returned by Read after stop.
var errStreamStopped = errors.New("copy stream stopped")

// stop waits for a Read in progress and makes later ones fail.
func (s *copyStream) stop() {
	s.mu.Lock()
	s.stopped = true
	s.releaseBatch()
	s.mu.Unlock()
}

func (s *copyStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return 0, errStreamStopped
	}
	for s.off >= len(s.buf) {
		if s.err != nil {
			return 0, s.err
		}
		if s.done {
			return 0, io.EOF
		}
		s.buf, s.off = s.buf[:0], 0
		if err := s.fill(); err != nil {
			s.err = err
			s.releaseBatch()
			return 0, err
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

func (s *copyStream) releaseBatch() {
	if s.rec != nil {
		s.rec.Release()
		s.rec = nil
	}
}

// fill encodes rows into s.buf until it holds about copyChunk bytes.
func (s *copyStream) fill() error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if !s.started {
		s.started = true
		s.buf = append(s.buf, copyHeader...)
	}
	nf := int16(len(s.targets))
	for len(s.buf) < copyChunk {
		if s.rec == nil || s.row >= int(s.rec.NumRows()) {
			s.releaseBatch()
			if !s.src.Next() {
				if err := s.src.Err(); err != nil {
					return fmt.Errorf("reading input: %w", err)
				}
				s.buf = append(s.buf, 0xff, 0xff) // trailer: field count −1
				s.done = true
				return nil
			}
			rec := s.src.RecordBatch()
			if err := s.bind(rec); err != nil {
				return err
			}
			rec.Retain()
			s.rec, s.row = rec, 0
			continue
		}
		var err error
		buf := s.buf
		n := int(s.rec.NumRows())
		for ; s.row < n && len(buf) < copyChunk; s.row++ {
			buf = binary.BigEndian.AppendUint16(buf, uint16(nf))
			for c, fn := range s.fns {
				if buf, err = fn(buf, s.row); err != nil {
					s.buf = buf
					return fmt.Errorf("row %d, column %q: %w", s.rows+1, s.names[c], err)
				}
			}
			s.rows++
		}
		s.buf = buf
	}
	return nil
}

func (s *copyStream) bind(rec arrow.RecordBatch) error {
	if int(rec.NumCols()) != len(s.targets) {
		return fmt.Errorf("input batch has %d columns, expected %d", rec.NumCols(), len(s.targets))
	}
	s.fns = s.fns[:0]
	for c := range s.targets {
		fn, err := bindColumn(rec.Column(c), s.targets[c], &s.lossy)
		if err != nil {
			return fmt.Errorf("column %q: Arrow %s into PostgreSQL type oid %d: %w", s.names[c], rec.Column(c).DataType(), s.targets[c], err)
		}
		s.fns = append(s.fns, fn)
	}
	return nil
}
