package simulator

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/ctharness/ctharness/internal/listener"
)

// DefaultMaxConnections is how many connections the simulator holds unless told otherwise.
const DefaultMaxConnections = 4096

// HTTPServer is the simulator's one http.Server: `simulator serve`, `simulator up` and the harness all serve
// through it, so their limits cannot drift apart. There is no write timeout: /_sim/wait and delay faults answer
// late on purpose.
func (s *Simulator) HTTPServer() *http.Server {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: listener.MaxHeaderBytes}
	srv.RegisterOnShutdown(s.Inspector.Shutdown) // the live streams would hold a graceful shutdown to its deadline
	return srv
}

// Listener caps the simulator's open connections at MaxConnections (beyond it a connection gets 503 and is
// closed) and refuses a request that announces its body both ways (400 as CleverTap words a bad request,
// closed).
func (s *Simulator) Listener(ln net.Listener) net.Listener {
	busy := answer(http.StatusServiceUnavailable, fmt.Sprintf("the simulator holds its limit of %d connections "+
		"(--max-connections)", s.MaxConnections), `{"status":"fail","error":"Service Unavailable","code":503}`)
	smuggled := answer(http.StatusBadRequest, "Content-Length and Transfer-Encoding together: refused as request "+
		"smuggling (RFC 9112 section 6.1)", `{"status":"fail","error":"Malformed request","code":400}`)
	return listener.Limit(listener.Guard(ln, smuggled), s.MaxConnections, busy)
}

// answer is a whole HTTP answer in CleverTap's shape that closes the connection, the reason in
// X-Simulator-Diagnosis.
func answer(status int, diagnosis, body string) []byte {
	return listener.Answer(status, http.Header{"Content-Type": {"application/json;charset=utf-8"},
		"X-Simulator-Diagnosis": {diagnosis}}, body)
}
