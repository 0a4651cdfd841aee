package component

// Shared field definitions, so the same key means the same thing in every
// component that has it.

// ConnectionField is the `connection: "@family.alias"` key.
func ConnectionField() Field {
	return Field{Name: "connection", Type: TypeConnection, Doc: `connection reference "@family.alias"; the family's default connection when omitted`}
}

// WriteModeField is `write_mode` with the given modes, default append.
func WriteModeField(modes ...string) Field {
	return Field{Name: "write_mode", Type: TypeString, Default: "append", Enum: modes,
		Doc: "append adds rows; replace swaps the whole table atomically; upsert merges on primary_key"}
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
