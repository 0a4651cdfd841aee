package runlog

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// PreviewRows is how many rows of each artifact a report shows.
const PreviewRows = 20

// Preview is the head of one step's parquet artifact.
type Preview struct {
	Step    string
	Path    string // relative to the run directory
	Rows    int64  // in the whole file
	Columns []PreviewColumn
	Values  [][]Cell // up to PreviewRows rows, masked
	Err     string   // why there is no preview (file gone, unreadable)
	// Head are the columns the preview shows; MoreColumns how many it
	// leaves out (wide tables).
	Head        []PreviewColumn
	MoreColumns int
}

// Cell is one previewed value, cut to PreviewCellChars characters.
type Cell struct {
	Text string
	Null bool
	// Full is the value's length in characters when it was cut (0: whole).
	Full int
	// Binary is the value's length in bytes for a binary column (Text is
	// its first bytes in hex).
	Binary int
}

// PreviewCellChars is where a previewed value is cut (its full length is
// shown): a 1 MB text value must not make a 1 MB report.
const PreviewCellChars = 300

// PreviewColumnsMax bounds the columns a preview shows (the schema table
// lists them all).
const PreviewColumnsMax = 60

// cut makes a cell of a value, cut to limit characters.
func cut(v string, limit int) Cell {
	if len(v) <= limit {
		return Cell{Text: v}
	}
	n := utf8.RuneCountInString(v)
	if n <= limit {
		return Cell{Text: v}
	}
	i, k := 0, 0
	for k < limit {
		_, w := utf8.DecodeRuneInString(v[i:])
		i += w
		k++
	}
	return Cell{Text: v[:i], Full: n}
}

// cellValue formats one value for people, masked and cut to limit
// characters: floats in plain decimal notation, binary values as their
// length and first bytes in hex. The value is masked whole, then cut, so
// that a secret is never cut in two.
func (s *Store) cellValue(col arrow.Array, r int, limit int) Cell {
	var v string
	switch a := col.(type) {
	case *array.Float64:
		v = strconv.FormatFloat(a.Value(r), 'f', -1, 64)
	case *array.Float32:
		v = strconv.FormatFloat(float64(a.Value(r)), 'f', -1, 32)
	case *array.Binary:
		return binaryCell(a.Value(r), limit)
	case *array.LargeBinary:
		return binaryCell(a.Value(r), limit)
	case *array.FixedSizeBinary:
		return binaryCell(a.Value(r), limit)
	default:
		v = col.ValueStr(r)
	}
	return cut(s.mask(v), limit)
}

func binaryCell(b []byte, limit int) Cell {
	n := min(len(b), max(limit/2, 1))
	return Cell{Text: hex.EncodeToString(b[:n]), Binary: len(b), Full: map[bool]int{true: len(b) * 2, false: 0}[n < len(b)]}
}

// PreviewColumn is one column of an artifact's schema.
type PreviewColumn struct {
	Name      string
	Type      string
	Nullable  bool
	NullCount int64 // over the whole file, from the parquet statistics; -1 unknown
}

// readPreview reads the schema, null counts and first PreviewRows rows of
// a parquet file. Values are formatted as Arrow prints them and masked.
func (s *Store) readPreview(ctx context.Context, runDir, rel string, b bounds) (Preview, error) {
	p := Preview{Path: rel}
	pf, err := file.OpenParquetFile(filepath.Join(runDir, filepath.FromSlash(rel)), false, file.WithReadProps(parquet.NewReaderProperties(memory.DefaultAllocator)))
	if err != nil {
		return p, fmt.Errorf("opening %s: %w", rel, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(max(b.rows, 1))}, memory.DefaultAllocator)
	if err != nil {
		return p, fmt.Errorf("reading %s: %w", rel, err)
	}
	p.Rows = pf.NumRows()
	schema, err := fr.Schema()
	if err != nil {
		return p, fmt.Errorf("reading the schema of %s: %w", rel, err)
	}
	md := pf.MetaData()
	for i, f := range schema.Fields() {
		c := PreviewColumn{Name: s.mask(f.Name), Type: f.Type.String(), Nullable: f.Nullable, NullCount: -1}
		// Null counts from the column chunks' statistics (flat schemas:
		// one leaf per field).
		if md.Schema.NumColumns() == schema.NumFields() {
			var n int64
			known := true
			for g := 0; g < md.NumRowGroups() && known; g++ {
				cc, err := md.RowGroup(g).ColumnChunk(i)
				if err != nil {
					known = false
					break
				}
				st, err := cc.Statistics()
				if err != nil || st == nil || !st.HasNullCount() {
					known = false
					break
				}
				n += st.NullCount()
			}
			if known {
				c.NullCount = n
			}
		}
		p.Columns = append(p.Columns, c)
	}
	if p.Rows == 0 || b.rows == 0 {
		return p, nil
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return p, fmt.Errorf("reading %s: %w", rel, err)
	}
	defer rr.Release()
	ncols := len(p.Columns)
	if ncols > PreviewColumnsMax {
		p.MoreColumns = ncols - PreviewColumnsMax
		ncols = PreviewColumnsMax
	}
	p.Head = p.Columns[:ncols]
	for len(p.Values) < b.rows && rr.Next() {
		rec := rr.RecordBatch()
		for r := 0; r < int(rec.NumRows()) && len(p.Values) < b.rows; r++ {
			row := make([]Cell, min(ncols, int(rec.NumCols())))
			for c := range row {
				col := rec.Column(c)
				if col.IsNull(r) {
					row[c] = Cell{Null: true}
					continue
				}
				row[c] = s.cellValue(col, r, b.cell)
			}
			p.Values = append(p.Values, row)
		}
	}
	if err := rr.Err(); err != nil {
		return p, fmt.Errorf("reading %s: %w", rel, err)
	}
	return p, nil
}
