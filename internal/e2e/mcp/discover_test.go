package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/internal/e2e"
	"github.com/osiris-go/osiris/internal/testenv"
)

type discovery struct {
	Connection string `json:"connection"`
	Database   string `json:"database"`
	Tables     []struct {
		Schema      string   `json:"schema"`
		Name        string   `json:"name"`
		Kind        string   `json:"kind"`
		RowEstimate int64    `json:"row_estimate"`
		PrimaryKey  []string `json:"primary_key"`
		Columns     []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			Nullable bool   `json:"nullable"`
		} `json:"columns"`
		ForeignKeys []struct {
			Columns    []string `json:"columns"`
			RefTable   string   `json:"ref_table"`
			RefColumns []string `json:"ref_columns"`
		} `json:"foreign_keys"`
		Samples [][]any `json:"samples"`
	} `json:"tables"`
}

// `osiris discover` on MariaDB (a copy of Sakila) and PostgreSQL: tables,
// columns with types, keys, samples masked; bad references exit 2.
func TestDiscoverCLI(t *testing.T) {
	canary, core := newCanary(t)
	my := sakilaCopy(t, canary)
	pgDB := fmt.Sprintf("osiris_t_mcp_%d", os.Getpid())
	pg := testenv.PGConn(t, pgDB)
	t.Cleanup(func() {
		pg.Close(context.Background())
		admin := testenv.PGConn(t, "postgres")
		admin.Exec(context.Background(), `DROP DATABASE IF EXISTS "`+pgDB+`" WITH (FORCE)`)
		admin.Close(context.Background())
	})
	e2e.PGExec(t, pg,
		`DROP TABLE IF EXISTS orders, customers`,
		`CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, api_token text)`,
		`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int REFERENCES customers(id), amount numeric(10,2), placed timestamptz)`,
		`INSERT INTO customers VALUES (1, 'a@example.com', 'tok-1'), (2, 'b@example.com', '`+canary+`')`,
		`INSERT INTO orders VALUES (10, 1, 9.50, '2024-01-02 03:04:05+00')`,
		`ANALYZE customers`, `ANALYZE orders`)
	w := e2e.NewConfiguredWorkspace(t, e2e.Config{MySQLDB: my, PGDB: pgDB, Extra: `
[connections.duckdb.wh]
path = "wh.duckdb"
`}, nil)
	w.Env = append(w.Env, "DISCOVER_CANARY="+canary)
	w.Write(".env", "SECRET_TOKEN="+canary+"\n")

	r := w.Osiris("discover", "@mysql.src")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "rental  table  ~") || !strings.Contains(r.Stdout, "primary key (rental_id)") ||
		!strings.Contains(r.Stdout, "  rental_date                  datetime\n") {
		t.Errorf("discover @mysql.src: exit %d\n%s%s", r.ExitCode, r.Stdout, r.Stderr)
	}

	r = w.Osiris("--json", "discover", "@postgres.dst", "--samples", "5")
	var d discovery
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil || r.ExitCode != 0 {
		t.Fatalf("discover --json @postgres.dst: exit %d %v\n%s%s", r.ExitCode, err, r.Stdout, r.Stderr)
	}
	got := map[string]string{}
	for _, tb := range d.Tables {
		var cols []string
		for _, c := range tb.Columns {
			cols = append(cols, fmt.Sprintf("%s %s %v", c.Name, c.Type, c.Nullable))
		}
		got[tb.Schema+"."+tb.Name] = fmt.Sprintf("%s pk%v fk%v cols%q samples%v", tb.Kind, tb.PrimaryKey, tb.ForeignKeys, cols, tb.Samples)
	}
	want := map[string]string{
		"public.customers": `table pk[id] fk[] cols["id integer false" "email text false" "api_token text true"] samples[[1 a@example.com ***] [2 b@example.com ***]]`,
		"public.orders":    `table pk[id] fk[{[customer_id] customers [id]}] cols["id bigint false" "customer_id integer true" "amount numeric(10,2) true" "placed timestamp with time zone true"] samples[[10 1 9.50 2024-01-02 03:04:05+00]]`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || d.Database != pgDB {
		t.Errorf("discover @postgres.dst (%s):\n got %v\nwant %v", d.Database, got, want)
	}
	if strings.Contains(r.Stdout+r.Stderr, core) {
		t.Error("the canary is in the output")
	}

	for _, c := range []struct{ args, want string }{
		{"discover mysql.src", "not a connection reference"},
		{"discover @mysql.nope", "nope"},
		{"discover @duckdb.wh", "has no discovery"},
		{"discover @mysql.src --samples 1000", "out of range"},
		{"discover", "takes one connection"},
	} {
		r := w.Osiris(strings.Fields(c.args)...)
		if r.ExitCode != 2 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("osiris %s: exit %d, stderr %q; want exit 2 and %q", c.args, r.ExitCode, r.Stderr, c.want)
		}
	}
}
