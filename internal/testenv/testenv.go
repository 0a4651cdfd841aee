// Package testenv gives integration tests the real services they need
// (MariaDB, PostgreSQL) and says exactly what is missing when they are not
// there. Outside CI a missing service skips the test with that message;
// under CI=true it fails it, so CI can never pass by skipping.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// InCI reports whether CI=true.
func InCI() bool { return os.Getenv("CI") == "true" }

// Need skips (or, under CI, fails) the test with what it needs.
func Need(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true and this test needs %s", what)
	}
	t.Skipf("needs %s (set CI=true to make this a failure)", what)
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// MySQL connection settings (OSIRIS_TEST_MYSQL_HOST/PORT/USER/PASSWORD).
func MySQLHost() string     { return env("OSIRIS_TEST_MYSQL_HOST", "127.0.0.1") }
func MySQLPort() string     { return env("OSIRIS_TEST_MYSQL_PORT", "3306") }
func MySQLUser() string     { return env("OSIRIS_TEST_MYSQL_USER", "root") }
func MySQLPassword() string { return os.Getenv("OSIRIS_TEST_MYSQL_PASSWORD") }

// PostgreSQL connection settings (OSIRIS_TEST_PG_HOST/PORT/USER/PASSWORD).
func PGHost() string     { return env("OSIRIS_TEST_PG_HOST", "127.0.0.1") }
func PGPort() string     { return env("OSIRIS_TEST_PG_PORT", "5432") }
func PGUser() string     { return env("OSIRIS_TEST_PG_USER", "postgres") }
func PGPassword() string { return os.Getenv("OSIRIS_TEST_PG_PASSWORD") }

// Reachable reports whether a TCP connection to host:port succeeds.
func Reachable(host, port string) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// MySQLDSN returns a go-sql-driver DSN for database db (created if missing),
// or skips/fails when MariaDB is not reachable.
func MySQLDSN(t testing.TB, db string) string {
	t.Helper()
	if !Reachable(MySQLHost(), MySQLPort()) {
		Need(t, fmt.Sprintf("MariaDB/MySQL on %s:%s (user %s); start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd", MySQLHost(), MySQLPort(), MySQLUser()))
	}
	base := fmt.Sprintf("%s:%s@tcp(%s)/", MySQLUser(), MySQLPassword(), net.JoinHostPort(MySQLHost(), MySQLPort()))
	conn, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if db != "" {
		if _, err := conn.Exec("CREATE DATABASE IF NOT EXISTS `" + db + "` CHARACTER SET utf8mb4"); err != nil {
			t.Fatalf("create database %s: %v", db, err)
		}
	}
	return base + db + "?parseTime=false&multiStatements=true&allowAllFiles=true"
}

// MySQLDB opens database db (created if missing).
func MySQLDB(t testing.TB, db string) *sql.DB {
	t.Helper()
	c, err := sql.Open("mysql", MySQLDSN(t, db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// PGConnString returns a libpq URL for database db (created if missing), or
// skips/fails when PostgreSQL is not reachable.
func PGConnString(t testing.TB, db string) string {
	t.Helper()
	if !Reachable(PGHost(), PGPort()) {
		Need(t, fmt.Sprintf("PostgreSQL on %s:%s (user %s, trust auth); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", PGHost(), PGPort(), PGUser()))
	}
	url := func(d string) string {
		u := "postgres://" + PGUser()
		if p := PGPassword(); p != "" {
			u += ":" + p
		}
		return u + "@" + net.JoinHostPort(PGHost(), PGPort()) + "/" + d + "?sslmode=disable"
	}
	if db != "" && db != "postgres" {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url("postgres"))
		if err != nil {
			t.Fatalf("connect postgres: %v", err)
		}
		defer c.Close(ctx)
		var exists bool
		if err := c.QueryRow(ctx, "SELECT EXISTS(SELECT 1 FROM pg_database WHERE datname=$1)", db).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if !exists {
			if _, err := c.Exec(ctx, `CREATE DATABASE "`+db+`"`); err != nil && !strings.Contains(err.Error(), "already exists") {
				t.Fatalf("create database %s: %v", db, err)
			}
		}
	}
	return url(db)
}

// PGConn connects to database db (created if missing).
func PGConn(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, PGConnString(t, db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// SharedDir is ../shared next to the repository (spec, data, bench).
func SharedDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	for _, c := range []string{os.Getenv("OSIRIS_SHARED_DIR"), filepath.Join(root, "..", "shared")} {
		if c == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(c, "data", "sakila.sql")); err == nil {
			abs, _ := filepath.Abs(c)
			return abs
		}
	}
	Need(t, "the shared/ folder beside the repository (../shared/data/sakila.sql) or OSIRIS_SHARED_DIR")
	return ""
}

var sakilaOnce sync.Mutex

// sakilaLock is the MariaDB named lock that serialises loading Sakila
// across test binaries: `go test ./...` runs packages in parallel, and two
// loaders at once would fail (the dump's CREATE SCHEMA has no IF NOT
// EXISTS) or let one read a half-loaded schema.
const sakilaLock = "osiris_testenv_sakila"

// LoadSakila makes sure schema sakila_dojo exists in MariaDB (loading
// ../shared/data/sakila.sql with the mysql client the first time) and
// returns a DSN for it.
func LoadSakila(t testing.TB) string {
	t.Helper()
	dsn := MySQLDSN(t, "")
	sakilaOnce.Lock()
	defer sakilaOnce.Unlock()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx) // a named lock belongs to one session
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var locked sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 600)", sakilaLock).Scan(&locked); err != nil || locked.Int64 != 1 {
		t.Fatalf("waiting for the Sakila load lock: %v (GET_LOCK returned %v)", err, locked)
	}
	defer conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", sakilaLock)
	// Loaded means rows in rental and the dump's last object, function
	// inventory_in_stock, present: a load killed half-way is not loaded.
	var rentals, lastObject int
	_ = conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema='sakila_dojo' AND routine_name='inventory_in_stock'").Scan(&lastObject)
	if lastObject > 0 {
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM sakila_dojo.rental").Scan(&rentals); err == nil && rentals > 0 {
			return MySQLDSN(t, "sakila_dojo")
		}
	}
	// What a killed load left behind would make the dump's CREATE SCHEMA fail.
	if _, err := conn.ExecContext(ctx, "DROP SCHEMA IF EXISTS sakila_dojo"); err != nil {
		t.Fatalf("dropping a half-loaded sakila_dojo: %v", err)
	}
	client, err := exec.LookPath("mysql")
	if err != nil {
		client, err = exec.LookPath("mariadb")
	}
	if err != nil {
		Need(t, "the mysql command-line client (Debian: mariadb-client) to load sakila.sql")
	}
	f, err := os.Open(filepath.Join(SharedDir(t), "data", "sakila.sql"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args := []string{"-h" + MySQLHost(), "-P" + MySQLPort(), "-u" + MySQLUser()}
	if p := MySQLPassword(); p != "" {
		args = append(args, "-p"+p)
	}
	cmd := exec.Command(client, args...)
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("loading sakila.sql: %v\n%s", err, out)
	}
	return MySQLDSN(t, "sakila_dojo")
}
