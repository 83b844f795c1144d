package main

import (
	"bytes"
	"sync"
)

var syncMu sync.Mutex

// syncBuffer lets the test read what run writes from another goroutine.
type syncBuffer struct{ b *bytes.Buffer }

func (s *syncBuffer) Write(p []byte) (int, error) {
	syncMu.Lock()
	defer syncMu.Unlock()
	return s.b.Write(p)
}

func syncString(b *bytes.Buffer) string {
	syncMu.Lock()
	defer syncMu.Unlock()
	return b.String()
}
