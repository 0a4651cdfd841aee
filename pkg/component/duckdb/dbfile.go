package duckdb

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// MemoryPath is the path that names an in-memory database, as in DuckDB
// itself; a connection with Osiris-Python's memory: true and no path is one
// too. Nothing is written to a file of that name: an extractor queries an
// empty in-memory database, and a writer refuses it, because everything it
// wrote would be gone when the step ends.
const MemoryPath = ":memory:"

// errMemoryWriter is why duckdb.writer refuses MemoryPath.
var errMemoryWriter = errors.New(`path ":memory:" is an in-memory database, which is gone when the step ends; write into a database file such as warehouse.duckdb`)

// A DuckDB database file starts with an 8-byte checksum and the magic
// bytes "DUCK" (DuckDB's storage format, main header).
const (
	magicOffset = 8
	magic       = "DUCK"
)

// createdWait bounds how long an open waits for a database file that
// another process is creating (two runs writing the same new
// warehouse.duckdb): DuckDB writes the file's headers (three 4 KiB blocks)
// right after creating it.
const (
	createdWait  = 5 * time.Second
	createdBytes = 3 * 4096
)

// waitCreated waits, up to createdWait, while the file at abs exists but
// is shorter than below: another process is still writing its headers.
func waitCreated(abs string, below int64) {
	deadline := time.Now().Add(createdWait)
	for time.Now().Before(deadline) {
		st, err := os.Stat(abs)
		if err != nil || st.Size() >= below {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CheckDatabaseFile reports an existing file at abs that is not a DuckDB
// database. DuckDB opens some other files (a CSV, say) as an empty
// in-memory database, so a writer pointed at one would report rows and
// keep none. A path that does not exist yet is fine: the writer creates it.
func CheckDatabaseFile(abs string) error {
	f, err := os.Open(abs)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return errors.New("is a directory, not a DuckDB database file")
	}
	var hdr [magicOffset + len(magic)]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || string(hdr[magicOffset:]) != magic {
		return fmt.Errorf("is not a DuckDB database file (those start with the %q header); it holds other data, such as a CSV", magic)
	}
	return nil
}
