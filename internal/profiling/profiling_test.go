package profiling

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestServesProfilesOnLoopbackOnly(t *testing.T) {
	if _, err := Serve("0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), `expected a loopback address`) {
		t.Fatalf("expected a non-loopback address refused, got %v", err)
	}
	if _, err := Serve("6060"); err == nil || !strings.Contains(err.Error(), `expected host:port`) {
		t.Fatalf("expected a bare port refused with the form expected, got %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stop, err := Serve(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("expected the goroutine profile, got %d %.200s", resp.StatusCode, body)
	}
}
