// Fetch: the run's artifacts and written files back, verified by hash.

package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/osiris-go/osiris/pkg/exec"
)

// fetch gets the run's artifacts into the local run directory and the
// written workspace files into the workspace, verified by hash.
func (c *client) fetch(ctx context.Context, d *Done, res *exec.Result) error {
	start := time.Now()
	want := map[string]string{} // artifact path in the run dir → "sha256:…"
	for _, s := range res.Steps {
		if s.Artifact != nil {
			want["run/"+s.Artifact.Path] = s.Artifact.SHA256
		}
	}
	paths := make([]string, 0, len(d.Artifacts))
	var total int64
	for p := range d.Artifacts {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	type job struct{ tree, local, hash string }
	var jobs []job
	for _, p := range paths {
		h := d.Artifacts[p]
		if err := CheckTreePath(p); err != nil || !ValidHash(h) {
			return &FrameError{Msg: fmt.Sprintf("the worker reported an invalid artifact %q", p)}
		}
		var local string
		switch {
		case strings.HasPrefix(p, "run/artifacts/"):
			local = filepath.Join(c.o.RunDir, filepath.FromSlash(strings.TrimPrefix(p, "run/")))
		case c.o.Plan.Outputs[p] != "":
			local = c.o.Plan.Outputs[p]
			if lh, _, err := HashFile(local); err == nil && lh == h {
				continue // unchanged
			}
		default:
			// Never write a path the plan did not expect (a worker is not
			// trusted with the client's disk).
			return &FrameError{Msg: fmt.Sprintf("the worker reported an output %q the run does not write", p)}
		}
		if w, ok := want[p]; ok && w != "sha256:"+h {
			return fmt.Errorf("artifact %s: the worker's hash %s differs from the engine's %s", p, short(h), w)
		}
		jobs = append(jobs, job{p, local, h})
		total += d.Sizes[p]
	}
	var done, bytes int64
	for _, j := range jobs {
		n, err := c.get(ctx, j.hash, j.local, j.tree, func(k int64) {
			done += k
			if c.o.Transfer != nil {
				c.o.Transfer(Transfer{Direction: "download", Done: done, Total: total})
			}
		})
		if err != nil {
			return err
		}
		bytes += n
	}
	for p, sum := range want {
		if _, ok := d.Artifacts[p]; !ok {
			return fmt.Errorf("artifact %s (%s) did not come back from the sandbox", p, sum)
		}
	}
	c.emit(EventArtifactsFetched, "", map[string]any{"blobs": len(jobs), "bytes": bytes, "duration_ms": time.Since(start).Milliseconds()})
	return nil
}

// get downloads blob h to local (temp file, verify, rename).
func (c *client) get(ctx context.Context, h, local, tree string, progress func(int64)) (int64, error) {
	what := "downloading " + tree
	id, err := c.send(TypeGet, Get{Hash: h})
	if err != nil {
		return 0, err
	}
	var b Blob
	if _, err := c.expect(ctx, id, TypeBlob, 30*time.Second, what, &b); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), "."+filepath.Base(local)+".*.part")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	sum := sha256.New()
	left := b.Size
	for left > 0 {
		f, err := c.next(ctx, 30*time.Second, what)
		if err != nil {
			tmp.Close()
			return 0, err
		}
		if f.Type != TypeData || f.Re != id || int64(len(f.Payload)) > left {
			tmp.Close()
			return 0, &FrameError{Msg: fmt.Sprintf("%s: unexpected %s frame in a blob", what, f.Type)}
		}
		sum.Write(f.Payload)
		if _, err := tmp.Write(f.Payload); err != nil {
			tmp.Close()
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		left -= int64(len(f.Payload))
		progress(int64(len(f.Payload)))
	}
	// The mode a local run gives the files it writes (CreateTemp's is 0600).
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h {
		return 0, &HashMismatchError{Want: h, Got: got, What: "download of " + tree}
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return 0, err
	}
	return b.Size, nil
}
