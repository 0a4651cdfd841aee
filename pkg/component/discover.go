package component

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/osiris-go/osiris/pkg/diag"
	"github.com/osiris-go/osiris/workspace"
)

// Discoverer lists what a connection of one family holds: tables, their
// columns with types, keys, row estimates and up to opts.Samples rows each
// (`osiris discover`, the MCP tool discovery_request). Families register
// one next to their drivers, as they register a Pinger; it only reads.
type Discoverer func(ctx context.Context, conn *workspace.Connection, files *workspace.Files, opts DiscoverOptions) (*Discovery, error)

// DiscoverOptions bound what a discovery reads.
type DiscoverOptions struct {
	// Samples is the number of rows read from each table (0: none).
	Samples int
}

// MaxDiscoverSamples bounds DiscoverOptions.Samples.
const MaxDiscoverSamples = 100

// Discovery is what a connection holds. Its JSON is the output of
// `osiris discover --json` and of discovery_request.
type Discovery struct {
	Connection string            `json:"connection"` // "@family.alias"
	Family     string            `json:"family"`
	Database   string            `json:"database"`
	Tables     []DiscoveredTable `json:"tables"`
}

// DiscoveredTable is one table or view.
type DiscoveredTable struct {
	Schema      string             `json:"schema,omitempty"`
	Name        string             `json:"name"`
	Kind        string             `json:"kind"` // table | view
	RowEstimate int64              `json:"row_estimate"`
	Columns     []DiscoveredColumn `json:"columns"`
	PrimaryKey  []string           `json:"primary_key,omitempty"`
	ForeignKeys []ForeignKey       `json:"foreign_keys,omitempty"`
	// Samples are rows in column order, values as text (nil for NULL),
	// masked by Discovery.Mask.
	Samples [][]any `json:"samples,omitempty"`
}

// DiscoveredColumn is one column with the database's own type name.
type DiscoveredColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// ForeignKey is one foreign key of a table.
type ForeignKey struct {
	Columns    []string `json:"columns"`
	RefTable   string   `json:"ref_table"`
	RefColumns []string `json:"ref_columns"`
}

var discoverers = map[string]Discoverer{}

// RegisterDiscoverer registers the discovery of a connection family.
func RegisterDiscoverer(family string, d Discoverer) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := discoverers[family]; dup {
		panic("component: RegisterDiscoverer called twice for " + family)
	}
	discoverers[family] = d
}

// DiscovererFor returns the discovery of family, or nil.
func DiscovererFor(family string) Discoverer {
	mu.RLock()
	defer mu.RUnlock()
	return discoverers[family]
}

// DiscovererFamilies lists the families that have a discovery, sorted.
func DiscovererFamilies() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(discoverers))
	for f := range discoverers {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Mask masks the sample values: a column whose name is a secret name
// (password, token, …) shows "***", any known secret value is masked.
func (d *Discovery) Mask(m *workspace.Masker) {
	for ti := range d.Tables {
		t := &d.Tables[ti]
		for _, row := range t.Samples {
			for ci, v := range row {
				key := ""
				if ci < len(t.Columns) {
					key = t.Columns[ci].Name
				}
				row[ci] = m.MaskValue(key, v)
			}
		}
	}
}

// SampleText turns a driver value into what a sample shows: text for
// bytes that are UTF-8, "<N bytes>" for binary, the value itself else.
func SampleText(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return "<" + strconv.Itoa(len(x)) + " bytes>"
	case string, bool, int64, int32, int16, int8, int, uint64, uint32, float64, float32:
		return x
	}
	return v
}

// Discover resolves ref ("@family.alias") in ws, runs its family's
// discovery and masks the samples: the one path of `osiris discover` and
// discovery_request. Bad references and sample counts are usage errors.
func Discover(ctx context.Context, ws *workspace.Workspace, ref string, opts DiscoverOptions) (*Discovery, error) {
	fam, alias, ok := strings.Cut(strings.TrimPrefix(ref, "@"), ".")
	if !strings.HasPrefix(ref, "@") || !ok || fam == "" || alias == "" {
		return nil, diag.Usage("%q is not a connection reference; write @family.alias (osiris connections list shows them)", ref)
	}
	if opts.Samples < 0 || opts.Samples > MaxDiscoverSamples {
		return nil, diag.Usage("samples %d is out of range; give 0 to %d rows per table", opts.Samples, MaxDiscoverSamples)
	}
	d := DiscovererFor(fam)
	if d == nil {
		return nil, diag.Usage("connection family %q has no discovery; families with one: %s", fam, strings.Join(DiscovererFamilies(), ", "))
	}
	conn, err := ws.ResolveConnection(ref, fam)
	if err != nil {
		return nil, &diag.UsageError{Err: err}
	}
	out, err := d(ctx, conn, ws.Files, opts)
	if err != nil {
		return nil, err
	}
	out.Mask(ws.Masker)
	return out, nil
}
