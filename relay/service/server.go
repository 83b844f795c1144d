package service

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/ctharness/ctharness/internal/listener"
)

// MaxHeaderBytes bounds a request's headers (64 KiB; beyond it Go answers 431).
const MaxHeaderBytes = 64 << 10

// retryAfter is what an overloaded relay asks vendors to wait, in seconds; they retry on their own schedules.
const retryAfter = "5"

// HTTPServer is the relay's one http.Server, with the intake's timeouts: cmd/relay, the harness and a story's
// own relay all serve through it, so their limits cannot drift apart.
func (s *Service) HTTPServer() *http.Server {
	in := s.built.Intake
	return &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: in.ReadTimeout,
		WriteTimeout: in.WriteTimeout, IdleTimeout: in.IdleTimeout, MaxHeaderBytes: MaxHeaderBytes}
}

// Listener caps the relay's open connections at intake.max_connections: beyond it a connection gets 503 +
// Retry-After and is closed.
func (s *Service) Listener(ln net.Listener) net.Listener {
	body := fmt.Sprintf(`{"status":"error","error":"the relay holds its limit of %d connections `+
		`(intake.max_connections); retry later"}`, s.built.Intake.MaxConnections)
	answer := fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nConnection: close\r\n\r\n%s", retryAfter, len(body), body)
	return listener.Limit(ln, s.built.Intake.MaxConnections, []byte(answer))
}
