package service

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/ctharness/ctharness/internal/listener"
)

// retryAfter is what an overloaded relay asks vendors to wait, in seconds; they retry on their own schedules.
const retryAfter = "5"

// HTTPServer is the relay's one http.Server, with the intake's timeouts: cmd/relay, the harness and a story's
// own relay all serve through it, so their limits cannot drift apart.
func (s *Service) HTTPServer() *http.Server {
	in := s.built.Intake
	return &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: in.ReadTimeout,
		WriteTimeout: in.WriteTimeout, IdleTimeout: in.IdleTimeout, MaxHeaderBytes: listener.MaxHeaderBytes}
}

// Listener caps the relay's open connections at intake.max_connections (beyond it a connection gets 503 +
// Retry-After and is closed) and refuses a request that announces its body both ways (400, closed).
func (s *Service) Listener(ln net.Listener) net.Listener {
	jsonType := http.Header{"Content-Type": {"application/json"}}
	busy := listener.Answer(http.StatusServiceUnavailable, http.Header{"Content-Type": {"application/json"},
		"Retry-After": {retryAfter}}, fmt.Sprintf(
		`{"status":"error","error":"the relay holds its limit of %d connections (intake.max_connections); `+
			`retry later"}`, s.built.Intake.MaxConnections))
	smuggled := listener.Answer(http.StatusBadRequest, jsonType, `{"status":"error","error":"expected Content-Length or `+
		`Transfer-Encoding, got both: refused as request smuggling (RFC 9112 section 6.1)"}`)
	limited := listener.Limit(listener.Guard(ln, smuggled), s.built.Intake.MaxConnections, busy)
	s.conns.Store(limited)
	return limited
}

// crowded says whether the relay's connections are near their cap (then answers close their connections).
func (s *Service) crowded() bool {
	l := s.conns.Load()
	return l != nil && l.Crowded()
}
