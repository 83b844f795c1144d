package simulator

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/ctharness/ctharness/internal/listener"
)

// MaxHeaderBytes bounds a request's headers (64 KiB; beyond it Go answers 431).
const MaxHeaderBytes = 64 << 10

// DefaultMaxConnections is how many connections the simulator holds unless told otherwise.
const DefaultMaxConnections = 4096

// HTTPServer is the simulator's one http.Server: `simulator serve`, `simulator up` and the harness all serve
// through it, so their limits cannot drift apart. There is no write timeout: /_sim/wait and delay faults answer
// late on purpose.
func (s *Simulator) HTTPServer() *http.Server {
	return &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: MaxHeaderBytes}
}

// Listener caps the simulator's open connections at MaxConnections: beyond it a connection gets 503 and is
// closed.
func (s *Simulator) Listener(ln net.Listener) net.Listener {
	body := fmt.Sprintf(`{"status":"fail","error":"Service Unavailable","code":503}`)
	answer := fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json;charset=utf-8\r\n"+
		"Content-Length: %d\r\nConnection: close\r\nX-Simulator-Diagnosis: the simulator holds its limit of %d "+
		"connections (--max-connections)\r\n\r\n%s", len(body), s.MaxConnections, body)
	return listener.Limit(ln, s.MaxConnections, []byte(answer))
}
