package duckdb

import "github.com/osiris-go/osiris/pkg/component"

func init() {
	component.Register(ProcessorSpec, Processor{})
	component.Register(WriterSpec, Writer{})
	component.Register(ExtractorSpec, Extractor{})
}
