package postgres

import "github.com/osiris-go/osiris/pkg/component"

func init() {
	// TODO(driver): pass the drivers instead of nil.
	component.Register(SupabaseWriterSpec, nil)
	component.Register(PostgresWriterSpec, nil)
	component.Register(SupabaseExtractorSpec, nil)
	component.Register(PostgresExtractorSpec, nil)
}
