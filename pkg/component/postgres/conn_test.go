package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

func TestConnString(t *testing.T) {
	tests := []struct {
		values map[string]any
		want   map[string]string // parsed pgx config fields
	}{
		{map[string]any{"dsn": "postgres://u@h/db", "host": "ignored"}, map[string]string{"host": "h", "user": "u", "db": "db"}},
		{map[string]any{"pg_dsn": "host=h2 dbname=d2 user=u2"}, map[string]string{"host": "h2", "user": "u2", "db": "d2"}},
		{map[string]any{"url": "postgresql://u3@h3/d3"}, map[string]string{"host": "h3", "user": "u3", "db": "d3"}},
		{map[string]any{"host": "h", "port": int64(6543), "database": "d", "user": "u", "password": `p'w\x@/`, "sslmode": "disable"},
			map[string]string{"host": "h", "port": "6543", "user": "u", "db": "d", "password": `p'w\x@/`}},
	}
	for _, tt := range tests {
		cs, err := connString(&workspace.Connection{Family: "postgres", Alias: "a", Values: tt.values})
		if err != nil {
			t.Fatalf("%v: %v", tt.values, err)
		}
		cfg, err := pgx.ParseConfig(cs)
		if err != nil {
			t.Fatalf("%v: %v", tt.values, err)
		}
		got := map[string]string{"host": cfg.Host, "user": cfg.User, "db": cfg.Database}
		if tt.want["port"] != "" {
			got["port"] = fmt.Sprint(cfg.Port)
		}
		if tt.want["password"] != "" {
			got["password"] = cfg.Password
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%v: got %v, want %v", tt.values, got, tt.want)
		}
	}
	rest := &workspace.Connection{Family: "supabase", Alias: "a", Values: map[string]any{"url": "https://x.supabase.co", "key": "eyJsecret"}}
	if _, err := connString(rest); err == nil || strings.Contains(err.Error(), "eyJsecret") {
		t.Errorf("REST-only supabase: %v", err)
	}
	if _, err := connString(nil); err == nil {
		t.Error("nil connection: want error")
	}
}

func TestRedactKeepsErrorIdentity(t *testing.T) {
	r := newRedactor("s3cret-pw", "x")
	err := r.redact(fmt.Errorf("dial failed for password=s3cret-pw: %w", context.Canceled))
	if strings.Contains(err.Error(), "s3cret-pw") || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	plain := errors.New("nothing secret, x marks")
	if r.redact(plain) != plain {
		t.Fatal("short secrets must not be masked")
	}
}

func TestUnparsableDSNDoesNotLeak(t *testing.T) {
	conn := &workspace.Connection{Family: "postgres", Alias: "a", Values: map[string]any{"dsn": "postgres://u:canary-pw@h:notaport/db"}}
	_, _, err := connect(context.Background(), conn)
	if err == nil || strings.Contains(err.Error(), "canary-pw") {
		t.Fatalf("got %v", err)
	}
}

func TestExtractQuery(t *testing.T) {
	tests := []struct {
		cfg  component.Config
		want string
	}{
		{component.Config{"query": " SELECT 1; \n"}, "SELECT 1"},
		{component.Config{"table": "movies"}, `SELECT * FROM "public"."movies"`},
		{component.Config{"table": `we"ird`, "schema": "s", "columns": []any{"a", "B"}, "where": "a > 1", "limit": 10},
			`SELECT "a", "B" FROM "s"."we""ird" WHERE a > 1 LIMIT 10`},
		{component.Config{"table": "t", "limit": 0}, `SELECT * FROM "public"."t" LIMIT 0`},
	}
	for _, tt := range tests {
		got, err := extractQuery(tt.cfg)
		if err != nil || got != tt.want {
			t.Errorf("%v: got %q, %v; want %q", tt.cfg, got, err, tt.want)
		}
	}
	if _, err := extractQuery(component.Config{}); err == nil {
		t.Error("want error without query/table")
	}
}

func TestRegistered(t *testing.T) {
	for _, name := range []string{"supabase.writer", "postgres.writer"} {
		if _, ok := component.Driver(name).(component.Writer); !ok {
			t.Errorf("%s has no writer driver", name)
		}
	}
	for _, name := range []string{"supabase.extractor", "postgres.extractor"} {
		if _, ok := component.Driver(name).(component.Extractor); !ok {
			t.Errorf("%s has no extractor driver", name)
		}
	}
}
