package service

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/relay/config"
)

// conn is one client connection to a served relay, reading answers as net/http's client does.
type conn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{t: t, c: c, r: bufio.NewReader(c)}
}

// send writes request bytes and reads one answer, with its body.
func (c *conn) send(request string) (*http.Response, string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, request); err != nil {
		c.t.Fatal(err)
	}
	return c.answer()
}

func (c *conn) answer() (*http.Response, string) {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.t.Fatalf("expected an answer, got %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading the answer's body: %v", err)
	}
	return resp, string(body)
}

// closed says whether the relay closed the connection (within 5 s).
func (c *conn) closed() bool {
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.r.ReadByte()
	return err == io.EOF
}

const (
	health  = "GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n"
	rcHead  = "POST /webhooks/revenuecat HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
	rcAuthz = "Authorization: Bearer sim-revenuecat\r\n"
)

// What the server cannot read as a request is answered in the relay's JSON, naming what was expected, and the
// connection is closed.
func TestTheServerAnswersWhatItCannotReadInJSON(t *testing.T) {
	addr := newStack(t, nil).serve(t)
	for _, c := range []struct {
		name, request string
		status        int
		says          string
	}{
		{"not HTTP", "HELLO\r\n\r\n", 400, "expected an HTTP/1.1 request, got one that could not be read"},
		{"headers over 64 KiB", "GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Padding: " + strings.Repeat("p", 70<<10) +
			"\r\n\r\n", 431, "expected request headers of at most 65536 bytes, got more"},
	} {
		cn := dial(t, addr)
		resp, body := cn.send(c.request)
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" ||
			!strings.Contains(body, c.says) {
			t.Errorf("%s: expected %d in JSON saying %q, got %d %v %s", c.name, c.status, c.says, resp.StatusCode,
				resp.Header, body)
		}
		if !cn.closed() {
			t.Errorf("%s: expected the connection closed after the answer", c.name)
		}
	}
}

// Headers that stop arriving are cut by intake.read_timeout: the sender gets 408 (or the close), and its place
// is given back.
func TestHeadersThatStopArrivingAreCut(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.Intake.ReadTimeout = 300 * time.Millisecond })
	addr := s.serve(t)
	cn := dial(t, addr)
	if _, err := io.WriteString(cn.c, rcHead); err != nil {
		t.Fatal(err)
	}
	_ = cn.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	all, err := io.ReadAll(cn.c)
	if err != nil {
		t.Fatalf("expected the relay to answer and close within its read timeout, got %v", err)
	}
	if len(all) > 0 && !strings.HasPrefix(string(all), "HTTP/1.1 408 ") {
		t.Fatalf("expected 408 or nothing before the close, got %q", all)
	}
	if resp, _ := dial(t, addr).send(health); resp.StatusCode != http.StatusOK {
		t.Fatalf("expected the relay to serve on, got %d", resp.StatusCode)
	}
}

// A webhook refused before its body is read keeps its connection when the unread body is short (the server
// drains it), and loses it when the body is long (draining a megabyte for a stranger is what the refusal avoids).
func TestARefusedBodyIsDrainedOnlyWhenShort(t *testing.T) {
	addr := newStack(t, nil).serve(t)
	short := dial(t, addr)
	resp, body := short.send(rcHead + "Authorization: Bearer guess\r\nContent-Length: 1000\r\n\r\n" +
		strings.Repeat("x", 1000))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "does not match") {
		t.Fatalf("expected 401, got %d %s", resp.StatusCode, body)
	}
	if resp, _ := short.send(health); resp.StatusCode != http.StatusOK {
		t.Fatalf("expected the next request on the same connection served, got %d", resp.StatusCode)
	}
	long := dial(t, addr)
	resp, _ = long.send(rcHead + "Authorization: Bearer guess\r\nContent-Length: 1000000\r\n\r\n" +
		strings.Repeat("x", 1000))
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("expected 401 with Connection: close, got %d %v", resp.StatusCode, resp.Header)
	}
	if !long.closed() {
		t.Fatal("expected the connection closed instead of a megabyte drained")
	}
}

// "Expect: 100-continue": a webhook its headers already refuse gets the refusal, never "100 Continue"; one they
// admit gets "100 Continue", then its answer once the body came.
func TestExpectContinueIsAnsweredFromTheHeaders(t *testing.T) {
	s := newStack(t, nil)
	addr := s.serve(t)
	resp, body := dial(t, addr).send(rcHead + "Authorization: Bearer guess\r\nExpect: 100-continue\r\n" +
		"Content-Length: 100\r\n\r\n")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "does not match") {
		t.Fatalf("wrong credential: expected 401 at once, got %d %s", resp.StatusCode, body)
	}
	webhook := string(rcWebhook("expect-1", "RENEWAL", "expect", 1))
	cn := dial(t, addr)
	resp, _ = cn.send(rcHead + rcAuthz + "Expect: 100-continue\r\nContent-Length: " + strconv.Itoa(len(webhook)) +
		"\r\n\r\n")
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("right credential: expected 100 Continue, got %d", resp.StatusCode)
	}
	resp, body = cn.send(webhook)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"accepted"`) {
		t.Fatalf("expected the webhook accepted after its body, got %d %s", resp.StatusCode, body)
	}
}

// A handler's panic gets 500 for that request; the relay serves on.
func TestAPanicIsAnswered500AndTheRelayServesOn(t *testing.T) {
	s := newStack(t, nil)
	routes := s.svc.handler
	s.svc.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("a handler's bug")
		}
		routes.ServeHTTP(w, r)
	})
	addr := s.serve(t)
	resp, body := dial(t, addr).send("GET /panic HTTP/1.1\r\nHost: relay\r\n\r\n")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, `"error":"internal error"`) {
		t.Fatalf("expected 500, got %d %s", resp.StatusCode, body)
	}
	if resp, _ := dial(t, addr).send(health); resp.StatusCode != http.StatusOK {
		t.Fatalf("expected the relay to serve on, got %d", resp.StatusCode)
	}
	if !strings.Contains(s.log.String(), "handler panicked") {
		t.Fatalf("expected the panic in the log, got %s", s.log)
	}
}

// Only a webhook route's exact path and method take the server's own webhook path; anything the router would clean,
// redirect or refuse gets the router's answer, as under net/http.
func TestOnlyExactWebhookRoutesSkipTheRouter(t *testing.T) {
	addr := newStack(t, nil).serve(t)
	body := string(rcWebhook("exact-1", "RENEWAL", "exact", 1))
	post := func(path string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n" + rcAuthz +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	for _, c := range []struct {
		request string
		status  int
		says    string
	}{
		{post("/webhooks/revenuecat"), 200, `"status":"accepted"`},
		{post("/webhooks/revenuecat/"), 404, "no route POST /webhooks/revenuecat/"},
		{post("/webhooks//revenuecat"), 301, ""},
		{post("/webhooks/%72evenuecat"), 200, `"status":"duplicate"`},
		{"GET /webhooks/revenuecat HTTP/1.1\r\nHost: relay\r\n\r\n", 405, "GET is not allowed on /webhooks/revenuecat"},
	} {
		resp, got := dial(t, addr).send(c.request)
		if resp.StatusCode != c.status || !strings.Contains(got, c.says) {
			t.Errorf("%.40q: expected %d saying %q, got %d %s", c.request, c.status, c.says, resp.StatusCode, got)
		}
	}
}

// A client still writing a body the relay refused reads the refusal, not a reset: the connection lingers before it
// is closed (each try is a new connection; without the linger most of them failed with "connection reset").
func TestASenderOfARefusedBodyReadsTheRefusal(t *testing.T) {
	addr := newStack(t, nil).serve(t)
	huge := bytes.Repeat([]byte("x"), 2<<20)
	for i := range 10 {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/revenuecat", bytes.NewReader(huge))
		req.Header = rcHeader()
		req.Header.Set("Content-Type", "application/json")
		req.Close = true
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("try %d: expected the 413, got %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("try %d: expected 413, got %d", i, resp.StatusCode)
		}
	}
}
