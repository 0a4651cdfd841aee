package file

import "github.com/osiris-go/osiris/pkg/component"

func init() {
	component.Register(CSVExtractorSpec, CSVExtractor{})
	component.Register(CSVWriterSpec, CSVWriter{})
	component.Register(ParquetExtractorSpec, ParquetExtractor{})
	component.Register(ParquetWriterSpec, ParquetWriter{})
}
