package listener

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
)

// Guard refuses requests that announce their body both ways, Content-Length and Transfer-Encoding: Go's server
// reads such a request as chunked and keeps the connection open, so bytes a proxy counted as the body are read as
// a second request (request smuggling). RFC 9112 §6.1 asks servers to treat it as an error: the guard answers
// refusal (a whole HTTP answer) and closes the connection. It follows each connection's requests by their framing;
// the server only ever sees whole header blocks it has looked at.
func Guard(ln net.Listener, refusal []byte) net.Listener {
	return &guarded{Listener: ln, refusal: refusal}
}

type guarded struct {
	net.Listener
	refusal []byte
}

func (g *guarded) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framedConn{Conn: c, refusal: g.refusal}, nil
}

// maxHeaderBlock bounds what the guard holds while a header block arrives; past it the guard stops looking and
// lets the server refuse the oversize headers itself.
const maxHeaderBlock = 1 << 20

// framedConn follows one connection's requests: header blocks are held until whole and checked, bodies are
// counted through (by their length, or chunk by chunk).
type framedConn struct {
	net.Conn
	refusal []byte
	head    []byte // a header block being received
	ready   []byte // checked bytes the server has not read yet
	body    int64  // bytes of a counted body still to pass
	chunks  *chunkReader
	blind   bool // past maxHeaderBlock: pass everything through
	refused bool
	buf     []byte
}

func (c *framedConn) Read(p []byte) (int, error) {
	for len(c.ready) == 0 {
		if c.refused {
			return 0, io.EOF
		}
		if c.buf == nil {
			c.buf = make([]byte, 16<<10)
		}
		n, err := c.Conn.Read(c.buf)
		c.take(c.buf[:n])
		if len(c.ready) > 0 {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, c.ready)
	c.ready = c.ready[n:]
	return n, nil
}

// take moves received bytes through the framing: bodies pass, header blocks wait until whole.
func (c *framedConn) take(b []byte) {
	for len(b) > 0 && !c.refused {
		switch {
		case c.blind:
			c.ready = append(c.ready, b...)
			return
		case c.body > 0:
			n := min(int64(len(b)), c.body)
			c.ready, c.body, b = append(c.ready, b[:n]...), c.body-n, b[n:]
		case c.chunks != nil:
			n, done := c.chunks.feed(b)
			c.ready, b = append(c.ready, b[:n]...), b[n:]
			if done {
				c.chunks = nil
			}
		default:
			c.head = append(c.head, b...)
			b = nil
			end := bytes.Index(c.head, []byte("\r\n\r\n"))
			if end < 0 {
				if len(c.head) > maxHeaderBlock {
					c.blind, c.ready, c.head = true, append(c.ready, c.head...), nil
				}
				return
			}
			block, rest := c.head[:end+4], c.head[end+4:]
			c.head = nil
			length, chunked, both := framing(block)
			if both {
				c.refuse()
				return
			}
			c.ready = append(c.ready, block...)
			if chunked {
				c.chunks = &chunkReader{}
			} else {
				c.body = length
			}
			b = rest
		}
	}
}

// refuse answers the refusal on the connection and ends it; the server reads the end of the stream.
func (c *framedConn) refuse() {
	c.refused = true
	_, _ = c.Conn.Write(c.refusal)
	_ = c.Conn.Close()
}

// framing reads how a header block announces its body.
func framing(block []byte) (length int64, chunked, both bool) {
	hasLength, hasEncoding := false, false
	for _, line := range bytes.Split(block, []byte("\r\n"))[1:] {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch string(bytes.ToLower(bytes.TrimSpace(name))) {
		case "content-length":
			hasLength = true
			length, _ = strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
		case "transfer-encoding":
			hasEncoding = true
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		}
	}
	return max(length, 0), chunked, hasLength && hasEncoding
}

// chunkReader follows a chunked body to its end: chunk sizes, data, the last chunk and the trailers.
type chunkReader struct {
	line  []byte // a size or trailer line being received
	data  int64  // data (and its CRLF) still to pass
	final bool   // past the last chunk: reading trailers
}

var errChunk = errors.New("malformed chunk")

// feed takes bytes of the body and says how many belong to it and whether it ended there.
func (r *chunkReader) feed(b []byte) (int, bool) {
	used := 0
	for used < len(b) {
		if r.data > 0 {
			n := min(int64(len(b)-used), r.data)
			used, r.data = used+int(n), r.data-n
			continue
		}
		i := bytes.IndexByte(b[used:], '\n')
		if i < 0 {
			r.line = append(r.line, b[used:]...)
			return len(b), false
		}
		line := append(r.line, b[used:used+i]...)
		r.line, used = nil, used+i+1
		line = bytes.TrimRight(line, "\r")
		if r.final {
			if len(line) == 0 {
				return used, true // the blank line after the trailers
			}
			continue
		}
		size, err := chunkSize(line)
		if err != nil {
			return len(b), true // the server will refuse the body; nothing after it is a request of ours to read
		}
		if size == 0 {
			r.final = true
			continue
		}
		r.data = size + 2 // the data and its CRLF
	}
	return used, false
}

func chunkSize(line []byte) (int64, error) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
	if err != nil || n < 0 {
		return 0, errChunk
	}
	return n, nil
}
