package mysql

import "github.com/osiris-go/osiris/pkg/component"

func init() {
	// TODO(driver): pass the drivers instead of nil.
	component.Register(ExtractorSpec, nil)
	component.Register(WriterSpec, nil)
}
