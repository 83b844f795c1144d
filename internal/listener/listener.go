// Package listener bounds what a server's listener lets in: past a number of open connections, a new one is
// answered at once (503 with Retry-After, or whatever the server says) and closed, instead of waiting in a queue
// that grows with the load.
package listener

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Limit caps the open connections of ln at max; a connection beyond it gets refusal (a whole HTTP answer) and is
// closed.
func Limit(ln net.Listener, max int, refusal []byte) net.Listener {
	return &limited{Listener: ln, max: int64(max), refusal: refusal}
}

type limited struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refusal []byte
	// Refused counts the connections turned away, for tests and metrics.
	refused atomic.Int64
}

func (l *limited) Accept() (net.Conn, error) {
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
	l    *limited
	once sync.Once
}

func (c *counted) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// Refused is how many connections a Limit listener turned away (0 for any other listener).
func Refused(ln net.Listener) int64 {
	if l, ok := ln.(*limited); ok {
		return l.refused.Load()
	}
	return 0
}
