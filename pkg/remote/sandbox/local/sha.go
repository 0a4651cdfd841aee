package local

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

type shaWriter struct{ hash.Hash }

func newSHA() *shaWriter         { return &shaWriter{sha256.New()} }
func (s *shaWriter) hex() string { return hex.EncodeToString(s.Sum(nil)) }
