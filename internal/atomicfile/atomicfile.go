// Package atomicfile is the project's one way to replace a file so that a
// reader sees the old content or the new, never half of it: the data goes
// to a temporary file in the same directory, which is renamed over the
// target. With Sync the data (and the directory entry) reach the disk
// before Write returns, for records that must survive a crash; without it
// a crash may leave the old file, which suits caches whose loss only costs
// work.
//
// It is not for appending (run indexes, event logs) nor for files written
// as a stream (parquet artifacts write their own temporary file).
package atomicfile

import (
	"os"
	"path/filepath"
)

// Options say how Write replaces a file.
type Options struct {
	// Perm is the new file's mode; 0 means 0o644.
	Perm os.FileMode
	// Sync fsyncs the file before the rename and the directory after it.
	Sync bool
	// MkdirAll creates the parent directories (0o755) first.
	MkdirAll bool
}

// Write replaces path with data.
func Write(path string, data []byte, o Options) error {
	dir := filepath.Dir(path)
	if o.MkdirAll {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	perm := o.Perm
	if perm == 0 {
		perm = 0o644
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if o.Sync {
		if err := tmp.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	if o.Sync {
		// Some file systems cannot sync a directory; the rename is done
		// either way, so its error is not the caller's.
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return nil
}
