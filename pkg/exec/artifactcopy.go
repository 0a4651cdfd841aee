package exec

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/osiris-go/osiris/internal/filehash"
)

// copyArtifact puts a copy of src at dst, checks its SHA-256 against want
// and returns its Arrow schema. The copy is a reflink where the file system
// has them (FICLONE: no data copied, blocks shared copy-on-write) and bytes
// otherwise, never a hard link: each run directory owns its artifacts, so
// damaging one run's output never changes another's. On any failure dst is
// removed.
func copyArtifact(src, dst, want string) (schema *arrow.Schema, err error) {
	if _, err := os.Stat(src); err != nil {
		return nil, fmt.Errorf("cached artifact %s is missing: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	os.Remove(dst)
	defer func() {
		if err != nil {
			os.Remove(dst)
		}
	}()
	sum, err := cloneFile(src, dst)
	if err != nil {
		return nil, fmt.Errorf("copying cached artifact %s: %w", src, err)
	}
	if sum != want {
		return nil, fmt.Errorf("cached artifact %s has SHA-256 %s, the entry says %s (changed or corrupted)", src, sum, want)
	}
	pf, err := file.OpenParquetFile(dst, false, file.WithReadProps(parquet.NewReaderProperties(nil)))
	if err != nil {
		return nil, fmt.Errorf("cached artifact %s: %w", src, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, nil)
	if err != nil {
		return nil, fmt.Errorf("cached artifact %s: %w", src, err)
	}
	return fr.Schema()
}

// cloneFile writes src's bytes to dst under a temporary name, then renames,
// and returns the SHA-256 ("sha256:<hex>") of what dst holds: a reflink
// when possible (then dst is read back to hash it), else a byte copy hashed
// as it is written (one pass over the data).
func cloneFile(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	var sum string
	if reflink(out, in) == nil {
		sum, err = filehash.File(tmp)
	} else {
		var hex string
		if hex, _, err = filehash.Reader(io.TeeReader(in, out)); err == nil {
			sum = "sha256:" + hex
		}
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return sum, os.Rename(tmp, dst)
}
