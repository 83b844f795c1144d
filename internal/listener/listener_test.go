package listener

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs a server that answers each request with its body, behind the guard.
func serve(t *testing.T, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s [%s]", r.Method, r.URL.Path, b)
		})}
	go func() { _ = srv.Serve(wrap(ln)) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// exchange writes the bytes on one connection and reads until the server closes it or goes quiet.
func exchange(t *testing.T, addr, request string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	b, _ := io.ReadAll(c)
	return string(b)
}

const refusal = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 7\r\n\r\nrefused"

// Content-Length and Transfer-Encoding together are refused and the connection closed: the smuggled second
// request never reaches the server (without the guard, Go answers both).
func TestBothFramingsAreRefused(t *testing.T) {
	smuggle := "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	plain := exchange(t, serve(t, func(ln net.Listener) net.Listener { return ln }), smuggle)
	if !strings.Contains(plain, "GET /smuggled") {
		t.Fatalf("expected Go alone to answer the smuggled request (the attack), got %q", plain)
	}
	guarded := exchange(t, serve(t, func(ln net.Listener) net.Listener { return Guard(ln, []byte(refusal)) }), smuggle)
	if guarded != refusal {
		t.Fatalf("expected only the refusal, got %q", guarded)
	}
}

// Honest requests pass through whole, pipelined on one connection: fixed-length, chunked with trailers, none.
func TestHonestRequestsPassThrough(t *testing.T) {
	addr := serve(t, func(ln net.Listener) net.Listener { return Guard(ln, []byte(refusal)) })
	requests := "POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n" +
		"GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	out := exchange(t, addr, requests)
	for _, want := range []string{"POST /one [hello]", "POST /two [abcde]", "GET /three []"} {
		if !strings.Contains(out, want) {
			t.Errorf("expected %q answered, got %q", want, out)
		}
	}
}

// Beyond the cap a connection gets the refusal at once; a closed one gives its place back.
func TestLimitRefusesBeyondTheCap(t *testing.T) {
	addr := serve(t, func(ln net.Listener) net.Listener { return Limit(ln, 1, []byte(refusal)) })
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(first, "GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
	if line, _ := bufio.NewReader(first).ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("the first connection: %q", line)
	}
	if got := exchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); got != refusal {
		t.Fatalf("expected the refusal beyond the cap, got %q", got)
	}
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(exchange(t, addr, "GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), "GET /again") {
		if time.Now().After(deadline) {
			t.Fatal("the place did not come back")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FuzzGuardPassesBytesUnchanged: whatever arrives, in whatever pieces, the server reads exactly those bytes,
// unless the guard refused (and then only for a header block with both framings).
func FuzzGuardPassesBytesUnchanged(f *testing.F) {
	f.Add([]byte("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n"), uint8(7))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"), uint8(3))
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, piece uint8) {
		sent := bytes.Clone(in) // the guard hands on slices of what it read, and must never write into them
		c := &framedConn{Conn: nopConn{}, refusal: []byte("no")}
		step := int(piece%32) + 1
		for i := 0; i < len(in) && !c.refused; i += step {
			c.take(in[i:min(i+step, len(in))])
		}
		if c.refused {
			if !strings.Contains(strings.ToLower(string(in)), "transfer-encoding") {
				t.Fatalf("refused a stream without Transfer-Encoding: %q", in)
			}
			return
		}
		got := append(append([]byte(nil), c.ready...), c.head...)
		if string(got) != string(sent) || string(in) != string(sent) {
			t.Fatalf("the server would read %q, not %q (the read bytes are now %q)", got, sent, in)
		}
	})
}

// Header names and the chunked coding are matched in any case of ASCII letters, as Go's server matches them, and
// only so: a non-ASCII letter that folds to an ASCII one (the Kelvin sign to k) is not the coding.
func TestFramingMatchesNamesAsGoDoes(t *testing.T) {
	for _, tc := range []struct {
		block         string
		length        int64
		chunked, both bool
	}{
		{"POST / HTTP/1.1\r\ncontent-LENGTH: 12\r\n\r\n", 12, false, false},
		{"POST / HTTP/1.1\r\nTRANSFER-encoding: gzip, Chunked\r\n\r\n", 0, true, false},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chun\u212aed\r\n\r\n", 0, false, false},
		{"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: identity\r\n\r\n", 3, false, true},
		{"POST / HTTP/1.1\r\nX-Content-Length: 3\r\n\r\n", 0, false, false},
	} {
		length, chunked, both := framing([]byte(tc.block))
		if length != tc.length || chunked != tc.chunked || both != tc.both {
			t.Errorf("%q: length %d, chunked %v, both %v; expected %d, %v, %v", tc.block, length, chunked, both,
				tc.length, tc.chunked, tc.both)
		}
	}
}

// nopConn is a connection the guard writes its refusal to and closes.
type nopConn struct{ net.Conn }

func (nopConn) Write(p []byte) (int, error) { return len(p), nil }
func (nopConn) Close() error                { return nil }

func TestAnswerIsAWholeResponseThatClosesTheConnection(t *testing.T) {
	raw := Answer(503, http.Header{"Retry-After": {"5"}, "X-Why": {"line\r\nInjected: yes"}}, `{"a":1}`)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("not an HTTP response: %v\n%s", err, raw)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || !resp.Close || string(body) != `{"a":1}` {
		t.Fatalf("expected 503, Retry-After 5, Connection: close and the body, got %d %v %q", resp.StatusCode,
			resp.Header, body)
	}
	if resp.Header.Get("Injected") != "" {
		t.Fatalf("a header value's line break started a header of its own: %v", resp.Header)
	}
}

// A connection told to linger is closed with a FIN its client can read up to, though the client sent bytes the
// server never read (closed at once, it would be reset), and gives its place back once the client closes.
func TestALingeringCloseIsNotAReset(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Limit(Guard(inner, []byte("refused")), 1, []byte("busy"))
	defer l.Close()
	client, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(client, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"+
		strings.Repeat("x", 50000)); err != nil {
		t.Fatal(err)
	}
	server.(interface{ Linger() }).Linger()
	if _, err := io.WriteString(server, "HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, err := io.ReadAll(client)
	if err != nil || !strings.HasPrefix(string(answer), "HTTP/1.1 413") {
		t.Fatalf("expected the answer then the end of the stream, got %q and %v", answer, err)
	}
	client.Close()
	deadline := time.Now().Add(5 * time.Second)
	for l.open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the place was not given back after the lingering close")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
