package duckdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	duckdbdriver "github.com/duckdb/duckdb-go/v2"
)

// Session is one DuckDB database (in-memory or a file) with one connection
// and its Arrow handle. DuckDB connections are not safe for concurrent use:
// a Session is used by one goroutine at a time.
//
// Arrow views registered with RegisterView stay valid until Close; Close
// releases them, the connection and the database, in that order.
type Session struct {
	connector *duckdbdriver.Connector
	conn      driver.Conn
	arrow     *duckdbdriver.Arrow
	views     map[string]func() // release funcs of registered Arrow streams, by view name

	closeOnce sync.Once
	closeErr  error
}

// Open opens the DuckDB database at path, or an in-memory database when path
// is "". A file that does not exist is created. The session time zone is UTC
// so that TIMESTAMPTZ values and casts never depend on the machine.
func Open(ctx context.Context, path string) (*Session, error) {
	return open(ctx, path, path)
}

// OpenReadOnly opens an existing database file for reading; other readers
// may have it open at the same time.
func OpenReadOnly(ctx context.Context, path string) (*Session, error) {
	return open(ctx, path, path+"?access_mode=read_only")
}

// lockWait bounds how long open waits for another process's lock on a
// database file (DuckDB allows one writing process per file).
const lockWait = 2 * time.Minute

func open(ctx context.Context, path, dsn string) (*Session, error) {
	connector, err := newConnector(ctx, path, dsn)
	if err != nil {
		return nil, err
	}
	conn, err := connector.Connect(ctx)
	if err != nil {
		_ = connector.Close()
		return nil, fmt.Errorf("connecting to duckdb %s: %w", describePath(path), err)
	}
	ar, err := duckdbdriver.NewArrowFromConn(conn)
	if err != nil {
		_ = conn.Close()
		_ = connector.Close()
		return nil, fmt.Errorf("duckdb arrow interface: %w", err)
	}
	s := &Session{connector: connector, conn: conn, arrow: ar}
	if err := s.Exec(ctx, "SET TimeZone = 'UTC'"); err != nil {
		return nil, errors.Join(fmt.Errorf("setting duckdb time zone: %w", err), s.Close())
	}
	return s, nil
}

// newConnector opens the database. When another process holds the file's
// lock (two runs of one pipeline writing the same warehouse.duckdb), it
// waits for the lock, with backoff, until ctx ends or lockWait passes: the
// other run holds it only while its step writes.
func newConnector(ctx context.Context, path, dsn string) (*duckdbdriver.Connector, error) {
	deadline := time.Now().Add(lockWait)
	delay := 20 * time.Millisecond
	retriedShort := false
	for {
		connector, err := duckdbdriver.NewConnector(dsn, nil)
		if err == nil {
			return connector, nil
		}
		if path != "" && strings.Contains(err.Error(), "is not a valid DuckDB database file") && !retriedShort {
			// Read while another process was still writing its headers:
			// wait for them, once.
			if st, serr := os.Stat(path); serr == nil && st.Size() < createdBytes {
				retriedShort = true
				waitCreated(path, createdBytes)
				continue
			}
		}
		if path == "" || !strings.Contains(err.Error(), "Could not set lock on file") || time.Now().After(deadline) {
			return nil, fmt.Errorf("opening duckdb %s: %w", describePath(path), err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("opening duckdb %s: waiting for another process's lock: %w", describePath(path), ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

func describePath(path string) string {
	if path == "" {
		return "(in memory)"
	}
	return fmt.Sprintf("%q", path)
}

// Exec runs statements that return no rows.
func (s *Session) Exec(ctx context.Context, query string) error {
	ex, ok := s.conn.(driver.ExecerContext)
	if !ok {
		return errors.New("duckdb connection cannot exec")
	}
	_, err := ex.ExecContext(ctx, query, nil)
	return err
}

// ExecCount runs one statement and returns the rows it affected.
func (s *Session) ExecCount(ctx context.Context, query string) (int64, error) {
	ex, ok := s.conn.(driver.ExecerContext)
	if !ok {
		return 0, errors.New("duckdb connection cannot exec")
	}
	res, err := ex.ExecContext(ctx, query, nil)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// RegisterView makes reader visible to SQL as name, without copying: DuckDB
// pulls batches from the reader while a query scans the view. The stream is
// one-shot: a view can be scanned by one query, once (see Materialize).
// RegisterView takes over the caller's reference to reader; the reader is
// released on Close.
func (s *Session) RegisterView(reader array.RecordReader, name string) error {
	release, err := s.arrow.RegisterView(reader, name)
	// The exported C stream took its own reference; drop ours so releasing
	// the stream (on Close) frees the reader.
	reader.Release()
	if err != nil {
		return fmt.Errorf("registering arrow view %q: %w", name, err)
	}
	if s.views == nil {
		s.views = map[string]func(){}
	}
	s.views[name] = release
	return nil
}

// DropView drops a view made by RegisterView and releases its stream (and
// with it the reader) at once, rather than on Close: once a query has
// copied the stream, its batches need not stay alive.
func (s *Session) DropView(ctx context.Context, name string) error {
	release, ok := s.views[name]
	if !ok {
		return fmt.Errorf("no arrow view %q", name)
	}
	if err := s.Exec(ctx, "DROP VIEW "+QuoteIdent(name)); err != nil {
		return err
	}
	delete(s.views, name)
	release()
	return nil
}

// LimitMemory sets DuckDB's memory_limit to bytes (rounded down to MiB,
// at least 1 MiB); beyond it DuckDB spills to its temp_directory. bytes <= 0
// leaves the limit as it is. It can be changed at any time, also after
// Confine.
func (s *Session) LimitMemory(ctx context.Context, bytes int64) error {
	if bytes <= 0 {
		return nil
	}
	mib := max(bytes>>20, 1)
	if err := s.Exec(ctx, fmt.Sprintf("SET memory_limit = '%dMiB'", mib)); err != nil {
		return fmt.Errorf("duckdb memory_limit: %w", err)
	}
	return nil
}

// Query runs query and returns its result as an Arrow stream. The reader
// must be released before the next statement on this Session and before
// Close. DuckDB materialises the result internally and hands it over in
// chunks of its vector size (2048 rows).
func (s *Session) Query(ctx context.Context, query string) (array.RecordReader, error) {
	return s.arrow.QueryContext(ctx, query)
}

// QueryAndClose runs query and hands the Session over to the returned
// reader: releasing the reader closes the Session. On error the Session is
// closed before returning.
func (s *Session) QueryAndClose(ctx context.Context, query string) (array.RecordReader, error) {
	rr, err := s.Query(ctx, query)
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return &sessionReader{RecordReader: rr, session: s}, nil
}

// Close releases the registered views, the connection and the database. It is
// safe to call more than once.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		// The views' streams must be released before the connection goes:
		// DuckDB may still hold a pointer to them.
		for _, release := range s.views {
			release()
		}
		s.views = nil
		if err := s.conn.Close(); err != nil {
			errs = append(errs, err)
		}
		if err := s.connector.Close(); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// sessionReader keeps the Session alive as long as the reader is referenced.
type sessionReader struct {
	array.RecordReader
	session *Session

	mu   sync.Mutex
	refs int64 // extra references taken with Retain
	done bool
}

func (r *sessionReader) Retain() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refs++
}

func (r *sessionReader) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	if r.refs > 0 {
		r.refs--
		return
	}
	r.done = true
	r.RecordReader.Release()
	_ = r.session.Close()
}

// Schema, Next, RecordBatch and Err come from the embedded DuckDB reader.
var _ array.RecordReader = (*sessionReader)(nil)

// Record is the deprecated name of RecordBatch; kept so the embedded
// reader's method set stays complete.
func (r *sessionReader) Record() arrow.RecordBatch { return r.RecordReader.RecordBatch() }

// QuoteIdent quotes name as a DuckDB identifier.
func QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QuoteString quotes s as a DuckDB string literal.
func QuoteString(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}
