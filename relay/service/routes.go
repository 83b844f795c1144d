package service

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routes is every route of the relay (docs/relay.md).
func (s *Service) routes() http.Handler {
	r := mux.NewRouter()
	for name, src := range s.sources {
		r.Handle("/webhooks/"+name, s.handleWebhook(src)).Methods(src.Methods()...)
	}
	r.HandleFunc("/healthz", s.handleHealth).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.handleReady).Methods(http.MethodGet)
	r.Handle("/metrics", s.metrics.Handler()).Methods(http.MethodGet)
	admin := r.PathPrefix("/admin/").Subrouter()
	admin.Use(s.guard.Wrap, s.requireAdmin) // the Host first: a rebound name learns nothing, not even a 401
	admin.HandleFunc("/deadletters", s.handleDeadLetters).Methods(http.MethodGet)
	admin.HandleFunc("/deadletters/{id}/retry", s.handleRetryDeadLetter).Methods(http.MethodPost)
	admin.HandleFunc("/status", s.handleStatus).Methods(http.MethodGet)
	admin.HandleFunc("/pending", s.handlePending).Methods(http.MethodGet)
	r.NotFoundHandler = http.HandlerFunc(s.handleNotFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(s.handleMethodNotAllowed)
	return r
}
