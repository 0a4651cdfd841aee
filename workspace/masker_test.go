package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestMasker(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		in     string
		want   string
	}{
		{"nothing known", nil, "password hunter22", "password hunter22"},
		{"value inside an error message", []string{"hunter22"},
			"Error 1045 (28000): Access denied for user 'root'@'localhost' (using password: hunter22)",
			"Error 1045 (28000): Access denied for user 'root'@'localhost' (using password: ***)"},
		{"every occurrence", []string{"hunter22"}, "hunter22/hunter22 hunter22", "***/*** ***"},
		{"short values ignored", []string{"abc", "on"}, "abc on", "abc on"},
		{"longest first", []string{"secret", "secret-long-value"}, "x secret-long-value y secret", "x *** y ***"},
		{"overlapping values leave no fragment", []string{"abcdef", "defghi"}, "..abcdefghi..", "..***.."},
		{"adjacent values", []string{"aaaa", "bbbb"}, "aaaabbbb", "***"},
		{"nested value", []string{"outer-INNER-outer", "INNER"}, "INNER and outer-INNER-outer", "*** and ***"},
		{"dsn adds its password", []string{"postgres://app:pa55word@db:5432/x"},
			"failed to connect to `user=app database=x`: password pa55word rejected; dsn postgres://app:pa55word@db:5432/x",
			"failed to connect to `user=app database=x`: password *** rejected; dsn ***"},
		{"url-encoded password also decoded", []string{"postgres://app:p%40ss%2Fw0rd@db/x"}, "pw p@ss/w0rd", "pw ***"},
		{"repeated pattern", []string{"aaaa"}, "aaaaaa", "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMasker()
			m.Add(tt.values...)
			if got := m.Mask(tt.in); got != tt.want {
				t.Errorf("Mask = %q, want %q", got, tt.want)
			}
			if got := string(m.MaskBytes([]byte(tt.in))); got != tt.want {
				t.Errorf("MaskBytes = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMaskerErrorText(t *testing.T) {
	m := NewMasker()
	m.Add("hunter22")
	err := fmt.Errorf("step %q: %w", "extract", errors.New("dial root:hunter22@tcp(db:3306)/x: refused"))
	if got := m.Mask(err.Error()); strings.Contains(got, "hunter22") {
		t.Fatalf("secret survived: %s", got)
	}
}

func TestMaskerNil(t *testing.T) {
	var m *Masker
	m.Add("whatever")
	if m.Mask("whatever") != "whatever" || m.Len() != 0 {
		t.Fatal("nil masker must pass text through")
	}
}

func TestMaskerWriter(t *testing.T) {
	m := NewMasker()
	m.Add("hunter22")
	var buf bytes.Buffer
	w := m.Writer(&buf)
	line := []byte(`{"msg":"auth failed","pw":"hunter22"}` + "\n")
	n, err := w.Write(line)
	if err != nil || n != len(line) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(line))
	}
	if got := buf.String(); got != `{"msg":"auth failed","pw":"***"}`+"\n" {
		t.Fatalf("got %q", got)
	}
}

func TestMaskValue(t *testing.T) {
	m := NewMasker()
	m.Add("known-secret")
	in := map[string]any{
		"host":     "db",
		"port":     int64(3306),
		"password": "whatever",
		"empty":    "",
		"dsn":      "x",
		"url":      "postgres://u:pw1234@h/db",
		"note":     "contains known-secret here",
		"params":   map[string]any{"sslmode": "require", "api_key": "abcd1234"},
		"list":     []any{"known-secret", "ok"},
		"names":    []string{"a", "known-secret"},
	}
	got := m.MaskValue("", in)
	want := map[string]any{
		"host":     "db",
		"port":     int64(3306),
		"password": "***",
		"empty":    "",
		"dsn":      "***",
		"url":      "***",
		"note":     "contains *** here",
		"params":   map[string]any{"sslmode": "require", "api_key": "***"},
		"list":     []any{"***", "ok"},
		"names":    []string{"a", "***"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MaskValue =\n%#v\nwant\n%#v", got, want)
	}
	if m.MaskValue("primary_key", "id") != "id" {
		t.Error("primary_key must not be masked")
	}
}

func TestMaskerConcurrent(t *testing.T) {
	m := NewMasker()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				v := fmt.Sprintf("secret-%d-%d", i, j)
				m.Add(v)
				if got := m.Mask("x " + v + " y"); got != "x *** y" {
					t.Errorf("Mask = %q", got)
					return
				}
			}
		}(i)
	}
	wg.Wait()
}

func BenchmarkMaskLine(b *testing.B) {
	m := NewMasker()
	for i := 0; i < 20; i++ {
		m.Add(fmt.Sprintf("secret-value-%02d", i))
	}
	line := strings.Repeat(`{"event":"step_progress","rows":12345,"step":"extract_movies"} `, 4)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Mask(line)
	}
}
