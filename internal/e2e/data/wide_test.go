package data

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/osiris-go/osiris/internal/e2e"
	osexec "github.com/osiris-go/osiris/pkg/exec"
)

// wideRSSLimitMiB bounds the peak RSS of extracting 3 GB of 1 MB TEXT
// values with memory_budget = "64MiB": the budget, the Go runtime's headroom
// (the CLI sets GOMEMLIMIT to budget + 128 MiB) and the binary itself. With
// batches bounded by rows only, one batch held all 3,000 rows (3 GB, past
// Arrow's 32-bit string offsets) and the row group buffered them again.
const wideRSSLimitMiB = 400

// 3,000 rows of 1 MB text through the real binary with a 64 MiB budget:
// batches and row groups are bounded by bytes, the peak RSS stays bounded,
// and the artifact holds exactly the rows of the query.
func TestWideTextBoundedByBytes(t *testing.T) {
	const rows, width = 3000, 1 << 20
	w := newWorkspace(t, wsConfig{MySQLDB: dbE2E, Budget: "64MiB"}, map[string]string{
		"pipelines/wide.yaml": `oml_version: "0.1.0"
name: wide
steps:
  - id: wide
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.src"
      query: SELECT seq AS id, REPEAT(CHAR(65 + seq % 26 USING utf8mb4), 1048576) AS body FROM seq_1_to_3000
`,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := w.Command(ctx, "--json", "run", "pipelines/wide.yaml")
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("osiris run: %v\nstdout:\n%s", err, out)
	}
	t.Logf("run took %s", time.Since(start))
	start = time.Now()
	w.CheckArtifacts()
	t.Logf("artifact check took %s", time.Since(start))
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss / 1024 // KiB → MiB
	t.Logf("peak RSS %d MiB", rss)
	if rss > wideRSSLimitMiB {
		t.Errorf("peak RSS %d MiB, want ≤ %d MiB with a 64 MiB budget", rss, wideRSSLimitMiB)
	}
	dir := w.RunDirOf(e2e.Result{Stdout: string(out)})
	s := e2e.ReadStatus(t, dir).Step(t, "wide")
	if s.RowsOut != rows {
		t.Fatalf("rows %d, want %d", s.RowsOut, rows)
	}

	// The artifact has the recorded digest (CheckArtifacts above); the
	// recorded digest is the one of the rows the query returns, built here.
	path := filepath.Join(dir, filepath.FromSlash(s.Artifact.Path))
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if n := pf.NumRowGroups(); n < 2 {
		t.Errorf("the artifact has %d row group(s): row groups are not bounded by bytes", n)
	}
	idType := arrow.DataType(arrow.PrimitiveTypes.Int64)
	if s.Artifact.Schema[0].Type == "uint64" {
		idType = arrow.PrimitiveTypes.Uint64
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: idType, Nullable: true}, {Name: "body", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	d := osexec.NewDigestBuilder(schema)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	bodies := map[byte]string{}
	for id := int64(1); id <= rows; id++ {
		if idType == arrow.PrimitiveTypes.Uint64 {
			b.Field(0).(*array.Uint64Builder).Append(uint64(id))
		} else {
			b.Field(0).(*array.Int64Builder).Append(id)
		}
		c := byte('A' + id%26)
		if bodies[c] == "" {
			bodies[c] = strings.Repeat(string(c), width)
		}
		b.Field(1).(*array.StringBuilder).Append(bodies[c])
		if id%16 == 0 || id == rows {
			rec := b.NewRecordBatch()
			if err := d.Add(rec); err != nil {
				t.Fatal(err)
			}
			rec.Release()
		}
	}
	if got, want := s.Artifact.TableDigest, d.Sum(); got != want {
		t.Errorf("recorded table digest %s, want %s (the rows of the query)", got, want)
	}
}
