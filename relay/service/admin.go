package service

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ctharness/ctharness/internal/httpjson"
	"github.com/ctharness/ctharness/relay/outbox"
)

// requireAdmin lets through only requests with the admin token: the admin routes list payloads with emails and
// phone numbers and send dead letters again, on the port vendors reach.
func (s *Service) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || s.adminToken == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.adminToken)) != 1 {
			httpjson.Error(w, http.StatusUnauthorized, "the admin routes need the admin token: Authorization: Bearer "+
				"<token> (relay --admin-token or RELAY_ADMIN_TOKEN; without one the relay makes one and keeps it in "+
				"%s in its data dir)", AdminTokenFile)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Service) handleHealth(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Service) handleReady(w http.ResponseWriter, _ *http.Request) {
	if why := s.unready(); why != "" {
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": why})
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "ready"})
}

// handlePending says how many jobs of some webhooks are still to deliver (queued or in an upload): ?source=
// and one or more ?event_id= (the event_id of the relay's answer). A scenario run ends as soon as its webhooks'
// jobs are delivered or dead-lettered, instead of watching a settle window for stragglers.
func (s *Service) handlePending(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := httpjson.Params(q, "source", "event_id"); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	if q.Get("source") == "" || len(q["event_id"]) == 0 {
		httpjson.Error(w, http.StatusBadRequest, "expected ?source=<vendor> and at least one ?event_id=<id from the "+
			"webhook's answer>, got source %q and %d event ids", q.Get("source"), len(q["event_id"]))
		return
	}
	n, err := s.store.PendingFor(q.Get("source"), q["event_id"])
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]int{"pending": n})
}

// handleDeadLetters lists dead letters, optionally filtered by source and destination.
func (s *Service) handleDeadLetters(w http.ResponseWriter, r *http.Request) {
	all, err := s.store.DeadLetters()
	if err != nil {
		httpjson.Write(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	source, dest := r.URL.Query().Get("source"), r.URL.Query().Get("destination")
	out := []outbox.DeadLetter{}
	for _, d := range all {
		if (source == "" || d.Source == source) && (dest == "" || d.Destination == dest) {
			out = append(out, d)
		}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"deadletters": out})
}

func (s *Service) handleRetryDeadLetter(w http.ResponseWriter, r *http.Request) {
	raw := mux.Vars(r)["id"]
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		httpjson.Write(w, http.StatusBadRequest,
			map[string]string{"error": fmt.Sprintf("expected a numeric dead letter id, got %q", raw)})
		return
	}
	job, err := s.RetryDeadLetter(id)
	switch {
	case errors.Is(err, outbox.ErrNotFound):
		httpjson.Write(w, http.StatusNotFound,
			map[string]string{"error": fmt.Sprintf("no dead letter %d (GET /admin/deadletters lists them)", id)})
	case err != nil:
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	default:
		s.log.Info("dead letter requeued", "id", id, "destination", job.Destination)
		httpjson.Write(w, http.StatusOK, map[string]any{"status": "requeued", "job": job})
	}
}

func (s *Service) handleStatus(w http.ResponseWriter, _ *http.Request) {
	counts, err := s.store.Counts()
	if err != nil {
		httpjson.Write(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	store := StoreInfo{Where: s.store.Where()}
	if r, ok := s.store.(outbox.Replicated); ok {
		store.Replica = r.Replica()
		if store.Leases, err = r.Leases(); err != nil {
			httpjson.Write(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"queues": s.Depth(), "outbox": counts,
		"destinations": s.built.Endpoints, "store": store})
}

func (s *Service) handleNotFound(w http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(s.sources))
	for n := range s.sources {
		names = append(names, "/webhooks/"+n)
	}
	httpjson.Write(w, http.StatusNotFound, map[string]any{"error": fmt.Sprintf("no route %s %s", r.Method, r.URL.Path),
		"webhooks": names})
}

func (s *Service) handleMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusMethodNotAllowed, map[string]string{"error": fmt.Sprintf("%s is not allowed on %s",
		r.Method, r.URL.Path)})
}

// StoreInfo says where the outbox is (a file, or a database without credentials) and, for a shared one, this
// relay's name among the replicas and which replica delivers each destination now.
type StoreInfo struct {
	Where   string                  `json:"where"`
	Replica string                  `json:"replica,omitempty"`
	Leases  map[string]outbox.Lease `json:"leases,omitempty"`
}
