package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// connTransport is a lean HTTP/1.1 transport for plain-http targets: each request is written and its answer read
// in the caller's goroutine on a kept-alive connection of its own. net/http's Transport hands every request to two
// goroutines per connection; at saturation those handoffs cost the generator about a third of its CPU, which it
// takes from the target it measures on the same machine.
type connTransport struct {
	idle   chan *clientConn
	dialer net.Dialer
}

type clientConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func newConnTransport(conns int) *connTransport {
	return &connTransport{idle: make(chan *clientConn, conns), dialer: net.Dialer{Timeout: 5 * time.Second}}
}

// errNoAnswer marks a failure before any byte of an answer arrived.
var errNoAnswer = errors.New("connection closed before an answer")

// RoundTrip implements http.RoundTripper. A request that fails on a kept-alive connection before any byte of an
// answer (the server closed it while idle, or went away) is sent once more on a new connection, as net/http does
// for connections closed while idle.
func (t *connTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return nil, fmt.Errorf("load transport: expected an http:// target, got %s://", req.URL.Scheme)
	}
	for fresh := false; ; fresh = true {
		cc, reused, err := t.get(req.Context(), req.URL.Host, fresh)
		if err != nil {
			return nil, err
		}
		resp, err := cc.roundTrip(req)
		if err == nil {
			if resp.Close {
				cc.conn.Close()
			} else {
				t.put(cc)
			}
			return resp, nil
		}
		cc.conn.Close()
		if !reused || !errors.Is(err, errNoAnswer) || req.GetBody == nil {
			return nil, err
		}
		again := *req
		if again.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
		req = &again
	}
}

func (t *connTransport) get(ctx context.Context, host string, fresh bool) (*clientConn, bool, error) {
	if !fresh {
		select {
		case cc := <-t.idle:
			return cc, true, nil
		default:
		}
	}
	conn, err := t.dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, false, err
	}
	return &clientConn{conn: conn, r: bufio.NewReaderSize(conn, 4096), w: bufio.NewWriterSize(conn, 8192)}, false, nil
}

func (t *connTransport) put(cc *clientConn) {
	select {
	case t.idle <- cc:
	default:
		cc.conn.Close()
	}
}

// CloseIdleConnections closes the kept-alive connections.
func (t *connTransport) CloseIdleConnections() {
	for {
		select {
		case cc := <-t.idle:
			cc.conn.Close()
		default:
			return
		}
	}
}

// roundTrip sends req and reads the whole answer, so the connection is free for the next request at once.
func (cc *clientConn) roundTrip(req *http.Request) (*http.Response, error) {
	deadline, _ := req.Context().Deadline() // zero (none) without one
	if err := cc.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if err := req.Write(cc.w); err != nil {
		return nil, noAnswer(err)
	}
	if err := cc.w.Flush(); err != nil {
		return nil, noAnswer(err)
	}
	if _, err := cc.r.Peek(1); err != nil {
		return nil, noAnswer(err)
	}
	resp, err := http.ReadResponse(cc.r, req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// noAnswer marks write errors and a connection closed or reset before the answer's first byte.
func noAnswer(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%w: %v", errNoAnswer, err)
	}
	return err
}
