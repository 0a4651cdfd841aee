package mysql

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/osiris-go/osiris/internal/testenv"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/component/componenttest"
	"github.com/osiris-go/osiris/workspace"
)

// testConn returns a connection to database db (created if missing) made of
// host/port/user/password fields, as a workspace would resolve it.
func testConn(t testing.TB, db string) *workspace.Connection {
	t.Helper()
	testenv.MySQLDSN(t, db) // skips (or fails under CI) without MariaDB; creates db
	return &workspace.Connection{Family: "mysql", Alias: "test", Values: map[string]any{
		"host": testenv.MySQLHost(), "port": testenv.MySQLPort(), "user": testenv.MySQLUser(),
		"password": testenv.MySQLPassword(), "database": db,
	}}
}

// mustExec runs statements on db, failing the test on the first error.
func mustExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// warnings records Request.Warn calls.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) add(code, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, code+": "+msg)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list...)
}

func extractRequest(t testing.TB, conn *workspace.Connection, cfg component.Config) (*component.Request, *warnings) {
	req := componenttest.Request(t, cfg, conn, "")
	w := &warnings{}
	req.Warn = w.add
	return req, w
}

// extractAll runs the extractor and returns its schema, batches and rows.
func extractAll(t testing.TB, e *Extractor, req *component.Request) (*arrow.Schema, []arrow.RecordBatch, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rr, err := e.Extract(ctx, req)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	schema := rr.Schema()
	recs, n := componenttest.Drain(t, rr)
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return schema, recs, n
}

// cell renders one value canonically (NULL as "NULL"), the same way for
// types that are equal in MySQL but differ in Arrow (timestamp with or
// without zone, string kinds).
func cell(arr arrow.Array, i int) string {
	if arr.IsNull(i) {
		return "NULL"
	}
	switch a := arr.(type) {
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Decimal256:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal256Type).Scale)
	case *array.Timestamp:
		return time.UnixMicro(int64(a.Value(i))).UTC().Format("2006-01-02 15:04:05.999999")
	case *array.Date32:
		return a.Value(i).ToTime().Format("2006-01-02")
	case *array.Duration:
		return strconv.FormatInt(int64(a.Value(i)), 10) + "us"
	case *array.Binary:
		return "x" + hex.EncodeToString(a.Value(i))
	case *array.String:
		return a.Value(i)
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	}
	return fmt.Sprint(arr.GetOneForMarshal(i))
}

// tableCells renders every value of recs by column name, row by row.
func tableCells(schema *arrow.Schema, recs []arrow.RecordBatch) []map[string]string {
	var out []map[string]string
	for _, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			row := map[string]string{}
			for c, f := range schema.Fields() {
				row[f.Name] = cell(rec.Column(c), i)
			}
			out = append(out, row)
		}
	}
	return out
}

func writeRequest(t testing.TB, conn *workspace.Connection, cfg component.Config) *component.Request {
	return componenttest.Request(t, cfg, conn, "")
}

func countRows(t testing.TB, db *sql.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
