package clevertap

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/httpjson"
	"github.com/gorilla/mux"
)

// The admin API: JSON in and out, errors as {"error": "..."} naming what was expected and what arrived.

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	stats := s.store.stats()
	httpjson.Write(w, http.StatusOK, map[string]any{"status": "ok", "version": s.opts.Version,
		"accounts": len(s.accounts.list()),
		"events":   stats.Events, "events_dropped": stats.EventsDropped, "profiles": stats.Profiles})
}

func (s *Server) handleListAccounts(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]any{"accounts": s.accounts.list()})
}

func (s *Server) handlePutAccount(w http.ResponseWriter, r *http.Request) {
	var a Account
	if err := httpjson.Decode(r, &a); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "account: %v", err)
		return
	}
	if err := s.accounts.put(a); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "account: %v", err)
		return
	}
	stored, _ := s.accounts.get(a.ID)
	httpjson.Write(w, http.StatusOK, stored)
}

// parseEventFilter reads account, region, identity, objectId, name, type and since (a sequence number or an
// RFC 3339 time).
func parseEventFilter(q map[string][]string) (EventFilter, error) {
	get := func(k string) string { return first(q[k]) }
	f := EventFilter{Account: get("account"), Identity: get("identity"), ObjectID: get("objectId"), Name: get("name"),
		Type: RecordType(get("type"))}
	if region := get("region"); region != "" {
		r, err := ParseRegion(region)
		if err != nil {
			return f, err
		}
		f.Region = r
	}
	switch f.Type {
	case "", TypeEvent, TypeProfile, TypeToken:
	default:
		return f, fmt.Errorf("type: expected event, profile or token, got %q", f.Type)
	}
	if since := get("since"); since != "" {
		if n, err := strconv.ParseUint(since, 10, 64); err == nil {
			f.SinceSeq = n
		} else if t, err := time.Parse(time.RFC3339Nano, since); err == nil {
			f.SinceTime = t
		} else {
			return f, fmt.Errorf("since: expected an event seq number or an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q",
				since)
		}
	}
	return f, nil
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	f, err := parseEventFilter(r.URL.Query())
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"events": s.store.findEvents(f)})
}

func (s *Server) handleProfiles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	profiles := s.store.findProfiles(ProfileQuery{Account: q.Get("account"), Identity: q.Get("identity"),
		Email: q.Get("email"), ObjectID: q.Get("objectId")})
	if profiles == nil {
		profiles = []Profile{}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"profiles": profiles})
}

var outcomes = []Outcome{OutcomeAccepted, OutcomePartial, OutcomeRejected, OutcomeUnauthorized, OutcomeBadRequest,
	OutcomeRateLimited, OutcomeFault, OutcomeNotFound, OutcomePending}

func (s *Server) handleRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := JournalFilter{Account: q.Get("account"), Outcome: Outcome(q.Get("outcome"))}
	if f.Outcome != "" && !slices.Contains(outcomes, f.Outcome) {
		names := make([]string, len(outcomes))
		for i, o := range outcomes {
			names[i] = string(o)
		}
		httpjson.Error(w, http.StatusBadRequest, "outcome: expected one of %s, got %q", strings.Join(names, ", "), f.Outcome)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"requests": s.journal.find(f)})
}

// WaitRequest is the body of POST /_sim/wait: block until Count matching records exist.
type WaitRequest struct {
	Account   string     `json:"account,omitempty"`
	Region    Region     `json:"region,omitempty"`
	Name      string     `json:"name,omitempty"`
	Identity  string     `json:"identity,omitempty"`
	ObjectID  string     `json:"objectId,omitempty"`
	Type      RecordType `json:"type,omitempty"`
	Count     int        `json:"count"`
	TimeoutMS int        `json:"timeout_ms,omitempty"`
}

const (
	defaultWaitTimeout = 5 * time.Second
	maxWaitTimeout     = 5 * time.Minute
)

func (s *Server) handleWait(w http.ResponseWriter, r *http.Request) {
	var req WaitRequest
	if err := httpjson.Decode(r, &req); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "wait: %v", err)
		return
	}
	if req.Count < 1 {
		httpjson.Error(w, http.StatusBadRequest, "wait: count: expected a positive number of records to wait for, got %d",
			req.Count)
		return
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if req.TimeoutMS <= 0 {
		timeout = defaultWaitTimeout
	}
	timeout = min(timeout, maxWaitTimeout)
	f := EventFilter{Account: req.Account, Region: req.Region, Name: req.Name, Identity: req.Identity,
		ObjectID: req.ObjectID, Type: req.Type}
	events, ok := s.store.waitFor(r.Context(), f, req.Count, timeout)
	status := http.StatusOK
	if !ok {
		status = http.StatusRequestTimeout
	}
	httpjson.Write(w, status, map[string]any{"events": events})
}

func (s *Server) handleListFaults(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]any{"faults": s.faults.list()})
}

func (s *Server) handleAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := httpjson.Decode(r, &f); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "fault: %v", err)
		return
	}
	added, err := s.faults.add(f)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "fault: %v", err)
		return
	}
	httpjson.Write(w, http.StatusCreated, added)
}

func (s *Server) handleClearFaults(w http.ResponseWriter, r *http.Request) {
	s.faults.clear()
	httpjson.Write(w, http.StatusOK, map[string]any{"faults": []Fault{}})
}

func (s *Server) handleDeleteFault(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if !s.faults.remove(id) {
		httpjson.Error(w, http.StatusNotFound, "fault: no fault with id %q (it may have run out of times)", id)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"deleted": id})
}

func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) {
	s.Reset()
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "reset"})
}

func (s *Server) handleAdminNotFound(w http.ResponseWriter, r *http.Request) {
	httpjson.Error(w, http.StatusNotFound,
		"no admin route %s %s; routes: GET /_sim/health, GET|POST /_sim/accounts, GET /_sim/events, GET /_sim/profiles, GET "+
			"/_sim/requests, POST /_sim/wait, GET|POST|DELETE /_sim/faults, DELETE /_sim/faults/{id}, POST /_sim/reset",
		r.Method, r.URL.Path)
}
