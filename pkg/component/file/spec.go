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
		{Name: "delimiter", Type: component.TypeString, Doc: "field delimiter (sniffed when unset)"},
		{Name: "header", Type: component.TypeBoolean, Default: true, Doc: "first row holds column names"},
		{Name: "quote", Type: component.TypeString, Doc: "quote character"},
		{Name: "encoding", Type: component.TypeString, Default: "utf-8", Enum: []string{"utf-8", "utf-16", "latin-1"}, Doc: "file encoding"},
		{Name: "na_values", Type: component.TypeStringList, Doc: "strings read as NULL"},
		{Name: "columns", Type: component.TypeStringList, Doc: "columns to keep"},
		{Name: "skip_rows", Type: component.TypeInteger, Default: 0, Min: component.Ptr(0), Doc: "lines to skip before the header"},
		{Name: "date_format", Type: component.TypeString, Doc: "strptime format for dates, e.g. %d.%m.%Y"},
		{Name: "all_varchar", Type: component.TypeBoolean, Default: false, Doc: "read every column as text"},
	},
	ReadsPaths: []string{"path"},
	Cacheable:  true,
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
		{Name: "delimiter", Type: component.TypeString, Default: ",", Doc: "field delimiter"},
		{Name: "header", Type: component.TypeBoolean, Default: true, Doc: "write a header row"},
		{Name: "newline", Type: component.TypeString, Default: "lf", Enum: []string{"lf", "crlf"}, Doc: "line ending"},
		{Name: "quoting", Type: component.TypeString, Default: "minimal", Enum: []string{"minimal", "all", "nonnumeric"}, Doc: "when to quote fields"},
		{Name: "encoding", Type: component.TypeString, Default: "utf-8", Enum: []string{"utf-8"}, Doc: "file encoding"},
		{Name: "create_dirs", Type: component.TypeBoolean, Default: true, Doc: "create parent directories"},
		component.CompatField("chunk_size", component.TypeInteger),
		component.CompatField("quotechar", component.TypeString),
	},
	WritesPaths: []string{"path"},
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
