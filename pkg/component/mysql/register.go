package mysql

import "github.com/osiris-go/osiris/pkg/component"

func init() {
	component.Register(ExtractorSpec, &Extractor{})
	component.Register(WriterSpec, &Writer{})
	component.RegisterConnectionCheck("mysql", checkConnection)
}
