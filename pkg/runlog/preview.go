package runlog

import (
	"context"
	"fmt"
	"path/filepath"

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
	Values  [][]string // up to PreviewRows rows, masked
	Nulls   [][]bool   // Nulls[r][c]: the value is null
	Err     string     // why there is no preview (file gone, unreadable)
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
func (s *Store) readPreview(ctx context.Context, runDir, rel string) (Preview, error) {
	p := Preview{Path: rel}
	pf, err := file.OpenParquetFile(filepath.Join(runDir, filepath.FromSlash(rel)), false, file.WithReadProps(parquet.NewReaderProperties(memory.DefaultAllocator)))
	if err != nil {
		return p, fmt.Errorf("opening %s: %w", rel, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: PreviewRows}, memory.DefaultAllocator)
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
	if p.Rows == 0 {
		return p, nil
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return p, fmt.Errorf("reading %s: %w", rel, err)
	}
	defer rr.Release()
	for len(p.Values) < PreviewRows && rr.Next() {
		rec := rr.RecordBatch()
		for r := 0; r < int(rec.NumRows()) && len(p.Values) < PreviewRows; r++ {
			row := make([]string, rec.NumCols())
			nulls := make([]bool, rec.NumCols())
			for c := 0; c < int(rec.NumCols()); c++ {
				col := rec.Column(c)
				if col.IsNull(r) {
					nulls[c] = true
					continue
				}
				row[c] = s.mask(col.ValueStr(r))
			}
			p.Values = append(p.Values, row)
			p.Nulls = append(p.Nulls, nulls)
		}
	}
	if err := rr.Err(); err != nil {
		return p, fmt.Errorf("reading %s: %w", rel, err)
	}
	return p, nil
}
