// Sync: hashing the run's files and uploading the blobs the sandbox lacks.

package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// sendFiles sends the run's files ahead of the run request, in chunks
// that each fit a frame; the worker adds them to the next run.
func (c *client) sendFiles(files map[string]string) error {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for i := 0; i < len(paths); i += ListChunk {
		chunk := FilesChunk{Files: map[string]string{}}
		for _, p := range paths[i:min(i+ListChunk, len(paths))] {
			chunk.Files[p] = files[p]
		}
		if _, err := c.send(TypeFiles, chunk); err != nil {
			return err
		}
	}
	return nil
}

// sync hashes the plan's files and uploads the blobs the sandbox lacks.
func (c *client) sync(ctx context.Context) (map[string]string, error) {
	start := time.Now()
	paths := make([]string, 0, len(c.o.Plan.Files))
	for p := range c.o.Plan.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	files := map[string]string{}
	sizes := map[string]int64{}
	local := map[string]string{} // hash → a local path holding it
	c.local, c.sizes = local, sizes
	var hashes []string
	for _, p := range paths {
		h, n, err := c.hashFile(c.o.Plan.Files[p])
		if err != nil {
			return nil, fmt.Errorf("reading %s for the sandbox: %w", p, err)
		}
		files[p] = h
		if _, dup := local[h]; !dup {
			local[h] = c.o.Plan.Files[p]
			sizes[h] = n
			hashes = append(hashes, h)
		}
	}
	// In chunks: a workspace of many files would not fit one frame.
	var miss Hashes
	for i := 0; i == 0 || i < len(hashes); i += ListChunk {
		part := hashes[i:min(i+ListChunk, len(hashes))]
		id, err := c.send(TypeHave, Hashes{Hashes: part})
		if err != nil {
			return nil, err
		}
		var m Hashes
		if _, err := c.expect(ctx, id, TypeMissing, c.o.HandshakeTimeout, "asking the sandbox what it has", &m); err != nil {
			return nil, err
		}
		miss.Hashes = append(miss.Hashes, m.Hashes...)
		miss.Corrupted = append(miss.Corrupted, m.Corrupted...)
	}
	if len(miss.Corrupted) > 0 {
		c.warn(fmt.Sprintf("%d blob(s) in the sandbox store did not match their sha256 (changed on the sandbox's disk); the sandbox removed them and they are uploaded again", len(miss.Corrupted)))
	}
	total, err := c.upload(ctx, miss.Hashes)
	if err != nil {
		return nil, err
	}
	var all int64
	for _, h := range hashes {
		all += sizes[h]
	}
	fields := map[string]any{
		"files": len(paths), "blobs_missing": len(miss.Hashes), "bytes_uploaded": total,
		"bytes_skipped": all - total, "duration_ms": time.Since(start).Milliseconds(),
	}
	if len(miss.Corrupted) > 0 {
		fields["blobs_corrupted"] = len(miss.Corrupted)
	}
	// The binary is provisioned by the sandbox kind when it starts (by
	// hash, once per version); the kind says how much that moved.
	if bu, ok := c.proc.(interface{ BinaryBytesUploaded() int64 }); ok {
		fields["binary_bytes_uploaded"] = bu.BinaryBytesUploaded()
	}
	c.emit(EventSyncComplete, "", fields)
	return files, nil
}

// upload sends the blobs hashes (all offered by sync) and returns the
// bytes sent.
func (c *client) upload(ctx context.Context, hashes []string) (int64, error) {
	var total, done int64
	for _, h := range hashes {
		if _, ok := c.local[h]; !ok {
			return 0, &FrameError{Msg: fmt.Sprintf("the worker asked for blob %s, which was not offered", short(h))}
		}
		total += c.sizes[h]
	}
	// A write to a worker that stopped reading blocks: Ctrl-C (or the time
	// limit) closes its stdin, which ends the write; the worker drops the
	// partial blob.
	stop := context.AfterFunc(ctx, func() { c.proc.Stdin().Close() })
	defer stop()
	// Pipelined: up to putWindow blobs are sent before the oldest one's
	// stored is awaited (many small files do not cost a round trip each);
	// the window stays well under the reader's frame buffer.
	type sent struct {
		id   uint64
		path string
	}
	var pending []sent
	await := func() error {
		p := pending[0]
		pending = pending[1:]
		_, err := c.expect(ctx, p.id, TypeStored, 0, "uploading "+filepath.Base(p.path), nil)
		return err
	}
	for _, h := range hashes {
		id, err := c.put(ctx, h, c.local[h], c.sizes[h], func(k int64) {
			done += k
			if c.o.Transfer != nil {
				c.o.Transfer(Transfer{Direction: "upload", Done: done, Total: total})
			}
		})
		if err != nil {
			return 0, err
		}
		pending = append(pending, sent{id, c.local[h]})
		if len(pending) >= putWindow {
			if err := await(); err != nil {
				return 0, err
			}
		}
	}
	for len(pending) > 0 {
		if err := await(); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// putWindow is how many uploaded blobs may await their stored at once.
const putWindow = 16

// warn writes a warning into the run's log (osiris.log), as the worker's
// log lines go.
func (c *client) warn(msg string) {
	if c.o.Log == nil {
		return
	}
	line, _ := json.Marshal(map[string]string{"level": "warn", "message": msg})
	c.o.Log(line)
}

// put sends blob h (the file at path) and returns the put's id; its
// stored is awaited by the caller.
func (c *client) put(ctx context.Context, h, path string, size int64, progress func(int64)) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	id, err := c.send(TypePut, Put{Hash: h, Size: size})
	if err != nil {
		if ctx.Err() != nil {
			return 0, interrupted(ctx, "uploading "+filepath.Base(path))
		}
		return 0, err
	}
	sum := sha256.New()
	buf := make([]byte, ChunkBytes)
	left := size
	for left > 0 {
		if ctx.Err() != nil {
			// A blob half sent leaves the stream mid-put: the caller stops
			// the worker, which drops the partial blob.
			return 0, interrupted(ctx, "uploading "+filepath.Base(path))
		}
		n := int64(len(buf))
		if left < n {
			n = left
		}
		if _, err := io.ReadFull(f, buf[:n]); err != nil {
			return 0, fmt.Errorf("reading %s: %w (did it change during the upload?)", path, err)
		}
		sum.Write(buf[:n])
		if err := c.enc.Encode(&Frame{Type: TypeData, Re: id, Payload: buf[:n]}); err != nil {
			if ctx.Err() != nil {
				return 0, interrupted(ctx, "uploading "+filepath.Base(path))
			}
			return 0, c.deadErr("uploading " + filepath.Base(path))
		}
		left -= n
		progress(n)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h {
		return 0, fmt.Errorf("%s changed while it was being uploaded; run again", path)
	}
	return id, nil
}

// hashFile is the hex SHA-256 and size of a workspace file, through
// ClientOptions.HashFile when set.
func (c *client) hashFile(p string) (string, int64, error) {
	if c.o.HashFile == nil {
		return HashFile(p)
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", 0, err
	}
	h, err := c.o.HashFile(p)
	if err != nil {
		return "", 0, err
	}
	return strings.TrimPrefix(h, "sha256:"), st.Size(), nil
}
