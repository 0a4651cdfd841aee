package exec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/osiris-go/osiris/pkg/component"
)

func init() {
	component.Register(component.Spec{Name: "test.malformed", Role: component.RoleExtract, Modes: []string{"read"}}, malformedDriver{})
}

// malformedDriver returns one batch whose string column's offsets point past
// its data (changed after the array
// validated them): reading a value panics (slice bounds), in the parquet encoder and
// in the digest alike — the kind of batch a buggy driver produces.
type malformedDriver struct{}

var malformedSchema = arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)

func (malformedDriver) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	offsets := []int32{0, 5, 8, 10}
	data := array.NewData(arrow.BinaryTypes.String, 3,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes([]byte("0123456789"))}, nil, 0, 0)
	defer data.Release()
	col := array.NewStringData(data)
	defer col.Release()
	offsets[2] = 1 << 20 // after the array checked its offsets
	rec := array.NewRecordBatch(malformedSchema, []arrow.Array{col}, 3)
	defer rec.Release()
	return array.NewRecordReader(malformedSchema, []arrow.RecordBatch{rec})
}

// A panic on the tee's own goroutines (parquet encoder, table digest) fails
// the step with a complete run record instead of crashing the process.
func TestTeePanicIsAStepError(t *testing.T) {
	t.Parallel()
	m := testManifest(st("bad", "test.malformed", nil, nil), st("after", "test.gen", nt("bad"), nil))
	rr := runRecorded(t, context.Background(), m, Options{}, nil)
	if rr.runErr == nil || rr.res.Status != StatusFailed || rr.res.FailedStep != "bad" {
		t.Fatalf("run: %v, status %s, failed step %q", rr.runErr, rr.res.Status, rr.res.FailedStep)
	}
	// Whichever stage reads the bad value first reports it: the digest as a
	// recovered panic, pqarrow as the error it makes of its own panics.
	msg := rr.res.Step("bad").Error
	if !strings.Contains(msg, "slice bounds out of range") {
		t.Errorf("step error %q does not say what went wrong", msg)
	}
	st := readStatus(t, rr.rec.Dir())
	if st.Status != StatusFailed || st.FailedStep != "bad" {
		t.Errorf("status.json: %+v", st)
	}
	events := readEvents(t, rr.rec.Dir())
	if last := events[len(events)-1]; last.Event != EventRunError {
		t.Errorf("events.jsonl ends with %s", last.Event)
	}
	runs, err := ReadIndex(rr.state)
	if err != nil || len(runs) != 1 || runs[0].Status != StatusFailed {
		t.Errorf("index: %+v (%v)", runs, err)
	}
	if _, err := os.Stat(filepath.Join(rr.rec.Dir(), "artifacts", "bad", "output.parquet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed step left an artifact (%v)", err)
	}
	log, _ := os.ReadFile(filepath.Join(rr.rec.Dir(), "osiris.log"))
	if strings.Contains(msg, "the table digest panicked") && !strings.Contains(string(log), "stack=") {
		t.Errorf("osiris.log does not record the panic and its stack:\n%s", log)
	}
}

// Each stage names itself when its function panics, and drops later batches.
func TestBatchStagePanic(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"parquet encoder", "table digest"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			s := startBatchStage(name, func(arrow.RecordBatch) error { panic("index out of range") })
			for i := 0; i < 10; i++ {
				rec := genBatch(mem, 0, 10, 0, false, 10)
				err := s.send(rec)
				rec.Release()
				if err != nil {
					break
				}
			}
			err := s.close()
			var sp *stagePanic
			if !errors.As(err, &sp) || err.Error() != "the "+name+" panicked: index out of range" || len(sp.stack) == 0 {
				t.Fatalf("close: %v", err)
			}
			mem.AssertSize(t, 0)
		})
	}
}

func init() {
	component.Register(component.Spec{Name: "test.notnull", Role: component.RoleExtract, Modes: []string{"read"}}, notNullDriver{})
}

// notNullDriver declares its column non-nullable and puts a NULL in it, as
// MariaDB's metadata does for the grouping column of WITH ROLLUP.
type notNullDriver struct{}

func (notNullDriver) Extract(ctx context.Context, req *component.Request) (array.RecordReader, error) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "category", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewStringBuilder(req.Alloc)
	defer b.Release()
	b.AppendValues([]string{"a", "b"}, nil)
	b.AppendNull()
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 3)
	defer rec.Release()
	return array.NewRecordReader(schema, []arrow.RecordBatch{rec})
}

// The tee refuses a NULL in a non-nullable field instead of writing an
// artifact that disagrees with the memory copy.
func TestTeeRefusesNullInNonNullableField(t *testing.T) {
	t.Parallel()
	env, _ := runEnv(t)
	res, err := (&Engine{Options: Options{MemoryBudget: -1}}).Run(context.Background(),
		testManifest(st("x", "test.notnull", nil, nil), st("w", "test.sink", nt("x"), nil)), env)
	if err == nil || res.FailedStep != "x" {
		t.Fatalf("run: %v, failed step %q", err, res.FailedStep)
	}
	want := `output column "category" is declared non-nullable but holds 1 NULLs in the batch at row 1`
	if msg := res.Step("x").Error; !strings.Contains(msg, want) {
		t.Errorf("step error %q, want it to contain %q", msg, want)
	}
}
