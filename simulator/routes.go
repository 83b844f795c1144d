package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/ctharness/ctharness/simulator/piano"
	"github.com/gorilla/mux"
)

// pianoAdminRoutes is the Piano part of the admin API.
func (s *Simulator) pianoAdminRoutes() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/_sim/piano/events", s.handlePianoEvents).Methods(http.MethodGet)
	r.HandleFunc("/_sim/piano/requests", s.handlePianoRequests).Methods(http.MethodGet)
	r.HandleFunc("/_sim/piano/sites", s.handlePianoSites).Methods(http.MethodGet)
	r.HandleFunc("/_sim/piano/sites", s.handlePutPianoSite).Methods(http.MethodPost)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no admin route %s %s; routes: GET /_sim/piano/events?site=&include_ignored=true, GET /_sim/piano/requests, GET|POST /_sim/piano/sites", r.Method, r.URL.Path)})
	})
	r.MethodNotAllowedHandler = r.NotFoundHandler
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Simulator) handlePianoEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	include := q.Get("include_ignored")
	if include != "" && include != "true" && include != "false" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("include_ignored: expected true or false, got %q", include)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": s.Piano.Hits(q.Get("site"), include == "true")})
}

func (s *Simulator) handlePianoRequests(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"requests": s.Piano.Requests()})
}

func (s *Simulator) handlePianoSites(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"sites": s.Piano.Sites()})
}

func (s *Simulator) handlePutPianoSite(w http.ResponseWriter, r *http.Request) {
	var site piano.Site
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&site); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "site: expected a JSON object {\"id\",\"domain\",\"events\",\"properties\"}: " + err.Error()})
		return
	}
	if err := s.Piano.PutSite(site); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "site: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, site)
}
