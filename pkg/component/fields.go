package component

import "errors"

// Shared field definitions, so the same key means the same thing in every
// component that has it.

// ConnectionField is the `connection: "@family.alias"` key.
func ConnectionField() Field {
	return Field{Name: "connection", Type: TypeConnection, Doc: `connection reference "@family.alias"; the family's default connection when omitted`}
}

// WriteModeField is `write_mode` with the given modes, default append.
func WriteModeField(modes ...string) Field {
	return Field{Name: "write_mode", Type: TypeString, Default: "append", Enum: modes,
		Doc: "append adds rows; replace swaps the whole table atomically; merge (upsert) updates rows whose primary_key exists and inserts the others; delete+insert deletes the rows whose delete_key values appear in the input, then inserts it"}
}

// WriteModes are the write_mode values of the SQL writers (Postgres/Supabase,
// MySQL, DuckDB); upsert is a synonym of merge.
var WriteModes = []string{"append", "replace", "upsert", "merge", "delete+insert"}

// DeleteKeyField is `delete_key`: the column(s) whose values in the input
// select the target rows delete+insert deletes.
func DeleteKeyField() Field {
	return Field{Name: "delete_key", Type: TypeStringList, Doc: "column(s) for write_mode delete+insert: target rows whose values appear in the input are deleted before it is inserted"}
}

// Schema evolution policies (`schema_evolution`).
const (
	SchemaEvolutionAdd  = "add"
	SchemaEvolutionFail = "fail"
)

// SchemaEvolutionField is `schema_evolution`: what append, merge and
// delete+insert do when the input's columns differ from the target's.
func SchemaEvolutionField() Field {
	return Field{Name: "schema_evolution", Type: TypeString, Default: SchemaEvolutionAdd, Enum: []string{SchemaEvolutionAdd, SchemaEvolutionFail},
		Doc: "add (default): new input columns are added to the target (nullable), int/decimal/varchar columns are widened, columns missing from the input are NULL when nullable; fail: any difference fails the load before anything is written"}
}

// CheckWriteKeys is a Spec.CheckConfig for the SQL writers: delete+insert
// needs delete_key.
func CheckWriteKeys(cfg map[string]any) (string, error) {
	if cfg["write_mode"] != "delete+insert" {
		return "", nil
	}
	switch k := cfg["delete_key"].(type) {
	case string:
		if k != "" {
			return "", nil
		}
	case []any:
		if len(k) > 0 {
			return "", nil
		}
	case []string:
		if len(k) > 0 {
			return "", nil
		}
	}
	return "write_mode", errors.New("write_mode delete+insert needs delete_key: the column(s) whose input values select the target rows to delete (add delete_key: [column, ...])")
}

// PrimaryKeyField is `primary_key`: one column or a list.
func PrimaryKeyField() Field {
	return Field{Name: "primary_key", Type: TypeStringList, Doc: "key column(s); required for upsert"}
}

// CreateIfMissingField is `create_if_missing`.
func CreateIfMissingField() Field {
	return Field{Name: "create_if_missing", Type: TypeBoolean, Default: false,
		Doc: "create the target table from the input's schema when it does not exist"}
}

// CompatField is a key accepted for Osiris-Python compatibility; osiris
// ignores it.
func CompatField(name string, t FieldType) Field {
	return Field{Name: name, Type: t, Doc: "accepted for Osiris-Python compatibility; ignored"}
}
