package fake

import (
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap/fake/store"

	"github.com/ctharness/ctharness/simulator/clevertap"

	"github.com/valyala/fastjson"
)

// What the read endpoints find in the store and how they render it: CleverTap's record shapes
// (https://developer.clevertap.com/docs/get-events-api and get-user-profiles-api), from what uploads made of the
// profiles.

// systemEvents are event names every account knows, whether or not the API ever uploaded one.
var systemEvents = append([]string{"Charged", "App Installed"}, restrictedEvents...)

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

func (s *Server) eventRecord(e store.Match, p *clevertap.Profile, f recordFlags, loc *time.Location) eventRecord {
	ts, _ := strconv.ParseInt(e.At.In(loc).Format("20060102150405"), 10, 64)
	rec := eventRecord{TS: ts, EventProps: json.RawMessage(`{}`), SessionProps: json.RawMessage(`{}`)}
	parser := parserPool.Get()
	if v, err := parser.ParseBytes(e.Record); err == nil {
		if data := v.Get("evtData"); data != nil && data.Type() == fastjson.TypeObject {
			rec.EventProps = data.MarshalTo(nil) // compact, as the stored record may not be
		}
	}
	parserPool.Put(parser)
	rec.Profile.Identity = e.Identity
	objectID := e.ObjectID
	if p != nil {
		rec.Profile.ID = p.ID
		if p.Identity != "" {
			rec.Profile.Identity = p.Identity
		}
		if objectID == "" && len(p.ObjectIDs) > 0 {
			objectID = p.ObjectIDs[0]
		}
		rec.Profile.Email = store.Email(p)
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
	rec := profileRecord{Identity: p.Identity, Email: store.Email(&p), PlatformInfo: make([]platformInfo, 0,
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
	return store.ObjectIDPlatform(objectID, s.opts.UnknownPlatform)
}
