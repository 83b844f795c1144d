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

func TestSpareProcIsOneMoreOnlyWhenNothingChoseTheCount(t *testing.T) {
	for _, c := range []struct {
		name                string
		set                 bool
		current, cpus, want int
	}{
		{"the default on 2 CPUs", false, 2, 2, 3},
		{"the default on 1 CPU", false, 1, 1, 2},
		{"GOMAXPROCS set by the user", true, 2, 2, 2},
		{"a container's quota of 1 of 4 CPUs", false, 1, 4, 1},
	} {
		if got := spareProcs(c.set, c.current, c.cpus); got != c.want {
			t.Errorf("%s: expected %d processors, got %d", c.name, c.want, got)
		}
	}
}
