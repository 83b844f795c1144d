package service

import (
	"net/http"
	"time"
)

// MaxHeaderBytes bounds a request's headers (64 KiB; beyond it Go answers 431).
const MaxHeaderBytes = 64 << 10

// NewHTTPServer is the relay's one http.Server: cmd/relay, the harness and a story's own relay all serve through
// it, so their timeouts and limits cannot drift apart.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: MaxHeaderBytes}
}
