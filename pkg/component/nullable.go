package component

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// NullableSchema returns s with every top-level field nullable, or s itself
// when they all are. Extractors declare every field nullable: databases
// report NOT NULL for columns that hold NULLs (MariaDB's WITH ROLLUP
// grouping column), and a NULL in a non-nullable field reaches parquet as ""
// or 0 while memory keeps the NULL. The engine refuses such batches.
func NullableSchema(s *arrow.Schema) *arrow.Schema {
	if s == nil {
		return nil
	}
	fields := s.Fields()
	changed := false
	for i := range fields {
		if !fields[i].Nullable {
			fields[i].Nullable = true
			changed = true
		}
	}
	if !changed {
		return s
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

// WithSchema returns rec relabelled with schema (same columns, e.g. from
// NullableSchema) as a new batch, or rec itself, retained, when its schema
// already is schema. The caller releases both.
func WithSchema(rec arrow.RecordBatch, schema *arrow.Schema) arrow.RecordBatch {
	if rec.Schema() == schema || rec.Schema().Equal(schema) {
		rec.Retain()
		return rec
	}
	return array.NewRecordBatch(schema, rec.Columns(), rec.NumRows())
}
