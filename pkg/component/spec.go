package component

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// FieldType is the type of a config value as written in a pipeline.
type FieldType string

const (
	TypeString     FieldType = "string"
	TypeInteger    FieldType = "integer"
	TypeNumber     FieldType = "number"
	TypeBoolean    FieldType = "boolean"
	TypeStringList FieldType = "string_list" // a list of strings; a single string is accepted as a one-element list
	TypeMap        FieldType = "map"         // free-form mapping
	TypeConnection FieldType = "connection"  // "@family.alias"
	TypeDuration   FieldType = "duration"    // Go duration text such as "10m"
	TypeAny        FieldType = "any"
)

// Role says which driver interface a component implements.
type Role string

const (
	RoleExtract   Role = "extract"
	RoleTransform Role = "transform"
	RoleWrite     Role = "write"
)

// Field is one key of a component's config schema.
type Field struct {
	Name     string    `json:"name"`
	Type     FieldType `json:"type"`
	Required bool      `json:"required,omitempty"`
	Default  any       `json:"default,omitempty"`
	Enum     []string  `json:"enum,omitempty"`
	Min      *float64  `json:"min,omitempty"`
	Max      *float64  `json:"max,omitempty"`
	// Secret marks a key whose value must never be a literal in a pipeline.
	Secret bool   `json:"secret,omitempty"`
	Doc    string `json:"doc,omitempty"`
	// Check, when set, is called by the validator with the value (already of
	// Type, within Enum and bounds) for what a type cannot say: one
	// character, a known type name. Its error text is shown after the key.
	Check func(v any) error `json:"-"`
}

// Spec describes a component: everything the validator, the compiler and
// `osiris components show` need, and nothing about how it runs.
type Spec struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Role        Role   `json:"role"`
	// Modes are the pipeline `mode:` values the component accepts.
	Modes []string `json:"modes"`
	// Families are the connection families a `connection:` reference may name;
	// empty means the component takes no connection. The first is the default
	// family used when a step omits `connection`.
	Families []string `json:"families,omitempty"`
	// ConnectionRequired: a step must resolve a connection (explicit or the
	// family's default).
	ConnectionRequired bool    `json:"connection_required,omitempty"`
	Fields             []Field `json:"fields"`
	// ExactlyOneOf lists groups of keys of which exactly one must be set
	// (e.g. query xor table).
	ExactlyOneOf [][]string `json:"exactly_one_of,omitempty"`
	// PrimaryKeyFor lists write_mode values that need `primary_key`.
	PrimaryKeyFor []string `json:"primary_key_for,omitempty"`
	// ReadsPaths are config keys that name workspace files the step reads
	// (globs allowed); used by remote sync, watch and the step cache.
	ReadsPaths []string `json:"reads_paths,omitempty"`
	// WritesPaths are config keys that name workspace files the step writes.
	WritesPaths []string `json:"writes_paths,omitempty"`
	// Cacheable: the step's output may be reused by the step cache when its
	// key matches (transforms and file extractors).
	Cacheable bool `json:"cacheable"`
	// MaxIdentifierBytes is the longest database name (table, schema,
	// column) the target keeps intact; 0 means no limit is checked. The
	// validator checks the keys in IdentifierFields against it.
	MaxIdentifierBytes int      `json:"max_identifier_bytes,omitempty"`
	IdentifierFields   []string `json:"identifier_fields,omitempty"`
	// IdentifierDialect names the database in messages ("PostgreSQL").
	IdentifierDialect string `json:"identifier_dialect,omitempty"`
	// AliasOf names the component this one is an alias of (postgres.writer →
	// supabase.writer), for display.
	AliasOf string `json:"alias_of,omitempty"`
	// CheckConfig, when set, is called by the validator with the effective
	// config (defaults filled) for rules that span keys, such as "the
	// delimiter and the quote character differ". It returns the key to
	// report at and the problem, or "" and nil.
	CheckConfig func(cfg map[string]any) (key string, err error) `json:"-"`
	// CheckFile, when set, says what is wrong with an existing file the
	// step names under a ReadsPaths or WritesPaths key (or its connection's
	// field of that name), such as a DuckDB database path that holds a CSV.
	// The validator calls it, and so does the driver when it opens the file.
	CheckFile func(abs string) error `json:"-"`
	// IO, when set, adds to what StepPaths derives from ReadsPaths and
	// WritesPaths (the files a DuckDB query reads, non-deterministic SQL).
	IO IOFunc `json:"-"`
}

// Field returns the schema entry for key.
func (s *Spec) Field(key string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == key {
			return f, true
		}
	}
	return Field{}, false
}

// HasMode reports whether mode is one of the spec's modes.
func (s *Spec) HasMode(mode string) bool {
	for _, m := range s.Modes {
		if m == mode {
			return true
		}
	}
	return false
}

// AcceptsFamily reports whether a connection of family f may be used.
func (s *Spec) AcceptsFamily(f string) bool {
	for _, x := range s.Families {
		if x == f {
			return true
		}
	}
	return false
}

// Ptr is a helper for optional numeric bounds in spec literals.
func Ptr(f float64) *float64 { return &f }

type entry struct {
	spec   Spec
	driver any
}

var (
	mu       sync.RWMutex
	registry = map[string]entry{}
)

// Register makes a component available by name. driver must implement
// Extractor, Transformer or Writer according to spec.Role. Like sql.Register,
// it panics on a programming error (duplicate name, driver of the wrong role),
// never on user input.
func Register(spec Spec, driver any) {
	mu.Lock()
	defer mu.Unlock()
	if spec.Name == "" {
		panic("component: Register with empty name")
	}
	if _, dup := registry[spec.Name]; dup {
		panic("component: Register called twice for " + spec.Name)
	}
	if driver != nil {
		ok := false
		switch spec.Role {
		case RoleExtract:
			_, ok = driver.(Extractor)
		case RoleTransform:
			_, ok = driver.(Transformer)
		case RoleWrite:
			_, ok = driver.(Writer)
		}
		if !ok {
			panic(fmt.Sprintf("component: driver for %s does not implement role %s", spec.Name, spec.Role))
		}
	}
	registry[spec.Name] = entry{spec: spec, driver: driver}
}

// Lookup returns the spec of a registered component.
func Lookup(name string) (Spec, bool) {
	mu.RLock()
	defer mu.RUnlock()
	e, ok := registry[name]
	return e.spec, ok
}

// Driver returns the driver registered for name (nil if none).
func Driver(name string) any {
	mu.RLock()
	defer mu.RUnlock()
	return registry[name].driver
}

// Names returns every registered component name, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Specs returns every registered spec, sorted by name.
func Specs() []Spec {
	names := Names()
	out := make([]Spec, 0, len(names))
	for _, n := range names {
		s, _ := Lookup(n)
		out = append(out, s)
	}
	return out
}

// Family returns the part of a component name before the first dot.
func Family(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return name
}
