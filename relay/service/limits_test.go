package service

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// serve serves the stack's relay on a loopback port through its own server and listener, as cmd/relay does.
func (s *stack) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := s.svc.Server()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// raw sends bytes on a new connection and reads the answer's status line (or the error that ended the wait).
func raw(t *testing.T, addr, request string, wait time.Duration) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return c, "error: " + err.Error()
	}
	return c, strings.TrimSpace(line)
}

// readCounter counts the bytes a handler read from a body.
type readCounter struct {
	r io.Reader
	n atomic.Int64
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// A stranger's body is never read: the credentials in the headers are checked first, and a body announced
// beyond the limit is refused from its Content-Length.
func TestCredentialsAndLengthAreCheckedBeforeTheBody(t *testing.T) {
	s := newStack(t, nil)
	for _, c := range []struct {
		name   string
		header http.Header
		length int64
		status int
		says   string
	}{
		{"no credential", http.Header{}, 1000, 401, "expected the Authorization header"},
		{"wrong credential", http.Header{"Authorization": {"Bearer guess"}}, 1000, 401, "does not match"},
		{"two credentials", http.Header{"Authorization": {"Bearer sim-revenuecat", "Bearer guess"}}, 1000, 400,
			"expected one Authorization header, got 2"},
		{"announced too long", rcHeader(), 2 << 20, 413, "body larger than 1048576 bytes"},
	} {
		body := &readCounter{r: strings.NewReader(strings.Repeat("x", 1000))}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/revenuecat", body)
		req.Header, req.ContentLength = c.header, c.length
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.svc.ServeHTTP(rec, req)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.says) || body.n.Load() != 0 {
			t.Errorf("%s: expected %d saying %q with the body unread, got %d %s after reading %d bytes", c.name,
				c.status, c.says, rec.Code, rec.Body, body.n.Load())
		}
	}
}

// "Expect: 100-continue" with a body of 2 GB announced gets 413 at once, never "100 Continue" (which used to
// come, and then the connection hung).
func TestAnHugeAnnouncedBodyIsRefusedBeforeContinue(t *testing.T) {
	s := newStack(t, nil)
	addr := s.serve(t)
	_, status := raw(t, addr, "POST /webhooks/revenuecat HTTP/1.1\r\nHost: relay\r\n"+
		"Authorization: Bearer sim-revenuecat\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"+
		"Content-Length: 2000000000\r\n\r\n", 5*time.Second)
	if status != "HTTP/1.1 413 Request Entity Too Large" {
		t.Fatalf("expected 413 at once, got %q", status)
	}
}

// Beyond intake.max_in_flight a webhook gets 503 + Retry-After at once; a slow sender holds its place only until
// the read timeout.
func TestWebhooksBeyondTheInFlightLimitAreShed(t *testing.T) {
	// the read timeout is the window in which the slow webhook holds the place: wide enough for a loaded machine
	s := newStack(t, func(c *config.Config) { c.Intake.MaxInFlight, c.Intake.ReadTimeout = 1, 2*time.Second })
	addr := s.serve(t)
	// a webhook whose body never finishes holds the only place
	slow, _ := net.Dial("tcp", addr)
	defer slow.Close()
	_, _ = io.WriteString(slow, "POST /webhooks/revenuecat HTTP/1.1\r\nHost: relay\r\n"+
		"Authorization: Bearer sim-revenuecat\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"api")
	// the slow webhook must hold the place before the probe: a probe handled first would take it, and the slow
	// one would be the one refused
	waitFor(t, func() bool { return len(s.svc.inFlight) == 1 })
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/revenuecat",
		strings.NewReader(string(rcWebhook("shed-1", "RENEWAL", "shed", 1))))
	req.Header = rcHeader()
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("expected 503 with Retry-After while the place is taken, got %d %v", resp.StatusCode, resp.Header)
	}
	// the read timeout frees the place
	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = bufio.NewReader(slow).ReadString('\n') // an answer (a 400 for the cut body) or the close
	code, _ := s.post(t, "revenuecat", rcWebhook("shed-2", "RENEWAL", "shed", 1), rcHeader())
	if code != http.StatusOK {
		t.Fatalf("expected the place back after the read timeout, got %d", code)
	}
}

// The outbox's budget: once intake.max_pending_jobs wait for delivery, webhooks get 503 + Retry-After (vendors
// retry), and they are taken again once delivery catches up.
func TestTheOutboxBudgetRefusesBeyondItAndRecovers(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.Intake.MaxPendingJobs = 3 })
	// CleverTap down: nothing leaves the outbox
	if _, err := s.ct.AddFault(context.Background(), clevertap.Fault{Action: "respond", Status: 503}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if code, a := s.post(t, "revenuecat", rcWebhook(fmt.Sprintf("budget-%d", i), "RENEWAL", "budget", 1),
			rcHeader()); code != http.StatusOK {
			t.Fatalf("webhook %d within the budget: %d %+v", i, code, a)
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/revenuecat",
		strings.NewReader(string(rcWebhook("budget-3", "RENEWAL", "budget", 1))))
	req.Header = rcHeader()
	s.svc.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), "intake.max_pending_jobs") {
		t.Fatalf("expected 503 + Retry-After naming the budget, got %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if err := s.ct.ClearFaults(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.waitEvents(t, clevertap.WaitRequest{Identity: "budget", Count: 3})
	deadline := time.Now().Add(5 * time.Second)
	for s.svc.store.PendingCount() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if code, _ := s.post(t, "revenuecat", rcWebhook("budget-3", "RENEWAL", "budget", 1), rcHeader()); code != 200 {
		t.Fatalf("expected webhooks taken again once delivered, got %d", code)
	}
}

// Beyond intake.max_connections a connection gets 503 + Retry-After and is closed; idle kept-alive connections
// are closed after the idle timeout, so they give their places back.
func TestConnectionsAreCappedAndIdleOnesClosed(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.Intake.MaxConnections, c.Intake.IdleTimeout = 2, 200*time.Millisecond })
	addr := s.serve(t)
	get := "GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n"
	first, status := raw(t, addr, get, 5*time.Second)
	if status != "HTTP/1.1 200 OK" {
		t.Fatalf("first connection: %q", status)
	}
	raw(t, addr, get, 5*time.Second)
	if _, status := raw(t, addr, get, 5*time.Second); status != "HTTP/1.1 503 Service Unavailable" {
		t.Fatalf("third connection: expected 503 at once, got %q", status)
	}
	// the two kept-alive connections are closed once idle for 200 ms
	_ = first.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := first.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the idle connection was not closed within 5 s")
			}
			break
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, status := raw(t, addr, get, 5*time.Second); status == "HTTP/1.1 200 OK" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no place came back after the idle connections closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
