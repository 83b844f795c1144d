package load

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func post(t *testing.T, client *http.Client, ctx context.Context, url, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return client.Do(req)
}

func TestConnTransportKeepsOneConnectionAlive(t *testing.T) {
	var conns, requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append([]byte(`{"got":`), append(body, '}')...))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	transport := newConnTransport(4)
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	for i := range 100 {
		resp, err := post(t, client, context.Background(), srv.URL+"/webhooks/x", `"n`+string(rune('0'+i%10))+`"`)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `{"got":"n` + string(rune('0'+i%10)) + `"}`; resp.StatusCode != http.StatusOK || string(body) != want {
			t.Fatalf("request %d: expected 200 %s, got %d %s", i, want, resp.StatusCode, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("expected 100 sequential requests on 1 kept-alive connection, got %d connections", n)
	}
	if n := requests.Load(); n != 100 {
		t.Fatalf("expected the server to see 100 requests, got %d", n)
	}
}

func TestConnTransportHonoursConnectionClose(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: newConnTransport(4)}
	for i := range 5 {
		resp, err := post(t, client, context.Background(), srv.URL, `{}`)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
	}
	if n := conns.Load(); n != 5 {
		t.Fatalf("expected a new connection after each Connection: close, got %d connections for 5 requests", n)
	}
}

// rawServer answers each connection's requests with handle(connection number, request number on it), then does
// what handle says: keep the connection, or close it without saying so.
func rawServer(t *testing.T, handle func(conn, req int) (answer string, closeAfter bool)) (url string,
	requests *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	requests = &atomic.Int64{}
	go func() {
		for conn := 0; ; conn++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(conn int) {
				defer c.Close()
				r := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(r)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					requests.Add(1)
					answer, closeAfter := handle(conn, n)
					if answer != "" {
						_, _ = io.WriteString(c, answer)
					}
					if closeAfter {
						return
					}
				}
			}(conn)
		}
	}()
	return "http://" + ln.Addr().String(), requests
}

const ok200 = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

func TestConnTransportResendsOnceWhenAKeptConnectionWasClosed(t *testing.T) {
	// the first connection answers once and is then closed by the server without a word, as an idle timeout does
	url, requests := rawServer(t, func(conn, req int) (string, bool) { return ok200, conn == 0 })
	client := &http.Client{Transport: newConnTransport(1)}
	for i := range 2 {
		resp, err := post(t, client, context.Background(), url, `{}`)
		if err != nil {
			t.Fatalf("request %d: expected 200 (the second resent on a new connection), got %v", i, err)
		}
		resp.Body.Close()
	}
	if n := requests.Load(); n != 2 {
		t.Fatalf("expected the server to read 2 requests (the closed connection never read the second), got %d", n)
	}
}

func TestConnTransportDoesNotResendOnAFreshConnection(t *testing.T) {
	// every connection reads the request and closes without answering: a fresh connection's failure is the answer
	url, requests := rawServer(t, func(conn, req int) (string, bool) { return "", true })
	client := &http.Client{Transport: newConnTransport(1)}
	_, err := post(t, client, context.Background(), url, `{}`)
	if err == nil || !strings.Contains(err.Error(), "connection closed before an answer") {
		t.Fatalf("expected an error saying the connection closed before an answer, got %v", err)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("expected exactly 1 request sent (no resend on a fresh connection), got %d", n)
	}
}

func TestConnTransportGivesUpAtTheDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	url, _ := rawServer(t, func(conn, req int) (string, bool) { <-release; return "", true })
	client := &http.Client{Transport: newConnTransport(1)}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := post(t, client, ctx, url, `{}`)
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("expected a timeout error from a server that never answers, got %v", err)
	}
}

func TestConnTransportRefusesHTTPS(t *testing.T) {
	client := &http.Client{Transport: newConnTransport(1)}
	_, err := post(t, client, context.Background(), "https://127.0.0.1:1/x", `{}`)
	if err == nil || !strings.Contains(err.Error(), "expected an http:// target, got https://") {
		t.Fatalf("expected the https target refused with expected/got, got %v", err)
	}
}
