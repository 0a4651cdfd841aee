package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	mysqlDatabase = "bench"
	pgDatabase    = "osiris_bench"
	directorsRows = 20000 // fixed by movies.sql
)

// servers says where the benchmark's MariaDB and PostgreSQL are. Neither has
// a password here (the dev/CI machines use trust/empty-password root); should
// one be needed, MYSQL_PWD / PGPASSWORD in the environment reach the clients
// without ever appearing in a command line the harness prints.
type servers struct {
	MySQLHost string `json:"mysql_host"`
	MySQLPort int    `json:"mysql_port"`
	MySQLUser string `json:"mysql_user"`
	PGHost    string `json:"pg_host"`
	PGPort    int    `json:"pg_port"`
	PGUser    string `json:"pg_user"`
}

// mysqlArgs are the connection flags of the mysql client.
func (s servers) mysqlArgs() []string {
	return []string{"-h" + s.MySQLHost, "-P" + strconv.Itoa(s.MySQLPort), "-u" + s.MySQLUser}
}

// psqlArgs are the connection flags of psql for database db.
func (s servers) psqlArgs(db string) []string {
	return []string{"-X", "-q", "-h", s.PGHost, "-p", strconv.Itoa(s.PGPort), "-U", s.PGUser, "-d", db, "-v", "ON_ERROR_STOP=1"}
}

// pgURL is the libpq URL osiris gets for the bench database.
func (s servers) pgURL() string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", s.PGUser, s.PGHost, s.PGPort, pgDatabase)
}

// mysqlQuery runs sql with the mysql client and returns its batch output.
func (s servers) mysqlQuery(ctx context.Context, sql string) (string, error) {
	args := append(s.mysqlArgs(), "--batch", "--skip-column-names", "-e", sql)
	out, err := exec.CommandContext(ctx, "mysql", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("mysql -e %q: %w: %s", sql, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// psqlQuery runs sql in database db with psql and returns its unaligned output.
func (s servers) psqlQuery(ctx context.Context, db, sql string) (string, error) {
	args := append(s.psqlArgs(db), "-tA", "-c", sql)
	out, err := exec.CommandContext(ctx, "psql", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql -c %q: %w: %s", sql, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// datasetRows returns the row counts of bench.movies and bench.directors, or
// an error when they do not exist.
func (s servers) datasetRows(ctx context.Context) (movies, directors int64, err error) {
	out, err := s.mysqlQuery(ctx, "SELECT (SELECT COUNT(*) FROM bench.movies), (SELECT COUNT(*) FROM bench.directors)")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("unexpected count output %q", out)
	}
	movies, err1 := strconv.ParseInt(f[0], 10, 64)
	directors, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("unexpected count output %q", out)
	}
	return movies, directors, nil
}

// ensureDataset loads movies.sql into MariaDB unless bench.movies already
// holds exactly rows rows (and directors is complete). Loading recreates both
// tables, so a half-loaded earlier attempt is repaired too.
func ensureDataset(ctx context.Context, s servers, sharedDir string, rows int64, progress progressFunc) error {
	movies, directors, err := s.datasetRows(ctx)
	if err == nil && movies == rows && directors == directorsRows {
		progress("dataset: bench.movies has %d rows, as wanted", rows)
		return nil
	}
	script := filepath.Join(sharedDir, "bench", "movies.sql")
	f, err := os.Open(script)
	if err != nil {
		return fmt.Errorf("dataset script (set OSIRIS_SHARED_DIR or -shared): %w", err)
	}
	defer f.Close()
	progress("dataset: loading %s with @rows=%d (bench.movies had %d rows)", script, rows, movies)
	args := append(s.mysqlArgs(), fmt.Sprintf("--init-command=SET @rows=%d", rows))
	cmd := exec.CommandContext(ctx, "mysql", args...)
	cmd.Stdin = f
	res, err := runProcess(cmd, "mysql < "+script)
	if err != nil {
		return fmt.Errorf("loading the dataset: %w", err)
	}
	progress("dataset: loaded in %.1f s", res.wall.Seconds())
	movies, directors, err = s.datasetRows(ctx)
	if err != nil {
		return fmt.Errorf("after loading the dataset: %w", err)
	}
	if movies != rows || directors != directorsRows {
		return fmt.Errorf("after loading the dataset: %d movies and %d directors, want %d and %d", movies, directors, rows, directorsRows)
	}
	return nil
}

// ensurePGDatabase creates the osiris_bench database when it is missing.
func ensurePGDatabase(ctx context.Context, s servers) error {
	out, err := s.psqlQuery(ctx, "postgres", "SELECT 1 FROM pg_database WHERE datname = '"+pgDatabase+"'")
	if err != nil {
		return err
	}
	if out == "1" {
		return nil
	}
	if _, err := s.psqlQuery(ctx, "postgres", "CREATE DATABASE "+pgDatabase); err != nil {
		// Someone else may have created it in between; that is fine.
		if out, err2 := s.psqlQuery(ctx, "postgres", "SELECT 1 FROM pg_database WHERE datname = '"+pgDatabase+"'"); err2 == nil && out == "1" {
			return nil
		}
		return err
	}
	return nil
}

// exportMoviesCSV writes bench.movies as a CSV file with a header: the input of
// W4. The mysql client's batch output is tab-separated; the data has no tabs,
// commas, quotes or newlines (movies.sql is fixed), so converting is a matter
// of separators and of NULL becoming an empty field.
func exportMoviesCSV(ctx context.Context, s servers, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	args := append(s.mysqlArgs(), "--quick", "--batch", "--raw", mysqlDatabase, "-e", "SELECT * FROM movies ORDER BY movie_id")
	cmd := exec.CommandContext(ctx, "mysql", args...)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		out.Close()
		return err
	}
	stderr := &tailBuffer{limit: 2048}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("mysql export: %w", err)
	}
	w := bufio.NewWriterSize(out, 1<<20)
	copyErr := tsvToCSV(pipe, w)
	if copyErr != nil {
		_, _ = io.Copy(io.Discard, pipe) // let mysql finish instead of blocking on a full pipe
	}
	waitErr := cmd.Wait()
	flushErr := w.Flush()
	closeErr := out.Close()
	switch {
	case waitErr != nil:
		return fmt.Errorf("mysql export: %w: %s", waitErr, stderr.String())
	case copyErr != nil:
		return fmt.Errorf("converting the export to CSV: %w", copyErr)
	case flushErr != nil:
		return flushErr
	}
	return closeErr
}

// tsvToCSV converts the mysql client's --batch --raw output (header line
// included) to CSV: tabs become commas, a field that is exactly NULL becomes
// empty. It does not quote: the caller vouches that fields hold no separator.
func tsvToCSV(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var line []byte
	for sc.Scan() {
		line = line[:0]
		for i, field := range strings.Split(sc.Text(), "\t") {
			if i > 0 {
				line = append(line, ',')
			}
			if field != "NULL" {
				line = append(line, field...)
			}
		}
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return sc.Err()
}
