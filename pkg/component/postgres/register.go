package postgres

import "github.com/osiris-go/osiris/pkg/component"

func init() {
	component.Register(SupabaseWriterSpec, Writer{})
	component.Register(PostgresWriterSpec, Writer{})
	component.Register(SupabaseExtractorSpec, Extractor{})
	component.Register(PostgresExtractorSpec, Extractor{})
	component.RegisterConnectionCheck("postgres", checkConnection)
	component.RegisterConnectionCheck("supabase", checkConnection)
}
