package fake

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// handleProfile is GET /1/profile.json with exactly one of identity, email or objectId. The response shape
// beyond {"status","record"} and the not-found answer are UNCONFIRMED.
func (s *Server) handleProfile(w http.ResponseWriter, r *http.Request, c *call) {
	acct, ok := s.admit(w, r, c)
	if !ok {
		return
	}
	s.pause(r, c, nil)
	q := r.URL.Query()
	query := clevertap.ProfileQuery{Account: acct.ID, Identity: q.Get("identity"), Email: q.Get("email"),
		ObjectID: q.Get("objectId")}
	given := 0
	for _, v := range []string{query.Identity, query.Email, query.ObjectID} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		c.diagnose("expected exactly one of the query parameters identity, email, objectId; got %d", given)
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest,
			"Exactly one of identity, email or objectId is required")
		return
	}
	found := s.store.FindProfiles(query)
	if len(found) == 0 {
		c.diagnose("no profile in account %s for %s", acct.ID, r.URL.RawQuery)
		s.fail(w, c, clevertap.OutcomeNotFound, http.StatusNotFound, "Profile not found")
		return
	}
	record := s.profileRecord(found[len(found)-1], recordFlags{events: true, profile: true})
	body, _ := json.Marshal(struct {
		Status string        `json:"status"`
		Record profileRecord `json:"record"`
	}{"success", record})
	s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, body)
}

// handleDeleteProfiles is POST /1/delete/profiles.json with {"identity": id|[ids]} or {"guid": id|[ids]}.
func (s *Server) handleDeleteProfiles(w http.ResponseWriter, r *http.Request, c *call) {
	acct, release, ok := s.admitRead(w, r, c)
	if !ok {
		return
	}
	defer release()
	var req struct {
		Identity json.RawMessage `json:"identity"`
		GUID     json.RawMessage `json:"guid"`
	}
	if err := decodeBody(r, &req); err != nil {
		c.diagnose("expected a JSON object {\"identity\": id or [ids]} or {\"guid\": ...}: %v", err)
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMalformed)
		return
	}
	if (req.Identity == nil) == (req.GUID == nil) {
		c.diagnose("expected exactly one of the keys identity and guid")
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMalformed)
		return
	}
	ids, err := oneOrMany(firstNonNil(req.Identity, req.GUID))
	if err != nil || len(ids) == 0 {
		c.diagnose("expected 1 to 100 string ids, got %d (%v)", len(ids), err)
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMalformed)
		return
	}
	if len(ids) > maxDemergeIDs {
		c.diagnose("expected at most %d ids, got %d", maxDemergeIDs, len(ids))
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMaxIDs)
		return
	}
	var deleted int
	if req.Identity != nil {
		deleted = s.store.DeleteProfiles(acct.ID, ids, nil)
	} else {
		deleted = s.store.DeleteProfiles(acct.ID, nil, ids)
	}
	c.diagnose("deleted %d of %d profile(s)", deleted, len(ids))
	s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, []byte(`{"status":"success"}`))
}

func firstNonNil(a, b json.RawMessage) json.RawMessage {
	if a != nil {
		return a
	}
	return b
}

func oneOrMany(raw json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("expected a string or an array of strings")
	}
	return many, nil
}

// attributionCredentials are never stored or journaled.
var attributionCredentials = []string{"account_id", "account_token", "account_passcode"}

// handleAttribution is the generic attribution-partner endpoint (docs/clevertap-api.md, "Other endpoints"): one event
// per call, credentials in the query, a whitelisted partner_name and at least one utm_* parameter.
func (s *Server) handleAttribution(w http.ResponseWriter, r *http.Request, c *call) {
	if err := r.ParseForm(); err != nil {
		c.diagnose("could not read the parameters: %v", err)
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMalformed)
		return
	}
	params := r.Form
	acct := s.attributionAccount(c, params.Get("account_id"), params.Get("account_token"),
		params.Get("account_passcode"))
	if acct == nil {
		s.fail(w, c, clevertap.OutcomeUnauthorized, http.StatusUnauthorized, textInvalidAccountInfo)
		return
	}
	c.entry.Account = acct.ID
	if s.applyFault(w, r, c) {
		return
	}
	s.pause(r, c, nil)
	partner := params.Get("partner_name")
	switch {
	case partner == "":
		c.diagnose("missing partner_name; expected one of %s", strings.Join(s.opts.AttributionPartners, ", "))
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, "partner_name is missing")
		return
	case !slices.ContainsFunc(s.opts.AttributionPartners, func(p string) bool { return strings.EqualFold(p, partner) }):
		c.diagnose("partner_name %q is not whitelisted; expected one of %s", partner,
			strings.Join(s.opts.AttributionPartners, ", "))
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, "partner_name is not whitelisted")
		return
	}
	for _, required := range []string{"event_type", "device_identifier"} {
		if params.Get(required) == "" {
			c.diagnose("missing required parameter %s", required)
			s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, required+" is missing")
			return
		}
	}
	hasUTM := false
	for k, v := range params {
		hasUTM = hasUTM || (strings.HasPrefix(k, "utm_") && len(v) > 0 && v[0] != "")
	}
	if !hasUTM {
		c.diagnose("expected at least one utm_* parameter (utm_source, utm_medium, utm_campaign...)")
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, "utm_source is missing")
		return
	}
	record := attributionRecord(params)
	at := c.entry.ReceivedAt
	if ts, err := strconv.ParseInt(params.Get("timestamp"), 10, 64); err == nil && ts > 0 && ts <= s.opts.MaxTimestamp {
		at = time.Unix(ts, 0).UTC()
	}
	c.store = func() {
		s.store.AddAttribution(acct.ID, acct.Region, c.entry.RequestID, c.entry.ReceivedAt, at,
			params.Get("event_type"), params.Get("device_identifier"), record)
	}
	s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, []byte(`{"status":"success"}`))
}

// attributionAccount finds the account the credentials name: by id, else by token; every given credential must
// belong to it, and the account must live in the region the call went to.
func (s *Server) attributionAccount(c *call, id, token, passcode string) *clevertap.Account {
	if id == "" && token == "" && passcode == "" {
		c.diagnose("no credentials: expected at least one of account_id, account_token, account_passcode")
		return nil
	}
	var acct *clevertap.Account
	var ok bool
	switch {
	case id != "":
		if acct, ok = s.accounts.get(id); !ok {
			c.diagnose("no account %q in the simulator", id)
			return nil
		}
	case token != "":
		if acct, ok = s.accounts.byAccountToken(token); !ok {
			c.diagnose("no account has the account_token sent")
			return nil
		}
	default:
		c.diagnose("account_passcode alone cannot name an account; send account_id or account_token too")
		return nil
	}
	if token != "" && token != acct.Token {
		c.diagnose("account_token does not belong to account %s", acct.ID)
		return nil
	}
	if passcode != "" && !acct.AcceptsPasscode(passcode) {
		c.diagnose("account_passcode is not one of account %s's passcodes", acct.ID)
		return nil
	}
	if acct.Region != c.entry.Region {
		c.diagnose("account %s lives in %s; this request went to %s (use https://%s or the /%s/ path prefix)",
			acct.ID, acct.Region, c.entry.Region, acct.Region.Host(), acct.Region)
		return nil
	}
	return acct
}

// attributionRecord stores an attribution call as an event record: event_type as evtName, device_identifier as
// objectId, every other non-credential parameter in evtData.
func attributionRecord(params map[string][]string) []byte {
	data := map[string]string{}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains(attributionCredentials,
			k) || k == "event_type" || k == "device_identifier" || len(params[k]) == 0 {
			continue
		}
		data[k] = params[k][0]
	}
	rec := map[string]any{
		"type": "event", "source": "attribution", "evtName": first(params["event_type"]),
		"objectId": first(params["device_identifier"]), "evtData": data,
	}
	if ts, err := strconv.ParseInt(first(params["timestamp"]), 10, 64); err == nil {
		rec["ts"] = ts
	}
	out, _ := json.Marshal(rec)
	return out
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
