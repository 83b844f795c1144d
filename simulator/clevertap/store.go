package clevertap

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/ctharness/ctharness/internal/ring"
)

// Event is one accepted upload record as the admin API returns it: records of every type (event, profile, token)
// and attribution calls, oldest first.
type Event struct {
	Seq        uint64          `json:"seq"`
	Account    string          `json:"account"`
	Region     Region          `json:"region"`
	ReceivedAt time.Time       `json:"received_at"`
	RequestID  string          `json:"request_id"`
	Record     json.RawMessage `json:"record"`

	// indexed fields, for filtering without parsing the record again
	kind     RecordType
	name     string
	identity string
	objectID string
}

// EventFilter selects events; empty fields match everything.
type EventFilter struct {
	Account  string
	Region   Region
	Identity string
	ObjectID string
	Name     string
	Type     RecordType
	// SinceSeq keeps events with a larger sequence number; SinceTime keeps events received at or after it.
	SinceSeq  uint64
	SinceTime time.Time
}

func (f EventFilter) matches(e *Event) bool {
	return (f.Account == "" || f.Account == e.Account) &&
		(f.Region == "" || f.Region == e.Region) &&
		(f.Identity == "" || f.Identity == e.identity) &&
		(f.ObjectID == "" || f.ObjectID == e.objectID) &&
		(f.Name == "" || f.Name == e.name) &&
		(f.Type == "" || f.Type == e.kind) &&
		e.Seq > f.SinceSeq &&
		(f.SinceTime.IsZero() || !e.ReceivedAt.Before(f.SinceTime))
}

// EventSummary is what a profile knows of one event name.
type EventSummary struct {
	Count     int       `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Profile is built from profile uploads and from identities seen in events.
type Profile struct {
	Account     string                  `json:"account"`
	Region      Region                  `json:"region"`
	Identity    string                  `json:"identity,omitempty"`
	ObjectIDs   []string                `json:"objectIds,omitempty"`
	ProfileData map[string]any          `json:"profileData"`
	Events      map[string]EventSummary `json:"events"`
	Tokens      []json.RawMessage       `json:"tokens,omitempty"`
	CreatedAt   time.Time               `json:"created_at"`
	UpdatedAt   time.Time               `json:"updated_at"`
}

func (p *Profile) email() string {
	s, _ := p.ProfileData["Email"].(string)
	return s
}

// store keeps accepted records and profiles, both bounded, and wakes waiters when records arrive.
type store struct {
	mu       sync.Mutex
	seq      uint64
	events   *ring.Ring[Event]
	profiles map[string]*Profile
	// profileOrder remembers creation order so the oldest profile goes first when the limit is reached.
	profileOrder *ring.Ring[string]
	profileLimit int
	// byObjectID maps account+objectId to the key of the profile it belongs to.
	byObjectID map[string]string
	// arrived is closed and replaced whenever records are stored.
	arrived chan struct{}
}

func newStore(eventLimit, profileLimit int) *store {
	return &store{
		events:       ring.New[Event](eventLimit),
		profiles:     map[string]*Profile{},
		profileOrder: ring.New[string](profileLimit),
		profileLimit: profileLimit,
		byObjectID:   map[string]string{},
		arrived:      make(chan struct{}),
	}
}

// storedBatch is what one request adds: its records, already validated.
type storedBatch struct {
	account   string
	region    Region
	requestID string
	at        time.Time
	batch     *uploadBatch
}

func (s *store) add(in storedBatch) {
	// one allocation holding only the accepted records' bytes, so a stored event never pins a whole request body
	size := 0
	for _, rec := range in.batch.accepted {
		size += rec.raw.end - rec.raw.start
	}
	buf := make([]byte, 0, size)
	records := make([]json.RawMessage, len(in.batch.accepted))
	for i, rec := range in.batch.accepted {
		start := len(buf)
		buf = append(buf, rec.raw.of(in.batch.buf)...)
		records[i] = buf[start:len(buf):len(buf)]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, rec := range in.batch.accepted {
		s.seq++
		s.events.Push(Event{
			Seq: s.seq, Account: in.account, Region: in.region, ReceivedAt: in.at, RequestID: in.requestID,
			Record: records[i], kind: rec.kind, name: rec.name, identity: rec.identity, objectID: rec.objectID,
		})
		s.updateProfile(in, rec, records[i])
	}
	s.wake()
}

// addAttribution stores an attribution-partner call as an event record.
func (s *store) addAttribution(account string, region Region, requestID string, at time.Time, name, deviceID string,
	record []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.events.Push(Event{Seq: s.seq, Account: account, Region: region, ReceivedAt: at, RequestID: requestID,
		Record: record, kind: TypeEvent, name: name, objectID: deviceID})
	p := s.profileFor(account, region, "", deviceID, at)
	p.countEvent(name, at)
	s.wake()
}

func (s *store) wake() {
	close(s.arrived)
	s.arrived = make(chan struct{})
}

func (s *store) updateProfile(in storedBatch, rec acceptedRecord, raw json.RawMessage) {
	if rec.identity == "" && rec.objectID == "" {
		return
	}
	p := s.profileFor(in.account, in.region, rec.identity, rec.objectID, in.at)
	switch rec.kind {
	case TypeEvent:
		p.countEvent(rec.name, in.at)
	case TypeProfile:
		if rec.hasProfileData {
			var r struct {
				ProfileData map[string]any `json:"profileData"`
			}
			if json.Unmarshal(raw, &r) == nil {
				for k, v := range r.ProfileData {
					p.ProfileData[k] = v
				}
			}
		}
	case TypeToken:
		p.Tokens = append(p.Tokens, raw)
	}
	p.UpdatedAt = in.at
}

func (p *Profile) countEvent(name string, at time.Time) {
	sum := p.Events[name]
	if sum.Count == 0 {
		sum.FirstSeen = at
	}
	sum.Count++
	sum.LastSeen = at
	p.Events[name] = sum
	p.UpdatedAt = at
}

func profileKey(account, identity string) string { return account + "\x00" + identity }

// profileFor finds or creates the profile of an identity or, without one, of an objectId.
func (s *store) profileFor(account string, region Region, identity, objectID string, at time.Time) *Profile {
	key := ""
	switch {
	case identity != "":
		key = profileKey(account, identity)
	default:
		if k, ok := s.byObjectID[profileKey(account, objectID)]; ok {
			key = k
		} else {
			key = profileKey(account, "\x00oid:"+objectID)
		}
	}
	p, ok := s.profiles[key]
	if !ok {
		p = &Profile{Account: account, Region: region, Identity: identity, ProfileData: map[string]any{},
			Events: map[string]EventSummary{}, CreatedAt: at, UpdatedAt: at}
		s.profiles[key] = p
		if s.profileOrder.Len() == s.profileLimit {
			s.profileOrder.Each(func(oldest *string) bool {
				s.forget(*oldest)
				return false
			})
		}
		s.profileOrder.Push(key)
	}
	if objectID != "" {
		oidKey := profileKey(account, objectID)
		if _, linked := s.byObjectID[oidKey]; !linked || identity != "" {
			s.byObjectID[oidKey] = key
			if !slices.Contains(p.ObjectIDs, objectID) {
				p.ObjectIDs = append(p.ObjectIDs, objectID)
			}
		}
	}
	return p
}

func (s *store) forget(key string) {
	p, ok := s.profiles[key]
	if !ok {
		return
	}
	for _, oid := range p.ObjectIDs {
		if s.byObjectID[profileKey(p.Account, oid)] == key {
			delete(s.byObjectID, profileKey(p.Account, oid))
		}
	}
	delete(s.profiles, key)
}

// ProfileQuery finds profiles by one identifier; Account is required for lookups through the API.
type ProfileQuery struct {
	Account  string
	Identity string
	Email    string
	ObjectID string
}

func (s *store) findProfiles(q ProfileQuery) []Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Profile
	s.profileOrder.Each(func(key *string) bool {
		p, ok := s.profiles[*key]
		if !ok {
			return true
		}
		if (q.Account == "" || q.Account == p.Account) &&
			(q.Identity == "" || q.Identity == p.Identity) &&
			(q.Email == "" || q.Email == p.email()) &&
			(q.ObjectID == "" || slices.Contains(p.ObjectIDs, q.ObjectID)) {
			out = append(out, p.copy())
		}
		return true
	})
	return out
}

func (p *Profile) copy() Profile {
	c := *p
	c.ObjectIDs = append([]string(nil), p.ObjectIDs...)
	c.ProfileData = make(map[string]any, len(p.ProfileData))
	for k, v := range p.ProfileData {
		c.ProfileData[k] = v
	}
	c.Events = make(map[string]EventSummary, len(p.Events))
	for k, v := range p.Events {
		c.Events[k] = v
	}
	c.Tokens = append([]json.RawMessage(nil), p.Tokens...)
	return c
}

// deleteProfiles removes the profiles of the given identities or objectIds and says how many it found.
func (s *store) deleteProfiles(account string, identities, objectIDs []string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	deleted := 0
	for _, id := range identities {
		key := profileKey(account, id)
		if _, ok := s.profiles[key]; ok {
			s.forget(key)
			deleted++
		}
	}
	for _, oid := range objectIDs {
		if key, ok := s.byObjectID[profileKey(account, oid)]; ok {
			s.forget(key)
			deleted++
		}
	}
	return deleted
}

func (s *store) findEvents(f EventFilter) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Event{}
	s.events.Each(func(e *Event) bool {
		if f.matches(e) {
			out = append(out, *e)
		}
		return true
	})
	return out
}

// waitFor blocks until count events match, the context ends or the timeout passes; it returns what matches.
func (s *store) waitFor(ctx context.Context, f EventFilter, count int, timeout time.Duration) ([]Event, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		n := 0
		s.events.Each(func(e *Event) bool {
			if f.matches(e) {
				n++
			}
			return true
		})
		arrived := s.arrived
		s.mu.Unlock()
		if n >= count {
			return s.findEvents(f), true
		}
		select {
		case <-arrived:
		case <-deadline.C:
			return s.findEvents(f), false
		case <-ctx.Done():
			return s.findEvents(f), false
		}
	}
}

func (s *store) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events.Clear()
	s.profiles = map[string]*Profile{}
	s.profileOrder.Clear()
	s.byObjectID = map[string]string{}
	s.wake()
}

// storeStats are the totals the health route reports.
type storeStats struct {
	Events        int    `json:"events"`
	EventsDropped uint64 `json:"events_dropped"`
	Profiles      int    `json:"profiles"`
}

func (s *store) stats() storeStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return storeStats{Events: s.events.Len(), EventsDropped: s.events.Dropped(), Profiles: len(s.profiles)}
}
