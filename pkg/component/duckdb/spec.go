package duckdb

import "github.com/osiris-go/osiris/pkg/component"

// ProcessorSpec is duckdb.processor.
var ProcessorSpec = component.Spec{
	Name:        "duckdb.processor",
	Description: "Runs SQL in an in-process DuckDB over the step's inputs, registered as Arrow views: input_df (single input), df_<step_id>, and each inputs: name.",
	Role:        component.RoleTransform,
	Modes:       []string{"transform"},
	Fields: []component.Field{
		{Name: "query", Type: component.TypeString, Required: true, Doc: "SQL over the inputs"},
	},
	Cacheable: true,
	IO:        queryIO,
}

// WriterSpec is duckdb.writer.
var WriterSpec = component.Spec{
	Name:        "duckdb.writer",
	Description: "Writes the input into a table of a DuckDB database file.",
	Role:        component.RoleWrite,
	Modes:       []string{"write"},
	Families:    []string{"duckdb"},
	Fields: []component.Field{
		component.ConnectionField(),
		{Name: "path", Type: component.TypeString, Doc: "database file (workspace-relative); overrides the connection's path"},
		{Name: "table", Type: component.TypeString, Required: true, Doc: "target table"},
		component.WriteModeField(component.WriteModes...),
		component.PrimaryKeyField(),
		component.DeleteKeyField(),
		component.SchemaEvolutionField(),
		component.CreateIfMissingField(),
	},
	PrimaryKeyFor: []string{"upsert", "merge"},
	CheckConfig:   component.CheckWriteKeys,
	ReadsPaths:    []string{"path"},
	WritesPaths:   []string{"path"},
	CheckFile:     CheckDatabaseFile,
}

// ExtractorSpec is duckdb.extractor.
var ExtractorSpec = component.Spec{
	Name:        "duckdb.extractor",
	Description: "Runs a query against a DuckDB database file.",
	Role:        component.RoleExtract,
	Modes:       []string{"read"},
	Families:    []string{"duckdb"},
	Fields: []component.Field{
		component.ConnectionField(),
		{Name: "path", Type: component.TypeString, Doc: "database file (workspace-relative); overrides the connection's path"},
		{Name: "query", Type: component.TypeString, Required: true, Doc: "SQL to run"},
	},
	ReadsPaths: []string{"path"},
	Cacheable:  true,
	CheckFile:  CheckDatabaseFile,
	IO:         queryIO,
}
