//go:build !linux

package exec

import (
	"errors"
	"os"
)

// reflink is not tried here; the caller copies the bytes.
func reflink(dst, src *os.File) error { return errors.ErrUnsupported }
