package fake

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"

	"github.com/ctharness/ctharness/internal/httpjson"
	"github.com/gorilla/mux"
)

// The admin API: JSON in and out, errors as {"error": "..."} naming what was expected and what arrived.

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	stats := s.store.Stats()
	httpjson.Write(w, http.StatusOK, map[string]any{"status": "ok", "version": s.opts.Version,
		"accounts": len(s.accounts.list()),
		"events":   stats.Events, "events_dropped": stats.EventsDropped, "profiles": stats.Profiles})
}

func (s *Server) handleListAccounts(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]any{"accounts": s.accounts.list()})
}

func (s *Server) handlePutAccount(w http.ResponseWriter, r *http.Request) {
	var a clevertap.Account
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
func parseEventFilter(q map[string][]string) (clevertap.EventFilter, error) {
	get := func(k string) string { return first(q[k]) }
	f := clevertap.EventFilter{Account: get("account"), Identity: get("identity"), ObjectID: get("objectId"),
		Name: get("name"), Type: clevertap.RecordType(get("type"))}
	if region := get("region"); region != "" {
		r, err := clevertap.ParseRegion(region)
		if err != nil {
			return f, err
		}
		f.Region = r
	}
	switch f.Type {
	case "", clevertap.TypeEvent, clevertap.TypeProfile, clevertap.TypeToken:
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

// Pages of /_sim/events and /_sim/requests: 1000 entries unless ?limit= says otherwise, at most 10000; an answer
// that left some out carries next_since, the ?since= of the next page.
const (
	defaultPageLimit = 1000
	maxPageLimit     = 10000
)

func pageLimit(q url.Values) (int, error) {
	if !q.Has("limit") {
		return defaultPageLimit, nil
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n < 1 || n > maxPageLimit {
		return 0, fmt.Errorf("limit: expected a number from 1 to %d, got %q", maxPageLimit, q.Get("limit"))
	}
	return n, nil
}

// pageOf is an answer of a paged route: its entries under key, and next_since when more are left.
func pageOf[T any](key string, items []T, more bool, seq func(T) uint64) map[string]any {
	out := map[string]any{key: items}
	if more && len(items) > 0 {
		out["next_since"] = seq(items[len(items)-1])
	}
	return out
}

func eventSeq(e clevertap.Event) uint64        { return e.Seq }
func entrySeq(e clevertap.JournalEntry) uint64 { return e.Seq }

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := httpjson.Params(q, "account", "region", "identity", "objectId", "name", "type", "since",
		"limit"); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	f, err := parseEventFilter(q)
	if err == nil {
		var limit int
		if limit, err = pageLimit(q); err == nil {
			events, more := s.store.PageEvents(f, limit)
			httpjson.Write(w, http.StatusOK, pageOf("events", events, more, eventSeq))
			return
		}
	}
	httpjson.Error(w, http.StatusBadRequest, "%v", err)
}

func (s *Server) handleProfiles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := httpjson.Params(q, "account", "identity", "email", "objectId"); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	profiles := s.store.FindProfiles(clevertap.ProfileQuery{Account: q.Get("account"), Identity: q.Get("identity"),
		Email: q.Get("email"), ObjectID: q.Get("objectId")})
	if profiles == nil {
		profiles = []clevertap.Profile{}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"profiles": profiles})
}

// handleUsers is everything the fake holds for one user, as the inspector's user page shows it: the records of
// an identity or objectId across accounts in the order they happened (their ts), and the profile of each account
// as CleverTap's profile API renders it.
func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := httpjson.Params(q, "identity", "objectId"); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	identity, objectID := q.Get("identity"), q.Get("objectId")
	if (identity == "") == (objectID == "") {
		httpjson.Error(w, http.StatusBadRequest, "expected ?identity= or ?objectId=, one of them")
		return
	}
	type timed struct {
		clevertap.Event
		Time time.Time `json:"time"`
	}
	seen := map[uint64]bool{}
	events := []timed{}
	profiles := []map[string]any{}
	for _, p := range s.store.FindProfiles(clevertap.ProfileQuery{Identity: identity, ObjectID: objectID}) {
		profiles = append(profiles, map[string]any{"account": p.Account, "region": p.Region,
			"record": s.profileRecord(p, recordFlags{events: true, profile: true}), "dnd": p.DND})
		filters := []clevertap.EventFilter{{Account: p.Account, Identity: p.Identity}}
		for _, oid := range p.ObjectIDs {
			filters = append(filters, clevertap.EventFilter{Account: p.Account, ObjectID: oid})
		}
		for _, f := range filters {
			if f.Identity == "" && f.ObjectID == "" {
				continue
			}
			for _, e := range s.store.FindStored(f) {
				if !seen[e.Seq] {
					seen[e.Seq] = true
					events = append(events, timed{Event: e.Event, Time: e.At})
				}
			}
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	httpjson.Write(w, http.StatusOK, map[string]any{"events": events, "profiles": profiles})
}

func (s *Server) handleRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := httpjson.Params(q, "account", "outcome", "region", "endpoint", "q", "since", "before", "order",
		"limit"); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	f, err := parseJournalPage(q)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	entries, more := s.journal.find(f)
	answer := pageOf("requests", entries, more, entrySeq)
	if f.Newest && more && len(entries) > 0 {
		delete(answer, "next_since")
		answer["next_before"] = entries[len(entries)-1].Seq
	}
	httpjson.Write(w, http.StatusOK, answer)
}

// parseJournalPage reads /_sim/requests' query: the filter, paging (since, before, limit) and order (oldest, the
// default, or newest).
func parseJournalPage(q url.Values) (clevertap.JournalFilter, error) {
	f, err := clevertap.ParseJournalFilter(q)
	if err != nil {
		return f, err
	}
	if f.Limit, err = pageLimit(q); err != nil {
		return f, err
	}
	for key, into := range map[string]*uint64{"since": &f.SinceSeq, "before": &f.BeforeSeq} {
		if v := q.Get(key); v != "" {
			if *into, err = strconv.ParseUint(v, 10, 64); err != nil {
				return f, fmt.Errorf("%s: expected a journal seq number, got %q", key, v)
			}
		}
	}
	switch q.Get("order") {
	case "", "oldest":
	case "newest":
		f.Newest = true
	default:
		return f, fmt.Errorf("order: expected oldest or newest, got %q", q.Get("order"))
	}
	return f, nil
}

const (
	defaultWaitTimeout = 5 * time.Second
	maxWaitTimeout     = 5 * time.Minute
)

func (s *Server) handleWait(w http.ResponseWriter, r *http.Request) {
	var req clevertap.WaitRequest
	if err := httpjson.Decode(r, &req); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "wait: %v", err)
		return
	}
	if req.Count < 1 {
		httpjson.Error(w, http.StatusBadRequest,
			"wait: count: expected a positive number of records to wait for, got %d", req.Count)
		return
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if req.TimeoutMS <= 0 {
		timeout = defaultWaitTimeout
	}
	timeout = min(timeout, maxWaitTimeout)
	f := clevertap.EventFilter{Account: req.Account, Region: req.Region, Name: req.Name, Identity: req.Identity,
		ObjectID: req.ObjectID, Type: req.Type}
	events, ok := s.store.WaitFor(r.Context(), f, req.Count, timeout)
	if ok {
		httpjson.Write(w, http.StatusOK, map[string]any{"events": events})
		return
	}
	answer := map[string]any{"events": events, "error": fmt.Sprintf("expected %d record(s) matching within %s, "+
		"found %d", req.Count, timeout, len(events))}
	if near, differs, found := s.store.NearestMiss(f); found {
		answer["nearest_miss"] = map[string]any{"event": near, "differs": differs}
		answer["error"] = fmt.Sprintf("%s; nearest miss: seq %d (%s)", answer["error"], near.Seq,
			strings.Join(differs, "; "))
	}
	httpjson.Write(w, http.StatusRequestTimeout, answer)
}

func (s *Server) handleListFaults(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]any{"faults": s.faults.list()})
}

func (s *Server) handleAddFault(w http.ResponseWriter, r *http.Request) {
	var f clevertap.Fault
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
	httpjson.Write(w, http.StatusOK, map[string]any{"faults": []clevertap.Fault{}})
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
		"no admin route %s %s; routes: GET /_sim/health, GET|POST /_sim/accounts, GET /_sim/events, GET /_sim/profiles, "+
			"GET /_sim/users, GET /_sim/requests, POST /_sim/wait, GET|POST|DELETE /_sim/faults, DELETE /_sim/faults/{id}, "+
			"POST /_sim/reset, and the inspector's: GET /_sim/inspector/, GET /_sim/stream", r.Method, r.URL.Path)
}
