package postgres

import "github.com/osiris-go/osiris/pkg/component"

func writerSpec(name, aliasOf string) component.Spec {
	return component.Spec{
		Name:               name,
		AliasOf:            aliasOf,
		Description:        "Loads a table into PostgreSQL/Supabase with binary COPY; replace, merge and delete+insert go through a staging table in one transaction.",
		Role:               component.RoleWrite,
		Modes:              []string{"write"},
		Families:           []string{"supabase", "postgres"},
		ConnectionRequired: true,
		Fields: []component.Field{
			component.ConnectionField(),
			{Name: "table", Type: component.TypeString, Required: true, Doc: "target table"},
			{Name: "schema", Type: component.TypeString, Default: "public", Doc: "target schema"},
			component.WriteModeField(component.WriteModes...),
			component.PrimaryKeyField(),
			component.DeleteKeyField(),
			component.SchemaEvolutionField(),
			component.CreateIfMissingField(),
			component.CompatField("batch_size", component.TypeInteger),
			component.CompatField("returning", component.TypeString),
			component.CompatField("prefer", component.TypeString),
			component.CompatField("timeout", component.TypeInteger),
			component.CompatField("retries", component.TypeInteger),
		},
		PrimaryKeyFor: []string{"upsert", "merge"},
		CheckConfig:   component.CheckWriteKeys,
		// PostgreSQL cuts longer names to 63 bytes (NAMEDATALEN-1).
		MaxIdentifierBytes: maxIdentifierBytes, IdentifierFields: []string{"table", "schema", "primary_key", "delete_key"}, IdentifierDialect: "PostgreSQL",
	}
}

func extractorSpec(name, aliasOf string) component.Spec {
	return component.Spec{
		Name:               name,
		AliasOf:            aliasOf,
		Description:        "Streams a PostgreSQL/Supabase query or table into Arrow batches.",
		Role:               component.RoleExtract,
		Modes:              []string{"read"},
		Families:           []string{"supabase", "postgres"},
		ConnectionRequired: true,
		Fields: []component.Field{
			component.ConnectionField(),
			{Name: "query", Type: component.TypeString, Doc: "SQL to run"},
			{Name: "table", Type: component.TypeString, Doc: "table to read"},
			{Name: "schema", Type: component.TypeString, Default: "public", Doc: "schema of table"},
			{Name: "columns", Type: component.TypeStringList, Doc: "columns to read from table (default all)"},
			{Name: "where", Type: component.TypeString, Doc: "filter for table"},
			{Name: "limit", Type: component.TypeInteger, Min: component.Ptr(0), Doc: "maximum rows to read from table"},
			component.CompatField("batch_size", component.TypeInteger),
		},
		ExactlyOneOf:       [][]string{{"query", "table"}},
		MaxIdentifierBytes: maxIdentifierBytes, IdentifierFields: []string{"table", "schema", "columns"}, IdentifierDialect: "PostgreSQL",
	}
}

var (
	SupabaseWriterSpec    = writerSpec("supabase.writer", "")
	PostgresWriterSpec    = writerSpec("postgres.writer", "supabase.writer")
	SupabaseExtractorSpec = extractorSpec("supabase.extractor", "")
	PostgresExtractorSpec = extractorSpec("postgres.extractor", "supabase.extractor")
)
