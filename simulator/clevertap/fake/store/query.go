package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// HasEvent says whether the account has stored an event of that name.
func (s *Store) HasEvent(account, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	known := false
	s.events.Each(func(e *Stored) bool {
		known = e.Account == account && e.Kind == clevertap.TypeEvent && e.Name == name
		return !known
	})
	return known
}

// Match is an event a query found, with the profile it belonged to then (0 when none is left).
type Match struct {
	Stored
	ProfileID int64
}

// MatchEvents is every event of the account that the query selects, by time then arrival. The store stays locked
// only for the scan and the profile filters (once per profile); the event filters run on the copies after.
func (s *Store) MatchEvents(account string, q *Query) []Match {
	filtersProfile := len(q.ProfileProps) > 0 || len(q.Reachability) > 0 || len(q.Unheld) > 0
	s.mu.Lock()
	var out []Match
	profileMatches := map[int64]bool{}
	s.events.Each(func(e *Stored) bool {
		if e.Account != account || e.Kind != clevertap.TypeEvent || e.Name != q.EventName || e.At.Before(q.Start) ||
			!e.At.Before(q.End) {
			return true
		}
		p := s.profileOfEvent(e)
		if filtersProfile {
			if p == nil {
				return true
			}
			ok, known := profileMatches[p.ID]
			if !known {
				ok = q.MatchesProfile(p)
				profileMatches[p.ID] = ok
			}
			if !ok {
				return true
			}
		}
		m := Match{Stored: *e}
		if p != nil {
			m.ProfileID = p.ID
		}
		out = append(out, m)
		return true
	})
	s.mu.Unlock()
	if len(q.EventProps) > 0 || len(q.SessionProps) > 0 {
		out = slices.DeleteFunc(out, func(m Match) bool { return !q.MatchesEvent(EventProperties(m.Record)) })
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

func (s *Store) profileOfEvent(e *Stored) *clevertap.Profile {
	if e.Identity != "" {
		if id, ok := s.byIdentity[profileKey(e.Account, e.Identity)]; ok {
			return s.profiles[id]
		}
	}
	if e.ObjectID != "" {
		if id, ok := s.byObjectID[profileKey(e.Account, e.ObjectID)]; ok {
			return s.profiles[id]
		}
	}
	return nil
}

// ProfilesByID returns copies of the profiles still there, by ID.
func (s *Store) ProfilesByID(ids []int64) map[int64]clevertap.Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64]clevertap.Profile, len(ids))
	for _, id := range ids {
		if p, ok := s.profiles[id]; ok {
			out[id] = s.copyOf(p)
		}
	}
	return out
}

// DistinctProfiles are the profiles of matched events, each once, in the order of their first event.
func DistinctProfiles(events []Match) []int64 {
	seen := map[int64]bool{}
	var ids []int64
	for _, e := range events {
		if e.ProfileID != 0 && !seen[e.ProfileID] {
			seen[e.ProfileID] = true
			ids = append(ids, e.ProfileID)
		}
	}
	return ids
}

// EventProperties are an event record's evtData, numbers kept exact.
func EventProperties(record []byte) map[string]any {
	var r struct {
		EvtData map[string]any `json:"evtData"`
	}
	dec := json.NewDecoder(bytes.NewReader(record))
	dec.UseNumber()
	_ = dec.Decode(&r)
	return r.EvtData
}

// Query is a parsed query body.
type Query struct {
	EventName string
	// Start and End bound the range: Start is midnight of from, End midnight after to, in the account's zone.
	Start, End time.Time
	// FromDay and ToDay are the range's dates as sent (YYYYMMDD).
	FromDay, ToDay int
	EventProps     []Condition
	SessionProps   []Condition
	// ProfileProps filter on profileData (profile_fields, demographics); reachability on what reaches the user.
	ProfileProps []Condition
	Reachability []Condition
	// Unheld are filter groups on data no profile uploaded through the API has (geo_fields, technographics...):
	// a query with one matches nothing.
	Unheld []string
	// Body is the whole Body, for the counts' own keys (groups, unique, sum_event_prop).
	Body []byte
}

// Condition is one filter: a property, an operator, and one value or several (any of them matches).
type Condition struct {
	Name     string
	Operator string
	Values   []any
}

// matches says whether a property value (absent when !present) meets the condition: any of the condition's
// values against any of a multi-value property's values.
func (c Condition) matches(prop any, present bool) bool {
	if !present {
		return false
	}
	for _, have := range PropertyValues(prop) {
		for _, want := range c.Values {
			if compare(c.Operator, have, want) {
				return true
			}
		}
	}
	return false
}

func PropertyValues(prop any) []any {
	switch p := prop.(type) {
	case []any:
		return p
	case []string:
		out := make([]any, len(p))
		for i, s := range p {
			out[i] = s
		}
		return out
	}
	return []any{prop}
}

func compare(op string, have, want any) bool {
	hs, ws := ScalarString(have), ScalarString(want)
	hn, hNum := Number(have)
	wn, wNum := Number(want)
	switch op {
	case "equals":
		if hNum && wNum {
			return hn == wn
		}
		return hs == ws || (isBoolText(hs) && strings.EqualFold(hs, ws))
	case "contains":
		return strings.Contains(hs, ws)
	}
	if !hNum || !wNum {
		return false
	}
	switch op {
	case "greater_than":
		return hn > wn
	case "greater_than_equals":
		return hn >= wn
	case "less_than":
		return hn < wn
	default:
		return hn <= wn
	}
}

func isBoolText(s string) bool { return strings.EqualFold(s, "true") || strings.EqualFold(s, "false") }

// ScalarString is a value as text, as the query language compares it.
func ScalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Number reads a value as a Number: JSON numbers, numeric strings, and "$D_" dates as their epoch seconds.
func Number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimPrefix(v, "$D_"), 64)
		return f, err == nil
	}
	return 0, false
}

// MatchesProfile applies the profile filters: profileData for profile_fields and demographics (Gender sent as
// Male/Female matches the M/F uploads hold), the push token for reachability's has_token.
func (q *Query) MatchesProfile(p *clevertap.Profile) bool {
	if len(q.Unheld) > 0 {
		return false
	}
	for _, c := range q.ProfileProps {
		v, ok := p.ProfileData[c.Name]
		if c.Name == "Gender" {
			c = genderCondition(c)
		}
		if !c.matches(v, ok) {
			return false
		}
	}
	for _, c := range q.Reachability {
		var v any
		switch c.Name {
		case "has_token":
			v = HasPushToken(p)
		case "has_email":
			v = Email(p) != ""
		case "has_phone":
			v = Phone(p) != ""
		default:
			return false
		}
		if !c.matches(v, true) {
			return false
		}
	}
	return true
}

func genderCondition(c Condition) Condition {
	values := make([]any, len(c.Values))
	for i, v := range c.Values {
		switch s := ScalarString(v); {
		case strings.EqualFold(s, "male"):
			values[i] = "M"
		case strings.EqualFold(s, "female"):
			values[i] = "F"
		default:
			values[i] = v
		}
	}
	c.Values = values
	return c
}

func HasPushToken(p *clevertap.Profile) bool {
	for _, d := range p.Devices {
		if d.PushToken != "" {
			return true
		}
	}
	return false
}

// MatchesEvent applies the event and session filters to an event's properties (sessions: the API records none,
// so a session filter matches nothing).
func (q *Query) MatchesEvent(props map[string]any) bool {
	if len(q.SessionProps) > 0 {
		return false
	}
	for _, c := range q.EventProps {
		v, ok := props[c.Name]
		if !c.matches(v, ok) {
			return false
		}
	}
	return true
}

// Describe is the query for the journal.
func (q *Query) Describe() string {
	d := fmt.Sprintf("%q from %d to %d", q.EventName, q.FromDay, q.ToDay)
	if len(q.Unheld) > 0 {
		d += fmt.Sprintf("; filters on %s match nothing: API-uploaded profiles hold no such data",
			strings.Join(q.Unheld, ", "))
	}
	if len(q.SessionProps) > 0 {
		d += "; session_properties match nothing: events uploaded through the API have no session"
	}
	return d
}
