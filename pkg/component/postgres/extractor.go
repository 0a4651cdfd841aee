package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/osiris-go/osiris/pkg/component"
)

// Extractor is supabase.extractor / postgres.extractor.
type Extractor struct{}

const defaultBatchRows = 10000

// extractQuery is the SQL for `query`, or the SELECT built from table,
// schema, columns, where and limit.
func extractQuery(cfg component.Config) (string, error) {
	if q := strings.TrimSpace(cfg.String("query")); q != "" {
		return strings.TrimRight(q, "; \t\n"), nil
	}
	table := cfg.String("table")
	if table == "" {
		return "", errors.New("config: one of query or table is required")
	}
	cols := "*"
	if cs := cfg.Strings("columns"); len(cs) > 0 {
		q := make([]string, len(cs))
		for i, c := range cs {
			q[i] = quoteIdent(c)
		}
		cols = strings.Join(q, ", ")
	}
	sql := "SELECT " + cols + " FROM " + qualified(cfg.String("schema"), table)
	if w := strings.TrimSpace(cfg.String("where")); w != "" {
		sql += " WHERE " + w
	}
	if cfg.Has("limit") {
		n := cfg.Int("limit", -1)
		if n < 0 {
			return "", fmt.Errorf("config: limit must be a non-negative integer, got %v", cfg["limit"])
		}
		sql += " LIMIT " + strconv.FormatInt(n, 10)
	}
	return sql, nil
}

// Extract runs the query and returns a reader that streams it in batches of
// req.BatchRows; rows are read from the socket only as batches are asked
// for. The connection is closed when the reader is released.
func (Extractor) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	query, err := extractQuery(req.Config)
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	conn, red, err := connect(ctx, req.Conn)
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	fail := func(err error) (array.RecordReader, error) {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("step %q: %w", req.StepID, red.redact(err))
	}
	pg := conn.PgConn()
	// Describe first: the column types decide which columns come back in
	// binary (decoded without boxing) and which as text.
	desc, err := pg.Prepare(ctx, "", query, nil)
	if err != nil {
		return fail(fmt.Errorf("query: %w", err))
	}
	if len(desc.Fields) == 0 {
		return fail(errors.New("query returns no columns"))
	}
	alloc := req.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	batch := req.BatchRows
	if batch <= 0 {
		batch = defaultBatchRows
	}
	r := &pgReader{batch: batch, maxBytes: req.MaxBatchBytes(), conn: conn, red: red, stepID: req.StepID, warn: req.Warn}
	r.refs.Store(1)
	fields := make([]arrow.Field, len(desc.Fields))
	formats := make([]int16, len(desc.Fields))
	decs := make([]columnDecoder, len(desc.Fields))
	seen := map[string]int{}
	for i, fd := range desc.Fields {
		name := fd.Name
		if seen[name] > 0 { // duplicate names would make an invalid Arrow schema for parquet
			name = fmt.Sprintf("%s_%d", name, seen[name]+1)
		}
		seen[fd.Name]++
		decs[i] = decoderFor(fd, &r.counts)
		formats[i] = decs[i].format
		fields[i] = arrow.Field{Name: name, Type: decs[i].typ, Nullable: true}
		if decs[i].warnText != "" {
			req.Warn("numeric-as-text", fmt.Sprintf("column %q: %s; read as text", name, decs[i].warnText))
		}
	}
	r.schema = arrow.NewSchema(fields, nil)
	r.rb = array.NewRecordBuilder(alloc, r.schema)
	r.apps = make([]func([]byte) error, len(decs))
	r.builders = make([]array.Builder, len(decs))
	for i := range decs {
		r.builders[i] = r.rb.Field(i)
		r.apps[i] = decs[i].bind(r.builders[i])
		r.names = append(r.names, fields[i].Name)
	}
	qctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	r.rr = pg.ExecPrepared(qctx, "", nil, nil, formats)
	return r, nil
}

// decodeCounts are values that could not be represented and became NULL.
type decodeCounts struct {
	infinity   int64 // ±infinity dates/timestamps
	numericNaN int64 // NaN/±Infinity numerics
}

type columnDecoder struct {
	typ      arrow.DataType
	format   int16 // pgx.BinaryFormatCode or TextFormatCode
	warnText string
	bind     func(b array.Builder) func(raw []byte) error
}

// numericTypmod splits a numeric typmod; ok is false when unconstrained.
func numericTypmod(typmod int32) (p, s int32, ok bool) {
	if typmod < 4 {
		return 0, 0, false
	}
	t := typmod - 4
	p = (t >> 16) & 0xffff
	s = ((t & 0x7ff) ^ 1024) - 1024 // PostgreSQL 15 scales are signed 11 bits
	return p, s, true
}

func errLen(raw []byte, want int) error {
	return fmt.Errorf("binary value of %d bytes, want %d", len(raw), want)
}

func decoderFor(fd pgconn.FieldDescription, counts *decodeCounts) columnDecoder {
	bin := int16(pgx.BinaryFormatCode)
	switch fd.DataTypeOID {
	case pgtype.Int2OID:
		return columnDecoder{typ: arrow.PrimitiveTypes.Int16, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.Int16Builder)
			return func(raw []byte) error {
				if len(raw) != 2 {
					return errLen(raw, 2)
				}
				bb.UnsafeAppend(int16(binary.BigEndian.Uint16(raw)))
				return nil
			}
		}}
	case pgtype.Int4OID:
		return columnDecoder{typ: arrow.PrimitiveTypes.Int32, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.Int32Builder)
			return func(raw []byte) error {
				if len(raw) != 4 {
					return errLen(raw, 4)
				}
				bb.UnsafeAppend(int32(binary.BigEndian.Uint32(raw)))
				return nil
			}
		}}
	case pgtype.Int8OID:
		return columnDecoder{typ: arrow.PrimitiveTypes.Int64, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.Int64Builder)
			return func(raw []byte) error {
				if len(raw) != 8 {
					return errLen(raw, 8)
				}
				bb.UnsafeAppend(int64(binary.BigEndian.Uint64(raw)))
				return nil
			}
		}}
	case pgtype.Float4OID:
		return columnDecoder{typ: arrow.PrimitiveTypes.Float32, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.Float32Builder)
			return func(raw []byte) error {
				if len(raw) != 4 {
					return errLen(raw, 4)
				}
				bb.UnsafeAppend(math.Float32frombits(binary.BigEndian.Uint32(raw)))
				return nil
			}
		}}
	case pgtype.Float8OID:
		return columnDecoder{typ: arrow.PrimitiveTypes.Float64, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.Float64Builder)
			return func(raw []byte) error {
				if len(raw) != 8 {
					return errLen(raw, 8)
				}
				bb.UnsafeAppend(math.Float64frombits(binary.BigEndian.Uint64(raw)))
				return nil
			}
		}}
	case pgtype.BoolOID:
		return columnDecoder{typ: arrow.FixedWidthTypes.Boolean, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.BooleanBuilder)
			return func(raw []byte) error {
				if len(raw) != 1 {
					return errLen(raw, 1)
				}
				bb.UnsafeAppend(raw[0] != 0)
				return nil
			}
		}}
	case pgtype.NumericOID:
		p, s, ok := numericTypmod(fd.TypeModifier)
		switch {
		case !ok:
			return textDecoder("unconstrained numeric has no fixed precision and scale")
		case s < 0 || p > 76:
			return textDecoder(fmt.Sprintf("numeric(%d,%d) does not fit an Arrow decimal", p, s))
		case p <= 38:
			return columnDecoder{typ: &arrow.Decimal128Type{Precision: p, Scale: s}, format: bin, bind: func(b array.Builder) func([]byte) error {
				bb := b.(*array.Decimal128Builder)
				return func(raw []byte) error {
					v, err := decodeNumeric128(raw, s)
					if errors.Is(err, errNumericSpecial) {
						counts.numericNaN++
						bb.AppendNull()
						return nil
					}
					if err != nil {
						return err
					}
					bb.UnsafeAppend(v)
					return nil
				}
			}}
		default:
			return columnDecoder{typ: &arrow.Decimal256Type{Precision: p, Scale: s}, format: bin, bind: func(b array.Builder) func([]byte) error {
				bb := b.(*array.Decimal256Builder)
				return func(raw []byte) error {
					v, err := decodeNumeric256(raw, s)
					if errors.Is(err, errNumericSpecial) {
						counts.numericNaN++
						bb.AppendNull()
						return nil
					}
					if err != nil {
						return err
					}
					bb.UnsafeAppend(v)
					return nil
				}
			}}
		}
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.JSONOID:
		// Their binary form is the text itself.
		d := textDecoder("")
		d.format = bin
		return d
	case pgtype.ByteaOID:
		return columnDecoder{typ: arrow.BinaryTypes.Binary, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.BinaryBuilder)
			return func(raw []byte) error { bb.Append(raw); return nil }
		}}
	case pgtype.DateOID:
		return columnDecoder{typ: arrow.FixedWidthTypes.Date32, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.Date32Builder)
			return func(raw []byte) error {
				if len(raw) != 4 {
					return errLen(raw, 4)
				}
				d := int32(binary.BigEndian.Uint32(raw))
				if d == math.MaxInt32 || d == math.MinInt32 {
					counts.infinity++
					bb.AppendNull()
					return nil
				}
				bb.UnsafeAppend(arrow.Date32(d + pgEpochDays))
				return nil
			}
		}}
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		typ := &arrow.TimestampType{Unit: arrow.Microsecond}
		if fd.DataTypeOID == pgtype.TimestamptzOID {
			typ.TimeZone = "UTC"
		}
		return columnDecoder{typ: typ, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.TimestampBuilder)
			return func(raw []byte) error {
				if len(raw) != 8 {
					return errLen(raw, 8)
				}
				us := int64(binary.BigEndian.Uint64(raw))
				if us == math.MaxInt64 || us == math.MinInt64 {
					counts.infinity++
					bb.AppendNull()
					return nil
				}
				bb.UnsafeAppend(arrow.Timestamp(us + pgEpochMicros))
				return nil
			}
		}}
	case pgtype.TimeOID:
		return columnDecoder{typ: arrow.FixedWidthTypes.Time64us, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.Time64Builder)
			return func(raw []byte) error {
				if len(raw) != 8 {
					return errLen(raw, 8)
				}
				bb.UnsafeAppend(arrow.Time64(binary.BigEndian.Uint64(raw)))
				return nil
			}
		}}
	case pgtype.IntervalOID:
		// Text, exactly: months, days and microseconds stay apart (see
		// appendInterval). Arrow's month_day_nano interval would hold it but
		// parquet cannot store it, and a duration would need a month to be
		// 30 days.
		return columnDecoder{typ: arrow.BinaryTypes.String, format: bin, bind: func(b array.Builder) func([]byte) error {
			bb := b.(*array.StringBuilder)
			var buf []byte
			return func(raw []byte) error {
				if len(raw) != 16 {
					return errLen(raw, 16)
				}
				us := int64(binary.BigEndian.Uint64(raw))
				days := int32(binary.BigEndian.Uint32(raw[8:]))
				months := int32(binary.BigEndian.Uint32(raw[12:]))
				buf = appendInterval(buf[:0], months, days, us)
				bb.BinaryBuilder.Append(buf)
				return nil
			}
		}}
	}
	// Everything else (uuid, jsonb, enums, arrays, inet, …) is read as text.
	return textDecoder("")
}

func textDecoder(warn string) columnDecoder {
	return columnDecoder{typ: arrow.BinaryTypes.String, format: pgx.TextFormatCode, warnText: warn, bind: func(b array.Builder) func([]byte) error {
		bb := b.(*array.StringBuilder).BinaryBuilder // appends bytes without a string copy
		return func(raw []byte) error { bb.Append(raw); return nil }
	}}
}

// pgReader is the extractor's array.RecordReader.
type pgReader struct {
	refs   atomic.Int64
	schema *arrow.Schema
	batch  int
	// maxBytes ends a batch early once its values reach it.
	maxBytes int64
	stepID   string
	warn     func(code, msg string)

	conn   *pgx.Conn
	red    *redactor
	rr     *pgconn.ResultReader
	cancel context.CancelFunc

	rb       *array.RecordBuilder
	builders []array.Builder
	apps     []func([]byte) error
	names    []string
	counts   decodeCounts
	rows     int64

	cur    arrow.RecordBatch
	done   bool
	closed bool
	err    error
}

func (r *pgReader) Retain()               { r.refs.Add(1) }
func (r *pgReader) Schema() *arrow.Schema { return r.schema }
func (r *pgReader) Err() error            { return r.err }

func (r *pgReader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is the deprecated name of RecordBatch.
func (r *pgReader) Record() arrow.RecordBatch { return r.cur }

func (r *pgReader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.close()
	r.rb.Release()
}

// close ends the query (cancelling it if unfinished) and the connection.
func (r *pgReader) close() {
	if r.closed {
		return
	}
	r.closed = true
	if !r.done {
		r.cancel() // stop the server from sending the rest
	}
	_, _ = r.rr.Close()
	r.cancel()
	r.conn.Close(context.Background())
}

func (r *pgReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done || r.err != nil {
		return false
	}
	for _, b := range r.builders {
		b.Reserve(r.batch)
	}
	// A batch ends at r.batch rows or once its values reach r.maxBytes.
	n, size, ended := 0, int64(0), false
	for n < r.batch && size < r.maxBytes {
		if !r.rr.NextRow() {
			ended = true
			break
		}
		for i, raw := range r.rr.Values() {
			size += int64(len(raw)) + 4
			if raw == nil {
				r.builders[i].AppendNull()
				continue
			}
			if err := r.apps[i](raw); err != nil {
				r.err = fmt.Errorf("step %q: row %d, column %q: %w", r.stepID, r.rows+int64(n)+1, r.names[i], err)
				r.close()
				return false
			}
		}
		n++
	}
	if ended {
		r.done = true
		_, err := r.rr.Close()
		if err != nil {
			r.err = fmt.Errorf("step %q: reading rows: %w", r.stepID, r.red.redact(err))
			r.close()
			return false
		}
		r.reportCounts()
		r.close()
	}
	r.rows += int64(n)
	rec := r.rb.NewRecordBatch()
	if n == 0 {
		rec.Release()
		return false
	}
	r.cur = rec
	return true
}

func (r *pgReader) reportCounts() {
	if c := r.counts.infinity; c > 0 {
		r.warn("infinity-as-null", fmt.Sprintf("%d infinite date/timestamp values have no Arrow representation and became NULL", c))
	}
	if c := r.counts.numericNaN; c > 0 {
		r.warn("numeric-nan-as-null", fmt.Sprintf("%d numeric NaN/Infinity values have no decimal representation and became NULL", c))
	}
}
