// Package syncbuf makes writes safe for several goroutines: a bytes.Buffer that one goroutine may read while others
// write to it (a process's output copied by exec, a server's log read by the test that started it), and a Writer
// that serializes writes to any io.Writer.
package syncbuf

import (
	"bytes"
	"io"
	"sync"
)

// Buffer is safe for concurrent Write and String. The zero value is an empty buffer.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Writer passes each Write whole to W, one at a time: a writer shared by goroutines that was not made for it.
type Writer struct {
	mu sync.Mutex
	W  io.Writer
}

func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.W.Write(p)
}
