package workspace

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// secretNames is THE list of field and variable names whose values are
// secret. A name matches when it equals an entry or ends with "_"+entry
// (after lower-casing and turning camelCase and '-' into '_'). Keep it the
// only such list in osiris.
var secretNames = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "passphrase": true,
	"secret": true, "token": true, "api_key": true, "apikey": true, "key": true,
	"service_role_key": true, "anon_key": true, "secret_key": true, "private_key": true,
	"dsn": true, "pg_dsn": true, "connection_string": true, "conn_string": true, "conn_str": true,
	"client_secret": true, "access_token": true, "refresh_token": true, "session_token": true,
	"auth_token": true, "id_token": true, "bearer": true,
}

// notSecretNames end in a secret word but name structure, not credentials
// (pipelines write primary_key: [id]).
var notSecretNames = map[string]bool{
	"primary_key": true, "foreign_key": true, "sort_key": true, "partition_key": true,
	"distribution_key": true, "cluster_key": true, "unique_key": true, "cache_key": true,
	"merge_key": true, "join_key": true, "upsert_key": true, "delete_key": true,
}

// IsSecretKey reports whether a field or variable named name holds a secret:
// the whole name or a "_"-separated suffix of it is in the secret list
// (db_password, SUPABASE_SERVICE_ROLE_KEY, GITHUB_TOKEN), case-insensitively;
// primary_key and similar structural keys are excepted. A name such as
// "keyword" or "url" is not secret by name; a URL is secret only when its
// value carries a credential (HasCredential).
func IsSecretKey(name string) bool {
	n := normalizeKeyName(name)
	if n == "" {
		return false
	}
	parts := strings.Split(n, "_")
	for i := range parts {
		suffix := strings.Join(parts[i:], "_")
		if notSecretNames[suffix] {
			return false
		}
		if secretNames[suffix] {
			return true
		}
	}
	return false
}

// normalizeKeyName lower-cases name and turns camelCase humps and '-' into
// '_' so that apiKey, api-key and API_KEY compare equal.
func normalizeKeyName(name string) string {
	var b strings.Builder
	runes := []rune(strings.TrimSpace(name))
	for i, r := range runes {
		switch {
		case r == '-' || r == '.' || r == ' ':
			b.WriteByte('_')
		case unicode.IsUpper(r):
			if i > 0 && (unicode.IsLower(runes[i-1]) || unicode.IsDigit(runes[i-1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return strings.Trim(b.String(), "_")
}

var (
	// scheme://user:pass@host — the password part must be non-empty and has
	// no '/', which keeps http://host:8080/x@y from matching.
	urlCredential = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://([^/\s:@]*):([^@\s/]+)@`)
	// go-sql-driver: user:pass@tcp(host:3306)/db, user:pass@/db, user:pass@unix(...)/db
	goDSNCredential = regexp.MustCompile(`(?:^|[\s"'=(])([^\s:@/"'=(]+):([^\s@]+)@(?:tcp6?|unix)?[(/]`)
	// key=value DSNs and query strings: password=..., pwd=..., ?password=...
	kvCredential = regexp.MustCompile(`(?i)(?:^|[\s;?&])(?:password|passwd|pwd)=('[^']+'|"[^"]+"|[^\s;&'"]+)`)
)

// HasCredential reports whether v contains a credential: a URL or DSN with
// a password part (scheme://user:pass@host, user:pass@tcp(...)/db) or a
// key=value DSN with password=... .
func HasCredential(v string) bool {
	return len(credentialParts(v)) > 0
}

// credentialParts returns the password parts found in v, raw and, for URLs,
// percent-decoded, so the Masker can hide them when a driver echoes only
// the password.
func credentialParts(v string) []string {
	if !strings.ContainsAny(v, "@=") {
		return nil
	}
	var out []string
	for _, m := range urlCredential.FindAllStringSubmatch(v, -1) {
		out = append(out, m[2])
		if dec, err := url.PathUnescape(m[2]); err == nil && dec != m[2] {
			out = append(out, dec)
		}
	}
	if len(out) == 0 {
		for _, m := range goDSNCredential.FindAllStringSubmatch(v, -1) {
			out = append(out, m[2])
		}
	}
	for _, m := range kvCredential.FindAllStringSubmatch(v, -1) {
		p := m[1]
		if len(p) >= 2 && (p[0] == '\'' || p[0] == '"') {
			p = p[1 : len(p)-1]
		}
		out = append(out, p)
	}
	return out
}
