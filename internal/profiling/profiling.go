// Package profiling serves Go's pprof handlers on their own loopback listener, so a slow relay or simulator can
// be profiled where it runs (go tool pprof http://127.0.0.1:6060/debug/pprof/profile) without exposing them on
// the service's port.
package profiling

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"time"
)

// Serve listens on addr (a loopback address) and serves /debug/pprof/ until the returned stop is called.
func Serve(addr string) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: expected host:port such as 127.0.0.1:6060, got %q", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--pprof: expected a loopback address (profiles show memory contents), got %q", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// RelaxGC collects at 5× the live heap instead of 2× unless GOGC is set: the relay and the load generator keep
// small live heaps and allocate per request, so this costs a few MiB and gives back about a tenth of their CPU
// under load.
func RelaxGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// SpareProc runs one Go processor more than the CPUs the process may use, unless GOMAXPROCS is set or a CPU quota
// (a container's limit) already lowered the runtime's default, where a spare one would be throttled. A relay on a
// bbolt outbox blocks a thread in fdatasync twice a commit, hundreds of times a second; until the runtime's monitor
// hands that thread's processor on (20 µs to 10 ms later), a core can stand idle while webhooks wait to be parsed.
// The spare processor gives the system another thread to run then (docs/performance.md, "A spare processor").
// It returns the processors now in use.
func SpareProc(getenv func(string) string) int {
	n := spareProcs(getenv("GOMAXPROCS") != "", runtime.GOMAXPROCS(0), runtime.NumCPU())
	if n != runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(n)
	}
	return n
}

// spareProcs is SpareProc's choice: current plus one, unless GOMAXPROCS was set or the default is under the CPUs.
func spareProcs(set bool, current, cpus int) int {
	if set || current < cpus {
		return current
	}
	return current + 1
}
