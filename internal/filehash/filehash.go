// Package filehash is the project's one SHA-256 file hasher. Every file
// osiris names by content (step cache inputs, cached artifacts, blobs of the
// remote store, the binary sent to a sandbox) is hashed here, so the digest
// is spelled one way everywhere: "sha256:<64 hex digits>".
//
// It is not for hashing data that is not a file (use crypto/sha256), nor
// for deciding whether a file changed without reading it (the step cache's
// file memo does that, and calls File when it must read).
package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// Prefix starts every digest File returns.
const Prefix = "sha256:"

// File returns "sha256:<hex>" of the bytes of the file at path.
func File(path string) (string, error) {
	hex, _, err := FileHex(path)
	if err != nil {
		return "", err
	}
	return Prefix + hex, nil
}

// FileHex returns the bare hex SHA-256 of the file at path and its size.
func FileHex(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return Reader(f)
}

// Reader returns the bare hex SHA-256 of everything r yields and its length.
func Reader(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", n, fmt.Errorf("hashing: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
