package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/osiris-go/osiris/pkg/component"
)

// Extractor is the mysql.extractor driver.
type Extractor struct {
	// textProtocol makes the query run unprepared (text protocol), to test
	// the text-value paths of the appenders.
	textProtocol bool
}

var _ component.Extractor = (*Extractor)(nil)

const defaultBatchRows = 65536

// buildQuery returns the SQL of a step: `query` as given (trailing
// semicolons dropped) or a SELECT built from table/columns/where/limit/offset.
func buildQuery(cfg component.Config) (string, error) {
	if q := strings.TrimSpace(cfg.String("query")); q != "" {
		if cfg.Has("table") {
			return "", errors.New("set either query or table, not both")
		}
		return strings.TrimRight(q, "; \t\r\n"), nil
	}
	table := strings.TrimSpace(cfg.String("table"))
	if table == "" {
		return "", errors.New("set query or table")
	}
	schema, name := splitTable(cfg.String("schema"), table)
	cols := "*"
	if list := cfg.Strings("columns"); len(list) > 0 {
		quoted := make([]string, len(list))
		for i, c := range list {
			quoted[i] = quoteIdent(strings.TrimSpace(c))
		}
		cols = strings.Join(quoted, ", ")
	}
	q := "SELECT " + cols + " FROM " + qualified(schema, name)
	if w := strings.TrimSpace(cfg.String("where")); w != "" {
		q += " WHERE " + w
	}
	if cfg.Has("limit") {
		n := cfg.Int("limit", -1)
		if n < 0 {
			return "", fmt.Errorf("limit must be a non-negative integer, got %v", cfg["limit"])
		}
		q += " LIMIT " + strconv.FormatInt(n, 10)
	}
	if cfg.Has("offset") {
		n := cfg.Int("offset", -1)
		if n < 0 {
			return "", fmt.Errorf("offset must be a non-negative integer, got %v", cfg["offset"])
		}
		if !cfg.Has("limit") {
			q += " LIMIT 18446744073709551615" // MySQL's documented "all rows" with OFFSET
		}
		q += " OFFSET " + strconv.FormatInt(n, 10)
	}
	return q, nil
}

// Extract runs the query and returns a reader that pulls rows lazily, one
// batch of req.BatchRows rows per Next. Cancelling ctx closes the
// connection, which stops the server side too.
func (e *Extractor) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	fail := func(err error) (array.RecordReader, error) {
		return nil, fmt.Errorf("mysql.extractor step %q: %w", req.StepID, err)
	}
	query, err := buildQuery(req.Config)
	if err != nil {
		return fail(err)
	}
	cfg, err := configFor(req.Conn)
	if err != nil {
		return fail(err)
	}
	dc, err := connect(ctx, cfg)
	if err != nil {
		return fail(fmt.Errorf("connecting with %s: %w", connRef(req.Conn), err))
	}
	id, err := connectionID(ctx, dc)
	if err != nil {
		dc.Close()
		return fail(fmt.Errorf("reading the connection id: %w", err))
	}
	stopKill := killOnCancel(ctx, cfg, id, func(err error) {
		req.Log.Warn().Err(err).Msg("mysql.extractor: stopping the cancelled query on the server failed")
	})
	rows, stmt, err := openRows(ctx, dc, query, e.textProtocol)
	if err != nil {
		stopKill()
		dc.Close()
		return fail(fmt.Errorf("running query: %w", err))
	}
	mem := req.Alloc
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	r := &rowReader{
		ctx:       ctx,
		stepID:    req.StepID,
		conn:      dc,
		stmt:      stmt,
		rows:      rows,
		batchRows: req.BatchRows,
		maxBytes:  req.MaxBatchBytes(),
		warn:      req.Warn,
		stopKill:  stopKill,
	}
	if r.batchRows <= 0 {
		r.batchRows = defaultBatchRows
	}
	r.refs.Store(1)
	if err := r.initColumns(mem); err != nil {
		r.close()
		return fail(err)
	}
	return r, nil
}

// openRows prepares and runs query so the server answers in the binary
// protocol; statements the server cannot prepare (ER_UNSUPPORTED_PS) run
// as plain text queries.
func openRows(ctx context.Context, dc driver.Conn, query string, text bool) (driver.Rows, driver.Stmt, error) {
	if !text {
		prep, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return nil, nil, errors.New("go-sql-driver connection cannot prepare")
		}
		stmt, err := prep.PrepareContext(ctx, query)
		if err == nil {
			sq, ok := stmt.(driver.StmtQueryContext)
			if !ok {
				stmt.Close()
				return nil, nil, errors.New("go-sql-driver statement cannot query")
			}
			rows, err := sq.QueryContext(ctx, nil)
			if err != nil {
				stmt.Close()
				return nil, nil, err
			}
			return rows, stmt, nil
		}
		if mysqlErrorNumber(err) != 1295 {
			return nil, nil, err
		}
	}
	q, ok := dc.(driver.QueryerContext)
	if !ok {
		return nil, nil, errors.New("go-sql-driver connection cannot query")
	}
	rows, err := q.QueryContext(ctx, query, nil)
	return rows, nil, err
}

// rowReader is the array.RecordReader of an extraction.
type rowReader struct {
	refs      atomic.Int64
	ctx       context.Context
	stepID    string
	conn      driver.Conn
	stmt      driver.Stmt
	rows      driver.Rows
	batchRows int
	maxBytes  int64 // a batch ends early once its values reach this
	warn      func(code, message string)
	stopKill  func() // ends the KILL QUERY watch on ctx

	schema *arrow.Schema
	cols   []*columnAppender
	dest   []driver.Value

	cur       arrow.RecordBatch
	err       error
	done      bool // the server said end of rows
	rowsRead  int64
	closeOnce sync.Once
	warnOnce  sync.Once
}

func (r *rowReader) initColumns(mem memory.Allocator) error {
	names := r.rows.Columns()
	typeName, _ := r.rows.(driver.RowsColumnTypeDatabaseTypeName)
	precScale, _ := r.rows.(driver.RowsColumnTypePrecisionScale)
	if typeName == nil {
		return errors.New("go-sql-driver rows do not report column types")
	}
	if err := component.CheckColumnNames(names); err != nil {
		return fmt.Errorf("the query's result: %w", err)
	}
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		meta := columnMeta{Name: n, DBType: typeName.ColumnTypeDatabaseTypeName(i), Nullable: true}
		if precScale != nil {
			meta.Precision, meta.Scale, _ = precScale.ColumnTypePrecisionScale(i)
			if meta.DBType == "DECIMAL" {
				// The driver takes a sign digit off every DECIMAL's length.
				if unsigned, _ := columnUnsigned(r.rows, i); unsigned {
					meta.Precision++
				}
			}
		}
		dt, err := arrowType(meta)
		if err != nil {
			return err
		}
		col, err := newColumnAppender(mem, meta, dt)
		if err != nil {
			return err
		}
		r.cols = append(r.cols, col)
		// Every field is nullable, whatever the result metadata says: MariaDB
		// flags columns NOT NULL that hold NULLs (the grouping column of
		// WITH ROLLUP, zero dates read as NULL), and a NULL in a
		// non-nullable field would reach parquet as "" or 0.
		fields[i] = arrow.Field{Name: n, Type: dt, Nullable: true}
	}
	r.schema = arrow.NewSchema(fields, nil)
	r.dest = make([]driver.Value, len(names))
	return nil
}

func (r *rowReader) Retain() { r.refs.Add(1) }

func (r *rowReader) Release() {
	if r.refs.Add(-1) == 0 {
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
		r.close()
		for _, c := range r.cols {
			c.builder.Release()
		}
	}
}

func (r *rowReader) Schema() *arrow.Schema { return r.schema }

func (r *rowReader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is the deprecated name of RecordBatch.
func (r *rowReader) Record() arrow.RecordBatch { return r.cur }

func (r *rowReader) Err() error { return r.err }

// Next reads up to batchRows rows into a new batch.
func (r *rowReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done || r.err != nil {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.fail(err)
		return false
	}
	for _, c := range r.cols {
		c.reserve(r.batchRows)
	}
	n, size := 0, int64(0)
	for n < r.batchRows && size < r.maxBytes {
		if err := r.rows.Next(r.dest); err != nil {
			if err == io.EOF {
				r.done = true
				r.finish()
				break
			}
			if cerr := r.ctx.Err(); cerr != nil {
				err = fmt.Errorf("%w (%v)", cerr, err)
			} else if errors.Is(err, gomysql.ErrInvalidConn) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("connection lost (killed on the server, or the network dropped): %w", err)
			}
			r.fail(fmt.Errorf("reading rows after row %d: %w", r.rowsRead, err))
			return false
		}
		for i, c := range r.cols {
			if err := c.appendV(r.dest[i]); err != nil {
				r.fail(fmt.Errorf("row %d: %w", r.rowsRead+1, err))
				return false
			}
			size += valueBytes(r.dest[i])
		}
		n++
		r.rowsRead++
	}
	if n == 0 {
		return false
	}
	arrs := make([]arrow.Array, len(r.cols))
	for i, c := range r.cols {
		arrs[i] = c.newArray()
	}
	r.cur = array.NewRecordBatch(r.schema, arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return true
}

// valueBytes is about what a driver value adds to a batch.
func valueBytes(v driver.Value) int64 {
	switch x := v.(type) {
	case []byte:
		return int64(len(x)) + 4
	case string:
		return int64(len(x)) + 4
	}
	return 8
}

func (r *rowReader) fail(err error) {
	r.err = fmt.Errorf("mysql.extractor step %q: %w", r.stepID, err)
	r.close()
}

// finish runs once the server has sent every row.
func (r *rowReader) finish() {
	r.close()
	r.warnOnce.Do(func() {
		if total, detail := zeroDateSummary(r.cols); total > 0 && r.warn != nil {
			r.warn("zero-dates", fmt.Sprintf("%d zero or invalid date values became NULL (%s)", total, detail))
		}
	})
}

// close frees the server resources. A result that was not read to the end
// is abandoned by closing the connection: rows.Close would read (and
// discard) every remaining row first.
func (r *rowReader) close() {
	r.closeOnce.Do(func() {
		if r.done {
			if r.rows != nil {
				r.rows.Close()
			}
			if r.stmt != nil {
				r.stmt.Close()
			}
		}
		if r.conn != nil {
			r.conn.Close()
		}
		if r.stopKill != nil {
			r.stopKill()
		}
	})
}
