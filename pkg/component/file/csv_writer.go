package file

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/osiris-go/osiris/pkg/component"
)

// CSVWriter is filesystem.csv_writer. It encodes Arrow arrays itself (no
// DuckDB, no per-row reflection), streaming batch by batch into a temporary
// file that replaces the target only when complete.
//
// Value text:
//   - NULL is an empty, unquoted field; an empty string is written as ""
//     (quoted) so the two stay apart (DuckDB's read_csv reads them back so).
//   - integers and decimals exactly (decimal(10,2) 1.50 → "1.50");
//     floats in the shortest form that reads back to the same value, without
//     an exponent between 1e-5 and 1e16; NaN, Infinity, -Infinity.
//   - dates YYYY-MM-DD; timestamps "2024-03-31 02:30:00", a fraction only
//     when non-zero (trailing zeros dropped); a timestamp with a time zone
//     is written in UTC with a "Z" suffix; times HH:MM:SS[.fraction].
//   - binary as lowercase hex without prefix.
//   - booleans true/false; nested types in Arrow's own text form.
//
// Quoting: minimal quotes fields holding the delimiter, the quote
// character (quotechar, default "), CR or LF (and empty strings); all quotes
// every non-NULL field; nonnumeric quotes every non-NULL field that is not
// an integer, float or decimal. A quote character inside a quoted field is
// doubled, as Python's csv module does.
//
// Encoding: utf-8 (default), utf-16 (little-endian with a BOM, as Python's
// "utf-16" writes), latin-1 (= iso-8859-1) and ascii. A value latin-1 or
// ascii cannot hold fails the step naming the row and column, and the
// target is left as it was.
type CSVWriter struct{}

var _ component.Writer = CSVWriter{}

type quoting int

const (
	quoteMinimal quoting = iota
	quoteAll
	quoteNonNumeric
)

// csvOptions are the writer's config, checked.
type csvOptions struct {
	delim    rune
	quote    byte
	newline  string
	header   bool
	quoting  quoting
	encoding string // utf-8, utf-16, latin-1 or ascii
	// maxRune is the largest character the encoding holds (0: any).
	maxRune rune
}

func parseCSVOptions(cfg component.Config) (csvOptions, error) {
	o := csvOptions{delim: ',', quote: '"', newline: "\n", header: cfg.Bool("header", true)}
	if d := cfg.String("delimiter"); d != "" {
		if err := oneChar(d); err != nil {
			return o, fmt.Errorf("delimiter: %w", err)
		}
		o.delim, _ = utf8.DecodeRuneInString(d)
	}
	if q := cfg.String("quotechar"); q != "" {
		if err := oneASCIIChar(q); err != nil {
			return o, fmt.Errorf("quotechar: %w", err)
		}
		o.quote = q[0]
	}
	if o.delim == rune(o.quote) {
		return o, fmt.Errorf("delimiter and quotechar are both %q; they must differ", string(o.delim))
	}
	switch nl := cfg.String("newline"); nl {
	case "", "lf":
	case "crlf":
		o.newline = "\r\n"
	default:
		return o, fmt.Errorf("newline %q: use lf or crlf", nl)
	}
	switch q := cfg.String("quoting"); q {
	case "", "minimal":
	case "all":
		o.quoting = quoteAll
	case "nonnumeric":
		o.quoting = quoteNonNumeric
	default:
		return o, fmt.Errorf("quoting %q: use minimal, all or nonnumeric", q)
	}
	enc, err := canonicalEncoding(cfg.String("encoding"))
	if err != nil {
		return o, err
	}
	o.encoding = enc
	switch enc {
	case "latin-1":
		o.maxRune = 0xFF
	case "ascii":
		o.maxRune = 0x7F
	}
	if o.maxRune != 0 && o.delim > o.maxRune {
		return o, fmt.Errorf("delimiter %q cannot be written in %s", string(o.delim), enc)
	}
	return o, nil
}

// encodedWriter returns where the UTF-8 text goes so that the file gets
// o.encoding, and a function that flushes what the encoder holds. latin-1
// and ascii text has been checked value by value (encodeCSV), so their
// encoders never meet a character they cannot hold.
func encodedWriter(f io.Writer, o csvOptions) (io.Writer, func() error) {
	var enc *encoding.Encoder
	switch o.encoding {
	case "utf-16":
		enc = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder()
	case "latin-1":
		enc = charmap.ISO8859_1.NewEncoder()
	default: // utf-8, and ascii (a subset of it)
		return f, func() error { return nil }
	}
	tw := transform.NewWriter(f, enc)
	return tw, tw.Close
}

// Write encodes in to the configured path.
func (CSVWriter) Write(ctx context.Context, req *component.Request, in component.Table) (component.WriteResult, error) {
	opts, err := parseCSVOptions(req.Config)
	if err != nil {
		return component.WriteResult{}, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	target, err := outputFile(req)
	if err != nil {
		return component.WriteResult{}, err
	}
	rel := req.Files.Rel(target)
	src, err := component.OpenOnce(ctx, in)
	if err != nil {
		return component.WriteResult{}, fmt.Errorf("step %q: opening input %s: %w", req.StepID, in.StepID(), err)
	}
	defer src.Release()
	f, err := createAtomic(target)
	if err != nil {
		return component.WriteResult{}, fmt.Errorf("step %q: %w", req.StepID, err)
	}
	defer f.Abort()
	out, closeEnc := encodedWriter(f, opts)
	w := bufio.NewWriterSize(out, 1<<20)
	rows, err := encodeCSV(ctx, w, src, opts)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = closeEnc()
	}
	if err == nil && in.Rows() >= 0 && rows != in.Rows() {
		err = fmt.Errorf("wrote %d rows but the input has %d", rows, in.Rows())
	}
	if err == nil {
		err = f.Commit()
	}
	if err != nil {
		return component.WriteResult{}, fmt.Errorf("step %q: writing %s: %w", req.StepID, rel, err)
	}
	return component.WriteResult{RowsWritten: rows, Files: []string{rel}}, nil
}

// encodeCSV writes src as CSV and returns the data rows written.
func encodeCSV(ctx context.Context, w *bufio.Writer, src array.RecordReader, o csvOptions) (int64, error) {
	enc := csvEncoder{w: w, o: o}
	schema := src.Schema()
	if o.header {
		for i, f := range schema.Fields() {
			if i > 0 {
				enc.w.WriteRune(o.delim)
			}
			if err := o.fits([]byte(f.Name)); err != nil {
				return 0, fmt.Errorf("header, column %q: %w", f.Name, err)
			}
			enc.field([]byte(f.Name), o.quoting != quoteMinimal)
		}
		enc.w.WriteString(o.newline)
	}
	var rows int64
	formatters := make([]valueFormatter, schema.NumFields())
	for src.Next() {
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		rec := src.RecordBatch()
		for i := range formatters {
			formatters[i] = formatterFor(rec.Column(i))
		}
		n := int(rec.NumRows())
		for r := 0; r < n; r++ {
			for c, fm := range formatters {
				if c > 0 {
					enc.w.WriteRune(o.delim)
				}
				col := rec.Column(c)
				if col.IsNull(r) {
					continue
				}
				enc.buf = fm.format(enc.buf[:0], r)
				if o.maxRune != 0 {
					if err := o.fits(enc.buf); err != nil {
						return rows, fmt.Errorf("row %d, column %q: %w", rows+int64(r)+1, schema.Field(c).Name, err)
					}
				}
				enc.field(enc.buf, o.quoting == quoteAll || (o.quoting == quoteNonNumeric && !fm.numeric) || len(enc.buf) == 0)
			}
			enc.w.WriteString(o.newline)
		}
		rows += int64(n)
	}
	if err := src.Err(); err != nil {
		return rows, err
	}
	return rows, nil
}

// fits reports the first character of v that o's encoding cannot hold.
func (o csvOptions) fits(v []byte) error {
	if o.maxRune == 0 {
		return nil
	}
	for i := 0; i < len(v); {
		if v[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("the value is not valid UTF-8 text and cannot be written as %s", o.encoding)
		}
		if r > o.maxRune {
			return fmt.Errorf("%s cannot encode %q (U+%04X) in %q; use encoding utf-8", o.encoding, r, r, truncate(string(v), 40))
		}
		i += size
	}
	return nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

type csvEncoder struct {
	w   *bufio.Writer
	o   csvOptions
	buf []byte
}

// field writes one non-NULL value, quoted when forced or needed.
func (e *csvEncoder) field(v []byte, force bool) {
	if !force && !e.needsQuotes(v) {
		e.w.Write(v)
		return
	}
	q := e.o.quote
	e.w.WriteByte(q)
	for {
		i := indexByte(v, q)
		if i < 0 {
			break
		}
		e.w.Write(v[:i+1])
		e.w.WriteByte(q)
		v = v[i+1:]
	}
	e.w.Write(v)
	e.w.WriteByte(q)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (e *csvEncoder) needsQuotes(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	d := e.o.delim
	for i := 0; i < len(v); i++ {
		switch b := v[i]; {
		case b == e.o.quote || b == '\n' || b == '\r':
			return true
		case d < utf8.RuneSelf && b == byte(d):
			return true
		}
	}
	if d >= utf8.RuneSelf && strings.ContainsRune(string(v), d) {
		return true
	}
	return false
}

// valueFormatter appends the text of row r of one column.
type valueFormatter struct {
	format  func(dst []byte, r int) []byte
	numeric bool
}

func formatterFor(arr arrow.Array) valueFormatter {
	switch a := arr.(type) {
	case *array.Boolean:
		return valueFormatter{format: func(d []byte, r int) []byte { return strconv.AppendBool(d, a.Value(r)) }}
	case *array.Int8:
		return numeric(func(d []byte, r int) []byte { return strconv.AppendInt(d, int64(a.Value(r)), 10) })
	case *array.Int16:
		return numeric(func(d []byte, r int) []byte { return strconv.AppendInt(d, int64(a.Value(r)), 10) })
	case *array.Int32:
		return numeric(func(d []byte, r int) []byte { return strconv.AppendInt(d, int64(a.Value(r)), 10) })
	case *array.Int64:
		return numeric(func(d []byte, r int) []byte { return strconv.AppendInt(d, a.Value(r), 10) })
	case *array.Uint8:
		return numeric(func(d []byte, r int) []byte { return strconv.AppendUint(d, uint64(a.Value(r)), 10) })
	case *array.Uint16:
		return numeric(func(d []byte, r int) []byte { return strconv.AppendUint(d, uint64(a.Value(r)), 10) })
	case *array.Uint32:
		return numeric(func(d []byte, r int) []byte { return strconv.AppendUint(d, uint64(a.Value(r)), 10) })
	case *array.Uint64:
		return numeric(func(d []byte, r int) []byte { return strconv.AppendUint(d, a.Value(r), 10) })
	case *array.Float32:
		return numeric(func(d []byte, r int) []byte { return appendFloat(d, float64(a.Value(r)), 32) })
	case *array.Float64:
		return numeric(func(d []byte, r int) []byte { return appendFloat(d, a.Value(r), 64) })
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return numeric(func(d []byte, r int) []byte { return appendDecimal128(d, a.Value(r), scale) })
	case *array.Decimal256:
		scale := a.DataType().(*arrow.Decimal256Type).Scale
		return numeric(func(d []byte, r int) []byte { return append(d, a.Value(r).ToString(scale)...) })
	case *array.String:
		return valueFormatter{format: func(d []byte, r int) []byte { return append(d, a.Value(r)...) }}
	case *array.LargeString:
		return valueFormatter{format: func(d []byte, r int) []byte { return append(d, a.Value(r)...) }}
	case *array.StringView:
		return valueFormatter{format: func(d []byte, r int) []byte { return append(d, a.Value(r)...) }}
	case *array.Binary:
		return valueFormatter{format: func(d []byte, r int) []byte { return hex.AppendEncode(d, a.Value(r)) }}
	case *array.LargeBinary:
		return valueFormatter{format: func(d []byte, r int) []byte { return hex.AppendEncode(d, a.Value(r)) }}
	case *array.BinaryView:
		return valueFormatter{format: func(d []byte, r int) []byte { return hex.AppendEncode(d, a.Value(r)) }}
	case *array.FixedSizeBinary:
		return valueFormatter{format: func(d []byte, r int) []byte { return hex.AppendEncode(d, a.Value(r)) }}
	case *array.Date32:
		return valueFormatter{format: func(d []byte, r int) []byte { return a.Value(r).ToTime().AppendFormat(d, time.DateOnly) }}
	case *array.Date64:
		return valueFormatter{format: func(d []byte, r int) []byte { return a.Value(r).ToTime().AppendFormat(d, time.DateOnly) }}
	case *array.Timestamp:
		typ := a.DataType().(*arrow.TimestampType)
		zoned := typ.TimeZone != ""
		return valueFormatter{format: func(d []byte, r int) []byte {
			d = a.Value(r).ToTime(typ.Unit).AppendFormat(d, "2006-01-02 15:04:05.999999999")
			if zoned {
				d = append(d, 'Z')
			}
			return d
		}}
	case *array.Time32:
		unit := a.DataType().(*arrow.Time32Type).Unit
		return valueFormatter{format: func(d []byte, r int) []byte { return a.Value(r).ToTime(unit).AppendFormat(d, "15:04:05.999999999") }}
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		return valueFormatter{format: func(d []byte, r int) []byte { return a.Value(r).ToTime(unit).AppendFormat(d, "15:04:05.999999999") }}
	case *array.Duration:
		unit := a.DataType().(*arrow.DurationType).Unit
		return valueFormatter{format: func(d []byte, r int) []byte {
			return appendDuration(d, time.Duration(a.Value(r))*unit.Multiplier())
		}}
	case *array.Dictionary:
		values := formatterFor(a.Dictionary())
		return valueFormatter{numeric: values.numeric, format: func(d []byte, r int) []byte { return values.format(d, a.GetValueIndex(r)) }}
	default:
		return valueFormatter{format: func(d []byte, r int) []byte { return append(d, arr.ValueStr(r)...) }}
	}
}

func numeric(f func([]byte, int) []byte) valueFormatter {
	return valueFormatter{format: f, numeric: true}
}

// appendFloat writes the shortest text that reads back as v; plain
// notation unless v is very small or very large.
func appendFloat(d []byte, v float64, bits int) []byte {
	switch {
	case math.IsNaN(v):
		return append(d, "NaN"...)
	case math.IsInf(v, 1):
		return append(d, "Infinity"...)
	case math.IsInf(v, -1):
		return append(d, "-Infinity"...)
	}
	if abs := math.Abs(v); abs == 0 || (abs >= 1e-5 && abs < 1e16) {
		return strconv.AppendFloat(d, v, 'f', -1, bits)
	}
	return strconv.AppendFloat(d, v, 'g', -1, bits)
}

// appendDecimal128 formats n with scale digits after the point; values
// that fit an int64 skip the big.Int path.
func appendDecimal128(d []byte, n decimal128.Num, scale int32) []byte {
	hi, lo := n.HighBits(), n.LowBits()
	if scale < 0 || !((hi == 0 && lo < 1<<63) || (hi == -1 && lo >= 1<<63)) {
		return append(d, n.ToString(scale)...)
	}
	v := int64(lo)
	if v < 0 {
		d = append(d, '-')
		if v == math.MinInt64 {
			return append(d[:len(d)-1], n.ToString(scale)...)
		}
		v = -v
	}
	var digits [24]byte
	s := strconv.AppendInt(digits[:0], v, 10)
	if scale == 0 {
		return append(d, s...)
	}
	sc := int(scale)
	if len(s) <= sc {
		d = append(d, "0."...)
		for i := len(s); i < sc; i++ {
			d = append(d, '0')
		}
		return append(d, s...)
	}
	d = append(d, s[:len(s)-sc]...)
	d = append(d, '.')
	return append(d, s[len(s)-sc:]...)
}

// appendDuration writes [-]H:MM:SS[.fraction], hours unbounded.
func appendDuration(d []byte, v time.Duration) []byte {
	if v < 0 {
		d = append(d, '-')
		v = -v
	}
	h := v / time.Hour
	m := (v % time.Hour) / time.Minute
	s := (v % time.Minute) / time.Second
	ns := v % time.Second
	d = strconv.AppendInt(d, int64(h), 10)
	d = append(d, ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
	if ns != 0 {
		frac := strconv.AppendInt(nil, int64(ns)+1e9, 10)[1:] // 9 digits, leading zeros kept
		for len(frac) > 0 && frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
		d = append(d, '.')
		d = append(d, frac...)
	}
	return d
}
