package file

import "github.com/osiris-go/osiris/pkg/component"

func init() {
	// TODO(driver): pass the drivers instead of nil.
	component.Register(CSVExtractorSpec, nil)
	component.Register(CSVWriterSpec, nil)
	component.Register(ParquetExtractorSpec, nil)
	component.Register(ParquetWriterSpec, nil)
}
