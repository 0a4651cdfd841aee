package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/workspace"
)

func TestConnString(t *testing.T) {
	tests := []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{"dsn": "postgres://u@h/db", "host": "ignored"}, "postgres://u@h/db"},
		{map[string]any{"pg_dsn": "host=h dbname=d"}, "host=h dbname=d"},
		{map[string]any{"url": "postgresql://h/d"}, "postgresql://h/d"},
		{map[string]any{"host": "h", "port": int64(6543), "database": "d", "user": "u", "password": `p'w\x`, "sslmode": "require"},
			`host='h' port='6543' dbname='d' user='u' password='p\'w\\x' sslmode='require'`},
	}
	for _, tt := range tests {
		got, err := connString(&workspace.Connection{Family: "postgres", Alias: "a", Values: tt.values})
		if err != nil || got != tt.want {
			t.Errorf("%v: got %q, %v; want %q", tt.values, got, err, tt.want)
		}
	}
	if _, err := connString(&workspace.Connection{Family: "postgres", Alias: "a", Values: map[string]any{}}); err == nil {
		t.Error("empty connection: want error")
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
