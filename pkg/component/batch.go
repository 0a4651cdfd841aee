package component

import "github.com/apache/arrow-go/v18/parquet/metadata"

// ParquetBatchRows is how many rows to read from a parquet file per batch:
// maxRows, or fewer when the widest row group's rows (uncompressed) would
// make a batch larger than maxBytes — a batch of 1 MB TEXT values must not
// overflow Arrow's 32-bit offsets or the memory budget. At least 1.
func ParquetBatchRows(md *metadata.FileMetaData, maxRows int, maxBytes int64) int64 {
	rows := int64(max(maxRows, 1))
	if md == nil || maxBytes <= 0 {
		return rows
	}
	for i := 0; i < md.NumRowGroups(); i++ {
		rg := md.RowGroup(i)
		if n := rg.NumRows(); n > 0 {
			perRow := max(rg.TotalByteSize()/n, 1)
			rows = min(rows, max(maxBytes/perRow, 1))
		}
	}
	return rows
}
