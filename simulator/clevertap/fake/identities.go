package fake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// The write endpoints real clients call besides uploads (https://developer.clevertap.com/docs/disassociate-api,
// subscribe-api, demerge-user-profile-api): Disassociate, Subscribe and Demerge. Their bodies and limits are
// documented; their answers are not (UNCONFIRMED): each answers {"status":"success"} and says in the diagnosis what it
// did to the fake's profiles.

const (
	// Disassociate and Subscribe: "up to 1000" a request
	maxChannelEntries = 1000
	// Demerge and Delete: "A maximum of 100 identities are allowed in one request"; over it, the text RudderStack
	// reports from CleverTap's delete (rudder-transformer PR #1720)
	maxDemergeIDs = 100
	textMaxIDs    = "Max 100 are allowed"
)

// decodeBody reads a JSON body of at most maxQueryBytes into v.
func decodeBody(r *http.Request, v any) error {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxQueryBytes))
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// channelEntry is one entry of Disassociate's and Subscribe's "d".
type channelEntry struct {
	Type   string `json:"type"`
	Value  string `json:"value"`
	Status string `json:"status"`
}

// readChannelEntries reads {"d":[...]} with 1 to 1000 entries whose type is one of types and value is set.
func (s *Server) readChannelEntries(w http.ResponseWriter, r *http.Request, c *call, types []string) (
	[]channelEntry, bool) {
	var body struct {
		D []channelEntry `json:"d"`
	}
	if err := decodeBody(r, &body); err != nil || body.D == nil {
		c.diagnose("expected {\"d\":[{\"type\",\"value\"...}]}: %v", err)
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMalformed)
		return nil, false
	}
	if len(body.D) > maxChannelEntries {
		c.diagnose("expected at most %d entries in \"d\", got %d", maxChannelEntries, len(body.D))
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, fmt.Sprintf(textTooManyRecords, maxChannelEntries))
		return nil, false
	}
	for i, e := range body.D {
		if !slices.Contains(types, e.Type) || e.Value == "" {
			c.diagnose("d[%d]: expected a \"type\" of %v and a \"value\", got type %q value %q", i, types, e.Type,
				e.Value)
			s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMalformed)
			return nil, false
		}
	}
	return body.D, true
}

// handleDisassociate is POST /1/disassociate: {"d":[{"type":"phone","value":"+91..."}]}. A phone number used as
// an identity stops naming its profile; the profile stays, reachable by its devices.
func (s *Server) handleDisassociate(w http.ResponseWriter, r *http.Request, c *call) {
	acct, ok := s.admit(w, r, c)
	if !ok {
		return
	}
	s.pause(r, c, nil)
	entries, ok := s.readChannelEntries(w, r, c, []string{"phone"})
	if !ok {
		return
	}
	done := 0
	for _, e := range entries {
		if s.store.Disassociate(acct.ID, e.Value) {
			done++
		}
	}
	c.diagnose("%d of %d number(s) were identities and no longer name their profile", done, len(entries))
	s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, []byte(`{"status":"success"}`))
}

// handleSubscribe is POST /1/subscribe: {"d":[{"type":"phone"|"email","value","status":"Unsubscribe"|
// "Resubscribe"}]}. It marks the number or address DND for every profile that has it (profiles' "dnd" in
// /_sim/profiles).
func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request, c *call) {
	acct, ok := s.admit(w, r, c)
	if !ok {
		return
	}
	s.pause(r, c, nil)
	entries, ok := s.readChannelEntries(w, r, c, []string{"phone", "email"})
	if !ok {
		return
	}
	for i, e := range entries {
		if e.Status != "Unsubscribe" && e.Status != "Resubscribe" {
			c.diagnose("d[%d].status: expected Unsubscribe or Resubscribe, got %q", i, e.Status)
			s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMalformed)
			return
		}
	}
	for _, e := range entries {
		n := s.store.SetDND(acct.ID, e.Type, e.Value, e.Status == "Unsubscribe")
		c.diagnose("%s %s %s: %d profile(s) have it", e.Status, e.Type, e.Value, n)
	}
	s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, []byte(`{"status":"success"}`))
}

// handleDemerge is POST /1/demerge/profiles.json: {"identities": id | [ids]}, at most 100. Each identity's
// profile gives up its devices: every objectId becomes an anonymous profile of its own again.
func (s *Server) handleDemerge(w http.ResponseWriter, r *http.Request, c *call) {
	acct, release, ok := s.admitRead(w, r, c)
	if !ok {
		return
	}
	defer release()
	var body struct {
		Identities json.RawMessage `json:"identities"`
	}
	err := decodeBody(r, &body)
	var ids []string
	if err == nil {
		ids, err = oneOrMany(body.Identities)
	}
	if err != nil || len(ids) == 0 {
		c.diagnose("expected {\"identities\": id or [ids]}: %v", err)
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMalformed)
		return
	}
	if len(ids) > maxDemergeIDs {
		c.diagnose("expected at most %d identities, got %d", maxDemergeIDs, len(ids))
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMaxIDs)
		return
	}
	now := s.opts.Now()
	split := 0
	for _, id := range ids {
		split += s.store.Demerge(acct.ID, id, now)
	}
	c.diagnose("%d identit(ies) demerged; %d device(s) became profiles of their own", len(ids), split)
	s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, []byte(`{"status":"success"}`))
}
