package workspace

import (
	"reflect"
	"testing"
)

func TestIsSecretKey(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"password", true},
		{"PASSWORD", true},
		{"db_password", true},
		{"MYSQL_PASSWORD", true},
		{"passwd", true},
		{"pwd", true},
		{"secret", true},
		{"client_secret", true},
		{"token", true},
		{"GITHUB_TOKEN", true},
		{"access_token", true},
		{"refresh_token", true},
		{"api_key", true},
		{"apiKey", true},
		{"api-key", true},
		{"key", true},
		{"service_role_key", true},
		{"SUPABASE_SERVICE_ROLE_KEY", true},
		{"anon_key", true},
		{"dsn", true},
		{"pg_dsn", true},
		{"MYSQL_DSN", true},
		{"connection_string", true},
		{"private_key", true},
		{"aws_secret_access_key", true},
		// not secret
		{"primary_key", false},
		{"PRIMARY_KEY", false},
		{"table_primary_key", false},
		{"keyword", false},
		{"keys", false},
		{"key_columns", false},
		{"url", false},
		{"SUPABASE_DB_URL", false},
		{"host", false},
		{"user", false},
		{"password_hint_shown", false},
		{"tokenizer", false},
		{"pass_env", false},
		{"passport", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsSecretKey(tt.name); got != tt.want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHasCredential(t *testing.T) {
	tests := []struct {
		v     string
		want  bool
		parts []string
	}{
		// SQL comparing a password column is not a credential (only DSN-style key=value is).
		{"SELECT id FROM users WHERE password = 'x' AND pwd <> ''", false, nil},
		{"postgres://user:s3cret@db.example.com:5432/app", true, []string{"s3cret"}},
		{"postgresql://postgres.abcd:p%40ss%2Fw0rd@aws-0-eu.pooler.supabase.com:5432/postgres", true, []string{"p%40ss%2Fw0rd", "p@ss/w0rd"}},
		{"mysql://root:hunter22@127.0.0.1/movies", true, []string{"hunter22"}},
		{"https://:tok3n@github.com/x.git", true, []string{"tok3n"}},
		{"root:hunter22@tcp(127.0.0.1:3306)/movies?parseTime=true", true, []string{"hunter22"}},
		{"app:pw_9@/movies", true, []string{"pw_9"}},
		{"app:pw_9@unix(/tmp/mysql.sock)/movies", true, []string{"pw_9"}},
		{"host=db user=app password=s3cret dbname=x", true, []string{"s3cret"}},
		{"Server=db;Uid=app;Pwd='se cret';", true, []string{"se cret"}},
		{"https://db/x?user=a&password=q1w2e3", true, []string{"q1w2e3"}},
		// no credential
		{"postgres://user@db.example.com/app", false, nil},
		{"https://x.supabase.co", false, nil},
		{"http://host:8080/path@v2", false, nil},
		{"root@tcp(127.0.0.1:3306)/movies", false, nil},
		{"user@example.com", false, nil},
		{"password=", false, nil},
		{"a = b", false, nil},
		{"select * from t where a = 1", false, nil},
		{"", false, nil},
	}
	for _, tt := range tests {
		if got := HasCredential(tt.v); got != tt.want {
			t.Errorf("HasCredential(%q) = %v, want %v", tt.v, got, tt.want)
		}
		if got := credentialParts(tt.v); !reflect.DeepEqual(got, tt.parts) {
			t.Errorf("credentialParts(%q) = %q, want %q", tt.v, got, tt.parts)
		}
	}
}
