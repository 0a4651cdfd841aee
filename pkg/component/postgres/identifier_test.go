package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
	"github.com/osiris-go/osiris/workspace"
)

// TestLongColumnRefusedBeforeConnecting: an input column longer than 63
// bytes would be cut by PostgreSQL and never match again on a rerun; the
// writer refuses it before touching the target (no server is contacted:
// the connection points nowhere).
func TestLongColumnRefusedBeforeConnecting(t *testing.T) {
	long := strings.Repeat("c", 67)
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: long, Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(1)
	b.Field(1).(*array.Int64Builder).Append(2)
	rec := b.NewRecordBatch()
	defer rec.Release()
	conn := &workspace.Connection{Family: "postgres", Alias: "nowhere", Values: map[string]any{"host": "192.0.2.1", "port": int64(1)}}
	req := componenttest.Request(t, component.Config{"table": "t", "write_mode": "replace"}, conn, "")
	_, err := Writer{}.Write(context.Background(), req, componenttest.NewMemTable("up", schema, rec))
	if err == nil || !strings.Contains(err.Error(), "is 67 bytes; PostgreSQL keeps 63") {
		t.Fatalf("got %v", err)
	}
}
