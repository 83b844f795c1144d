package clevertap

import (
	"net/http"

	"github.com/gorilla/mux"
)

// addRoutes is the whole surface of the fake: the admin API under /_sim/ on any host, and the CleverTap API on
// every region's host or /<region>/ path prefix.
func (s *Server) addRoutes(r *mux.Router) {
	admin := r.PathPrefix("/_sim").Subrouter()
	admin.HandleFunc("/health", s.handleHealth).Methods(http.MethodGet)
	admin.HandleFunc("/accounts", s.handleListAccounts).Methods(http.MethodGet)
	admin.HandleFunc("/accounts", s.handlePutAccount).Methods(http.MethodPost)
	admin.HandleFunc("/events", s.handleEvents).Methods(http.MethodGet)
	admin.HandleFunc("/profiles", s.handleProfiles).Methods(http.MethodGet)
	admin.HandleFunc("/requests", s.handleRequests).Methods(http.MethodGet)
	admin.HandleFunc("/wait", s.handleWait).Methods(http.MethodPost)
	admin.HandleFunc("/faults", s.handleListFaults).Methods(http.MethodGet)
	admin.HandleFunc("/faults", s.handleAddFault).Methods(http.MethodPost)
	admin.HandleFunc("/faults", s.handleClearFaults).Methods(http.MethodDelete)
	admin.HandleFunc("/faults/{id}", s.handleDeleteFault).Methods(http.MethodDelete)
	admin.HandleFunc("/reset", s.handleReset).Methods(http.MethodPost)
	admin.NotFoundHandler = http.HandlerFunc(s.handleAdminNotFound)
	admin.MethodNotAllowedHandler = http.HandlerFunc(s.handleAdminNotFound)

	r.PathPrefix("/").HandlerFunc(s.handleAPI)
}

// apiEndpoints are the CleverTap routes below the region: path → endpoint name, methods and handler.
func (s *Server) apiEndpoint(path string) (name string, methods []string, handle func(http.ResponseWriter,
	*http.Request, *call)) {
	switch path {
	case "/1/upload":
		return "upload", []string{http.MethodPost}, s.handleUpload
	case "/1/profile.json":
		return "profile", []string{http.MethodGet, http.MethodPost}, s.handleProfile
	case "/1/delete/profiles.json":
		return "delete", []string{http.MethodPost}, s.handleDeleteProfiles
	case "/attribution", "/1/attribution":
		return "attribution", []string{http.MethodGet, http.MethodPost}, s.handleAttribution
	}
	return "", nil, nil
}
