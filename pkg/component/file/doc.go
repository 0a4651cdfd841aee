// Package file holds the filesystem components: filesystem.csv_extractor
// (DuckDB's read_csv and its type sniffer), filesystem.csv_writer (Go's own
// streaming CSV encoding from Arrow), filesystem.parquet_extractor and
// filesystem.parquet_writer (pqarrow, no DuckDB).
//
// Paths are workspace-relative (or relative to the connection's base_dir)
// and resolved with workspace.Files, which refuses escapes through .. or a
// symlink; extractors accept globs. Writers write a temporary file in the
// target's directory, fsync it and rename it over the target: a reader sees
// the old file or the new one, and a failure leaves the old file untouched
// and no temporary file behind.
//
// The CSV components take Osiris-Python's keys with their meaning (see
// csvoptions.go, readCSVQuery and CSVWriter): encodings utf-8, utf-16,
// latin-1 (iso-8859-1) and ascii both ways, compression, comment, dtype,
// parse_dates, limit, quotechar. A key is honoured or refused at validate
// time through the spec's Check/CheckConfig, never dropped; chunk_size is
// accepted because it cannot change what is read or written.
//
// It is not the engine's artifact writer (that lives in pkg/exec).
package file
