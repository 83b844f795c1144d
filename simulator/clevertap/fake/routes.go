package fake

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"
)

// addRoutes is the whole surface of the fake: the admin API under /_sim/ (on the hosts its guard admits, state
// changed only by JSON from no other site), and the CleverTap API on every region's host or /<region>/ prefix.
func (s *Server) addRoutes(r *mux.Router) {
	admin := r.PathPrefix("/_sim").Subrouter()
	admin.Use(s.guard.Wrap)
	admin.HandleFunc("/health", s.handleHealth).Methods(http.MethodGet)
	admin.HandleFunc("/accounts", s.handleListAccounts).Methods(http.MethodGet)
	admin.HandleFunc("/accounts", s.handlePutAccount).Methods(http.MethodPost)
	admin.HandleFunc("/events", s.handleEvents).Methods(http.MethodGet)
	admin.HandleFunc("/profiles", s.handleProfiles).Methods(http.MethodGet)
	admin.HandleFunc("/users", s.handleUsers).Methods(http.MethodGet)
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

// apiRoute is one CleverTap route below the region: its path, the endpoint name the journal and faults use, its
// methods and handler.
type apiRoute struct {
	path, endpoint string
	methods        []string
	handle         func(*Server, http.ResponseWriter, *http.Request, *call)
}

var (
	postOnly  = []string{http.MethodPost}
	getOrPost = []string{http.MethodGet, http.MethodPost}
	apiRoutes = []apiRoute{
		{"/1/upload", "upload", postOnly, (*Server).handleUpload},
		{"/1/profile.json", "profile", getOrPost, (*Server).handleProfile},
		{"/1/delete/profiles.json", "delete", postOnly, (*Server).handleDeleteProfiles},
		{"/attribution", "attribution", getOrPost, (*Server).handleAttribution},
		{"/1/attribution", "attribution", getOrPost, (*Server).handleAttribution},
		{"/1/events.json", "events", getOrPost, (*Server).handleGetEvents},
		{"/1/profiles.json", "profiles", getOrPost, (*Server).handleGetProfiles},
		{"/1/counts/events.json", "counts", getOrPost, (*Server).handleCountEvents},
		{"/1/counts/profiles.json", "counts", getOrPost, (*Server).handleCountProfiles},
		{"/1/counts/top.json", "counts", getOrPost, (*Server).handleTopCounts},
		{"/1/counts/trends.json", "counts", getOrPost, (*Server).handleTrends},
		{"/1/now.json", "now", postOnly, (*Server).handleRealTimeCounts},
		{"/1/disassociate", "disassociate", postOnly, (*Server).handleDisassociate},
		{"/1/subscribe", "subscribe", postOnly, (*Server).handleSubscribe},
		{"/1/demerge/profiles.json", "demerge", postOnly, (*Server).handleDemerge},
	}
)

// apiRouteFor finds the route of a path below the region.
func apiRouteFor(path string) (apiRoute, bool) {
	for _, rt := range apiRoutes {
		if rt.path == path {
			return rt, true
		}
	}
	return apiRoute{}, false
}

// endpointNames are the endpoint names of the routes, each once, for faults to name.
func endpointNames() []string {
	var names []string
	for _, rt := range apiRoutes {
		if !slices.Contains(names, rt.endpoint) {
			names = append(names, rt.endpoint)
		}
	}
	return names
}

// routeList is the routes for a diagnosis: "POST /1/upload, GET|POST /1/profile.json, ...".
func routeList() string {
	list := make([]string, len(apiRoutes))
	for i, rt := range apiRoutes {
		list[i] = strings.Join(rt.methods, "|") + " " + rt.path
	}
	return strings.Join(list, ", ")
}
