// Package listener bounds what a server's listener lets in: past a number of open connections, a new one is
// answered at once (503 with Retry-After, or whatever the server says) and closed, instead of waiting in a queue
// that grows with the load.
package listener

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Limit caps the open connections of ln at max; a connection beyond it gets refusal (a whole HTTP answer) and is
// closed.
func Limit(ln net.Listener, max int, refusal []byte) *Limited {
	return &Limited{Listener: ln, max: int64(max), refusal: refusal}
}

// Limited is a listener with a cap on open connections.
type Limited struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refusal []byte
	refused atomic.Int64
}

func (l *Limited) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.refused.Add(1)
			go refuse(c, l.refusal)
			continue
		}
		return &counted{Conn: c, l: l}, nil
	}
}

// refuse answers and closes without reading the request: the answer is fixed and short, so a slow or silent
// client costs a second at most.
func refuse(c net.Conn, answer []byte) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(answer)
	_ = c.Close()
}

// counted gives its place back once, when it is closed.
type counted struct {
	net.Conn
	l         *Limited
	once      sync.Once
	linger    atomic.Bool
	lingering atomic.Bool
}

// LingerFor is how long Close waits, after an answer that left part of a request's body unread, for the client
// to read that answer before the connection is closed (net/http waits 500 ms: its rstAvoidanceDelay).
const LingerFor = 500 * time.Millisecond

// lingerBytes bounds what Close reads and drops while it waits: a client that keeps sending gets its reset.
const lingerBytes = 4 << 20

// Linger makes the connection's Close half-close it, then read and drop what the client still sends for up to
// LingerFor before closing it, in a goroutine of its own (Close returns at once). A server calls it when it answers
// while a body is still arriving: closed at once, a connection with unread bytes is reset, and a client still
// writing that body gets the reset instead of the answer.
func (c *counted) Linger() { c.linger.Store(true) }

func (c *counted) Close() error {
	if c.lingering.Load() {
		return nil // the lingering close closes it
	}
	if c.linger.Load() {
		raw := c.Conn
		if r, ok := raw.(interface{ Raw() net.Conn }); ok {
			raw = r.Raw()
		}
		if cw, ok := raw.(interface{ CloseWrite() error }); ok && c.lingering.CompareAndSwap(false, true) &&
			cw.CloseWrite() == nil {
			go func() {
				_ = raw.SetReadDeadline(time.Now().Add(LingerFor))
				_, _ = io.CopyN(io.Discard, raw, lingerBytes)
				_ = c.close()
			}()
			return nil
		}
	}
	return c.close()
}

func (c *counted) close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// Refused is how many connections the listener turned away.
func (l *Limited) Refused() int64 { return l.refused.Load() }

// Crowded says whether nine in ten places are taken: a server then closes connections after answering, so that
// connections kept alive do not hold every place while others wait.
func (l *Limited) Crowded() bool { return l.open.Load()*10 >= l.max*9 }
