package duckdb

import "github.com/osiris-go/osiris/pkg/component"

func init() {
	// TODO(driver): pass the drivers instead of nil.
	component.Register(ProcessorSpec, nil)
	component.Register(WriterSpec, nil)
	component.Register(ExtractorSpec, nil)
}
