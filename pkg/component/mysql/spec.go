package mysql

import (
	"errors"

	"github.com/osiris-go/osiris/pkg/component"
)

// offsetNeedsTable refuses `offset` beside `query`: osiris does not rewrite
// a user's SQL, and ignoring the key would silently change the data.
func offsetNeedsTable(cfg map[string]any) (string, error) {
	if cfg["offset"] != nil && cfg["query"] != nil {
		return "offset", errors.New("offset applies to table; with query, write OFFSET in the query itself")
	}
	return "", nil
}

// ExtractorSpec is mysql.extractor.
var ExtractorSpec = component.Spec{
	Name:               "mysql.extractor",
	Description:        "Streams a MySQL/MariaDB query or table into Arrow batches (binary protocol).",
	Role:               component.RoleExtract,
	Modes:              []string{"read"},
	Families:           []string{"mysql"},
	ConnectionRequired: true,
	Fields: []component.Field{
		component.ConnectionField(),
		{Name: "query", Type: component.TypeString, Doc: "SQL to run"},
		{Name: "table", Type: component.TypeString, Doc: "table to read (with columns/where/limit)"},
		{Name: "columns", Type: component.TypeStringList, Doc: "columns to read from table (default all)"},
		{Name: "where", Type: component.TypeString, Doc: "filter for table"},
		{Name: "limit", Type: component.TypeInteger, Min: component.Ptr(0), Doc: "maximum rows to read from table"},
		{Name: "schema", Type: component.TypeString, Doc: "database of table when not the connection's"},
		component.CompatField("batch_size", component.TypeInteger),
		component.CompatField("pool_size", component.TypeInteger),
		component.CompatField("pool_recycle", component.TypeInteger),
		component.CompatField("echo", component.TypeBoolean),
		{Name: "offset", Type: component.TypeInteger, Min: component.Ptr(0), Doc: "rows of table to skip (Osiris-Python's key; in a query, write OFFSET yourself)"},
	},
	ExactlyOneOf: [][]string{{"query", "table"}},
	CheckConfig:  offsetNeedsTable,
	// MySQL refuses names longer than 64 characters.
	MaxIdentifierBytes: 64, IdentifierFields: []string{"table", "schema", "columns"}, IdentifierDialect: "MySQL",
}

// WriterSpec is mysql.writer.
var WriterSpec = component.Spec{
	Name:               "mysql.writer",
	Description:        "Loads a table into MySQL/MariaDB (LOAD DATA LOCAL INFILE streamed from Arrow, or multi-row INSERT); replace, merge and delete+insert are atomic.",
	Role:               component.RoleWrite,
	Modes:              []string{"write"},
	Families:           []string{"mysql"},
	ConnectionRequired: true,
	Fields: []component.Field{
		component.ConnectionField(),
		{Name: "table", Type: component.TypeString, Required: true, Doc: "target table"},
		component.WriteModeField(component.WriteModes...),
		component.PrimaryKeyField(),
		component.DeleteKeyField(),
		component.SchemaEvolutionField(),
		component.CreateIfMissingField(),
		component.CompatField("batch_size", component.TypeInteger),
	},
	PrimaryKeyFor:      []string{"upsert", "merge"},
	CheckConfig:        component.CheckWriteKeys,
	MaxIdentifierBytes: 64, IdentifierFields: []string{"table", "primary_key", "delete_key"}, IdentifierDialect: "MySQL",
}
