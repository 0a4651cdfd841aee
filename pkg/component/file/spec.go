package file

import "github.com/osiris-go/osiris/pkg/component"

// CSVExtractorSpec is filesystem.csv_extractor.
var CSVExtractorSpec = component.Spec{
	Name:        "filesystem.csv_extractor",
	Description: "Reads CSV file(s) with DuckDB's sniffer (types inferred: numbers, dates, IDs with leading zeros stay text).",
	Role:        component.RoleExtract,
	Modes:       []string{"read"},
	Families:    []string{"filesystem"},
	Fields: []component.Field{
		component.ConnectionField(),
		{Name: "path", Type: component.TypeString, Required: true, Doc: "file or glob, relative to the workspace (or the connection's base_dir)"},
		{Name: "delimiter", Type: component.TypeString, Check: oneChar, Doc: "field delimiter (sniffed when unset)"},
		{Name: "header", Type: component.TypeAny, Default: true, Check: boolOrRowIndex,
			Doc: "true: the first row holds column names; false: none; a number n: row n (0-based, after skip_rows) does, rows before it are skipped"},
		{Name: "quote", Type: component.TypeString, Check: oneChar, Doc: "quote character"},
		{Name: "encoding", Type: component.TypeString, Default: "utf-8", Enum: readEncodings,
			Doc: "file encoding; iso-8859-1 is latin-1; ascii refuses any other byte, naming row and column"},
		{Name: "compression", Type: component.TypeString, Default: "auto", Enum: []string{"auto", "infer", "none", "gzip", "zstd"},
			Doc: "auto (or infer) decides by the extension: .gz gzip, .zst zstd, else none"},
		{Name: "comment", Type: component.TypeString, Check: oneChar, Doc: "lines starting with this character are skipped, and the rest of a line after it"},
		{Name: "skip_blank_lines", Type: component.TypeBoolean, Default: true, Check: mustBeTrue,
			Doc: "blank lines are skipped (false is refused: osiris always skips them)"},
		{Name: "na_values", Type: component.TypeStringList, Doc: "strings read as NULL"},
		{Name: "columns", Type: component.TypeStringList, Doc: "columns to keep"},
		{Name: "skip_rows", Type: component.TypeInteger, Default: 0, Min: component.Ptr(0), Doc: "lines to skip before the header"},
		{Name: "limit", Type: component.TypeInteger, Min: component.Ptr(1), Doc: "read at most this many rows"},
		{Name: "date_format", Type: component.TypeString, Doc: "strptime format for dates (and for parse_dates columns), e.g. %d.%m.%Y"},
		{Name: "parse_dates", Type: component.TypeAny, Check: boolOrStrings,
			Doc: "a list of columns read as TIMESTAMP (date_format applies when set); true: dates and timestamps are sniffed (the default); false: they stay text"},
		{Name: "dtype", Type: component.TypeMap, Check: checkDTypes,
			Doc: "column → type: a DuckDB type (BIGINT, DECIMAL(10,2), DATE, VARCHAR …) or a pandas name (int64, float64, str, bool, datetime64)"},
		{Name: "all_varchar", Type: component.TypeBoolean, Default: false, Doc: "read every column as text"},
		{Name: "chunk_size", Type: component.TypeInteger, Min: component.Ptr(1), Doc: "accepted for Osiris-Python compatibility; the rows read are the same for every value (osiris streams in batch_rows)"},
	},
	ReadsPaths:  []string{"path"},
	Cacheable:   true,
	CheckConfig: distinctChars("delimiter", "quote", "comment"),
}

// CSVWriterSpec is filesystem.csv_writer.
var CSVWriterSpec = component.Spec{
	Name:        "filesystem.csv_writer",
	Description: "Writes the input as a CSV file (temporary name, then rename: readers never see half a file).",
	Role:        component.RoleWrite,
	Modes:       []string{"write"},
	Families:    []string{"filesystem"},
	Fields: []component.Field{
		component.ConnectionField(),
		{Name: "path", Type: component.TypeString, Required: true, Doc: "output file, relative to the workspace"},
		{Name: "delimiter", Type: component.TypeString, Default: ",", Check: oneChar, Doc: "field delimiter"},
		{Name: "quotechar", Type: component.TypeString, Default: `"`, Check: oneASCIIChar, Doc: "quote character; a quote inside a quoted field is doubled"},
		{Name: "header", Type: component.TypeBoolean, Default: true, Doc: "write a header row"},
		{Name: "newline", Type: component.TypeString, Default: "lf", Enum: []string{"lf", "crlf"}, Doc: "line ending"},
		{Name: "quoting", Type: component.TypeString, Default: "minimal", Enum: []string{"minimal", "all", "nonnumeric"}, Doc: "when to quote fields"},
		{Name: "encoding", Type: component.TypeString, Default: "utf-8", Enum: writeEncodings,
			Doc: "utf-16 is little-endian with a BOM (as Python writes it); latin-1 and ascii refuse a value they cannot hold, naming row and column"},
		{Name: "create_dirs", Type: component.TypeBoolean, Default: true, Doc: "create parent directories"},
		{Name: "chunk_size", Type: component.TypeInteger, Doc: "accepted for Osiris-Python compatibility; the file is the same for every value (osiris streams in batch_rows)"},
	},
	WritesPaths: []string{"path"},
	CheckConfig: distinctChars("delimiter", "quotechar"),
}

// ParquetExtractorSpec is filesystem.parquet_extractor.
var ParquetExtractorSpec = component.Spec{
	Name:        "filesystem.parquet_extractor",
	Description: "Reads parquet file(s) (globs allowed).",
	Role:        component.RoleExtract,
	Modes:       []string{"read"},
	Families:    []string{"filesystem"},
	Fields: []component.Field{
		component.ConnectionField(),
		{Name: "path", Type: component.TypeString, Required: true, Doc: "file or glob, relative to the workspace"},
		{Name: "columns", Type: component.TypeStringList, Doc: "columns to keep"},
	},
	ReadsPaths: []string{"path"},
	Cacheable:  true,
}

// ParquetWriterSpec is filesystem.parquet_writer.
var ParquetWriterSpec = component.Spec{
	Name:        "filesystem.parquet_writer",
	Description: "Writes the input as a parquet file (temporary name, then rename).",
	Role:        component.RoleWrite,
	Modes:       []string{"write"},
	Families:    []string{"filesystem"},
	Fields: []component.Field{
		component.ConnectionField(),
		{Name: "path", Type: component.TypeString, Required: true, Doc: "output file, relative to the workspace"},
		{Name: "compression", Type: component.TypeString, Default: "zstd", Enum: []string{"zstd", "snappy", "gzip", "none"}, Doc: "parquet compression"},
		{Name: "create_dirs", Type: component.TypeBoolean, Default: true, Doc: "create parent directories"},
	},
	WritesPaths: []string{"path"},
}
