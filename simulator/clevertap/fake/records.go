package fake

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"

	"github.com/valyala/fastjson"
)

// What the read endpoints find in the store and how they render it: CleverTap's record shapes (reference §9.2
// to §9.4), from what uploads made of the profiles.

// systemEvents are event names every account knows, whether or not the API ever uploaded one.
var systemEvents = append([]string{"Charged", "App Installed"}, restrictedEvents...)

// knowsEvent says whether the account has the event: a system event or one it has stored. CleverTap answers an
// unknown event name with an error rather than an empty result ([mcp]), which is what catches a typo.
func (s *store) knowsEvent(account, name string) bool {
	if slices.Contains(systemEvents, name) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	known := false
	s.events.Each(func(e *storedEvent) bool {
		known = e.Account == account && e.kind == clevertap.TypeEvent && e.name == name
		return !known
	})
	return known
}

// matchedEvent is an event a query found, with the profile it belonged to then (0 when none is left).
type matchedEvent struct {
	storedEvent
	profileID int64
}

// matchEvents is every event of the account that the query selects, by time then arrival. The store stays locked
// only for the scan and the profile filters (once per profile); the event filters run on the copies after.
func (s *store) matchEvents(account string, q *readQuery) []matchedEvent {
	filtersProfile := len(q.profileProps) > 0 || len(q.reachability) > 0 || len(q.unheld) > 0
	s.mu.Lock()
	var out []matchedEvent
	profileMatches := map[int64]bool{}
	s.events.Each(func(e *storedEvent) bool {
		if e.Account != account || e.kind != clevertap.TypeEvent || e.name != q.EventName || e.at.Before(q.Start) ||
			!e.at.Before(q.End) {
			return true
		}
		p := s.profileOfEvent(e)
		if filtersProfile {
			if p == nil {
				return true
			}
			ok, known := profileMatches[p.ID]
			if !known {
				ok = q.matchesProfile(p)
				profileMatches[p.ID] = ok
			}
			if !ok {
				return true
			}
		}
		m := matchedEvent{storedEvent: *e}
		if p != nil {
			m.profileID = p.ID
		}
		out = append(out, m)
		return true
	})
	s.mu.Unlock()
	if len(q.eventProps) > 0 || len(q.sessionProps) > 0 {
		out = slices.DeleteFunc(out, func(m matchedEvent) bool { return !q.matchesEvent(eventProperties(m.Record)) })
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

func (s *store) profileOfEvent(e *storedEvent) *clevertap.Profile {
	if e.identity != "" {
		if id, ok := s.byIdentity[profileKey(e.Account, e.identity)]; ok {
			return s.profiles[id]
		}
	}
	if e.objectID != "" {
		if id, ok := s.byObjectID[profileKey(e.Account, e.objectID)]; ok {
			return s.profiles[id]
		}
	}
	return nil
}

// profilesByID returns copies of the profiles still there, by ID.
func (s *store) profilesByID(ids []int64) map[int64]clevertap.Profile {
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

// distinctProfiles are the profiles of matched events, each once, in the order of their first event.
func distinctProfiles(events []matchedEvent) []int64 {
	seen := map[int64]bool{}
	var ids []int64
	for _, e := range events {
		if e.profileID != 0 && !seen[e.profileID] {
			seen[e.profileID] = true
			ids = append(ids, e.profileID)
		}
	}
	return ids
}

// eventProperties are an event record's evtData, numbers kept exact.
func eventProperties(record []byte) map[string]any {
	var r struct {
		EvtData map[string]any `json:"evtData"`
	}
	dec := json.NewDecoder(bytes.NewReader(record))
	dec.UseNumber()
	_ = dec.Decode(&r)
	return r.EvtData
}

// recordFlags are the read endpoints' switches: app fields, the event summary, custom profile properties.
type recordFlags struct{ app, events, profile bool }

// parseRecordFlags reads ?app=&events=&profile= (events and profile default to true, app to false, as the current
// Get Events page says); it notes values that are not booleans.
func parseRecordFlags(q url.Values, c *call) recordFlags {
	f := recordFlags{events: true, profile: true}
	for name, into := range map[string]*bool{"app": &f.app, "events": &f.events, "profile": &f.profile} {
		if !q.Has(name) {
			continue
		}
		v, err := strconv.ParseBool(q.Get(name))
		if err != nil {
			c.diagnose("?%s=%q is not true or false; the default is kept", name, q.Get(name))
			continue
		}
		*into = v
	}
	return f
}

// eventRecord is one Get Events record: the profile, the time as yyyyMMddHHmmss in the account's zone, the event's
// properties; session properties are empty, as the API records no session. Keys in the order of CleverTap's sample.
type eventRecord struct {
	Profile      eventProfile    `json:"profile"`
	TS           int64           `json:"ts"`
	EventProps   json.RawMessage `json:"event_props"`
	SessionProps json.RawMessage `json:"session_props"`
}

type eventProfile struct {
	ObjectID    string `json:"objectId,omitempty"`
	Platform    string `json:"platform,omitempty"`
	Email       string `json:"email,omitempty"`
	ProfileData any    `json:"profileData,omitempty"` // nil when ?profile=false
	Identity    string `json:"identity,omitempty"`
	ID          int64  `json:"id,omitempty"`
	Events      any    `json:"events,omitempty"` // nil when ?events=false
}

func (s *Server) eventRecord(e matchedEvent, p *clevertap.Profile, f recordFlags, loc *time.Location) eventRecord {
	ts, _ := strconv.ParseInt(e.at.In(loc).Format("20060102150405"), 10, 64)
	rec := eventRecord{TS: ts, EventProps: json.RawMessage(`{}`), SessionProps: json.RawMessage(`{}`)}
	parser := parserPool.Get()
	if v, err := parser.ParseBytes(e.Record); err == nil {
		if data := v.Get("evtData"); data != nil && data.Type() == fastjson.TypeObject {
			rec.EventProps = data.MarshalTo(nil) // compact, as the stored record may not be
		}
	}
	parserPool.Put(parser)
	rec.Profile.Identity = e.identity
	objectID := e.objectID
	if p != nil {
		rec.Profile.ID = p.ID
		if p.Identity != "" {
			rec.Profile.Identity = p.Identity
		}
		if objectID == "" && len(p.ObjectIDs) > 0 {
			objectID = p.ObjectIDs[0]
		}
		rec.Profile.Email = email(p)
		if f.profile {
			rec.Profile.ProfileData = p.ProfileData
		}
		if f.events {
			rec.Profile.Events = eventSummaries(p)
		}
	}
	if objectID != "" {
		rec.Profile.ObjectID = objectID
		rec.Profile.Platform = s.platformOf(p, objectID)
	}
	return rec
}

// profileRecord is a profile as Get User Profiles and profile.json render it: identity, email, custom properties,
// the event summary in epoch seconds, and one platformInfo entry per device (keys in the samples' order).
type profileRecord struct {
	Identity     string         `json:"identity,omitempty"`
	Email        string         `json:"email,omitempty"`
	ProfileData  any            `json:"profileData,omitempty"`
	Events       any            `json:"events,omitempty"`
	PlatformInfo []platformInfo `json:"platformInfo"`
}

type platformInfo struct {
	Platform  string `json:"platform"`
	PushToken string `json:"push_token,omitempty"`
	ObjectID  string `json:"objectId"`
}

func (s *Server) profileRecord(p clevertap.Profile, f recordFlags) profileRecord {
	rec := profileRecord{Identity: p.Identity, Email: email(&p), PlatformInfo: make([]platformInfo, 0,
		len(p.ObjectIDs))}
	if f.profile {
		rec.ProfileData = p.ProfileData
	}
	if f.events {
		rec.Events = eventSummaries(&p)
	}
	for _, oid := range p.ObjectIDs {
		rec.PlatformInfo = append(rec.PlatformInfo, platformInfo{Platform: s.platformOf(&p, oid),
			PushToken: p.Devices[oid].PushToken, ObjectID: oid})
	}
	return rec
}

func eventSummaries(p *clevertap.Profile) map[string]clevertap.EventStats {
	out := make(map[string]clevertap.EventStats, len(p.Events))
	for name, sum := range p.Events {
		out[name] = clevertap.EventStats{Count: sum.Count, FirstSeen: sum.FirstSeen.Unix(), LastSeen: sum.LastSeen.Unix()}
	}
	return out
}

// platformOf is a device's platform: from its token's type, else the shape of its ID, else UnknownPlatform.
func (s *Server) platformOf(p *clevertap.Profile, objectID string) string {
	if p != nil {
		if dev, ok := p.Devices[objectID]; ok && dev.Platform != "" {
			return dev.Platform
		}
	}
	return objectIDPlatform(objectID, s.opts.UnknownPlatform)
}
