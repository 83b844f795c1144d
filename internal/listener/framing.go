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

// Raw is the connection underneath, which a lingering close reads from (see Linger): it may do so while the
// server's own read is still waiting on the framing's state.
func (c *framedConn) Raw() net.Conn { return c.Conn }

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

// take moves received bytes through the framing: bodies pass, header blocks wait until whole. What passes is
// handed on without a copy when it can be (see pass): at saturation the copies were a seventh of what the relay
// allocated.
func (c *framedConn) take(b []byte) {
	if len(c.head) > 0 {
		// a header block begun in an earlier read: completed in its own copy, and framed on from there
		b, c.head = append(c.head, b...), nil
	}
	passed := 0 // b[:passed] passes to the server
	for passed < len(b) && !c.refused {
		rest := b[passed:]
		switch {
		case c.blind:
			passed = len(b)
		case c.body > 0:
			n := min(int64(len(rest)), c.body)
			passed, c.body = passed+int(n), c.body-n
		case c.chunks != nil:
			n, done := c.chunks.feed(rest)
			passed += n
			if done {
				c.chunks = nil
			}
		default:
			end := bytes.Index(rest, headerEnd)
			if end < 0 {
				if len(rest) > maxHeaderBlock {
					c.blind, passed = true, len(b)
					continue
				}
				c.head = append([]byte(nil), rest...)
				c.pass(b[:passed])
				return
			}
			length, chunked, both := framing(rest[:end+len(headerEnd)])
			if both {
				c.pass(b[:passed])
				c.refuse()
				return
			}
			passed += end + len(headerEnd)
			if chunked {
				c.chunks = &chunkReader{}
			} else {
				c.body = length
			}
		}
	}
	c.pass(b[:passed])
}

var headerEnd = []byte("\r\n\r\n")

// pass queues checked bytes for the server. With nothing queued before them they are queued as they are, a slice
// of the read buffer, which Read fills again only once the server has read all of them; the slice's capacity ends
// with it, so that nothing is ever appended into the buffer.
func (c *framedConn) pass(b []byte) {
	if len(c.ready) == 0 {
		c.ready = b[:len(b):len(b)]
		return
	}
	c.ready = append(c.ready, b...)
}

// refuse answers the refusal on the connection and ends it; the server reads the end of the stream.
func (c *framedConn) refuse() {
	c.refused = true
	_, _ = c.Conn.Write(c.refusal)
	_ = c.Conn.Close()
}

// framing reads how a header block announces its body (without allocating: it runs for every request).
func framing(block []byte) (length int64, chunked, both bool) {
	hasLength, hasEncoding := false, false
	_, lines, _ := bytes.Cut(block, crlf) // after the request line
	for len(lines) > 0 {
		var line []byte
		line, lines, _ = bytes.Cut(lines, crlf)
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch name = bytes.TrimSpace(name); {
		case equalFoldASCII(name, "content-length"):
			hasLength = true
			length, _ = strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
		case equalFoldASCII(name, "transfer-encoding"):
			hasEncoding = true
			chunked = containsFold(value, "chunked")
		}
	}
	return max(length, 0), chunked, hasLength && hasEncoding
}

var crlf = []byte("\r\n")

// containsFold reports whether b holds word (lower case), in any case of ASCII letters, as Go's server compares
// header names and transfer codings (a non-ASCII letter that folds to one does not count).
func containsFold(b []byte, word string) bool {
	for i := 0; i+len(word) <= len(b); i++ {
		if equalFoldASCII(b[i:i+len(word)], word) {
			return true
		}
	}
	return false
}

// equalFoldASCII reports whether b is lower, in any case of ASCII letters.
func equalFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != lower[i] {
			return false
		}
	}
	return true
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
