package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"

	"github.com/ctharness/ctharness/internal/ring"
)

// Stored is a record as the store keeps it: what the admin API returns, and the fields it filters on, read
// once when the record arrived.
type Stored struct {
	clevertap.Event
	Kind     clevertap.RecordType
	Name     string
	Identity string
	ObjectID string
	// At is when the event happened: its ts, else when it arrived
	At time.Time
}

func matches(f clevertap.EventFilter, e *Stored) bool {
	return (f.Account == "" || f.Account == e.Account) &&
		(f.Region == "" || f.Region == e.Region) &&
		(f.Identity == "" || f.Identity == e.Identity) &&
		(f.ObjectID == "" || f.ObjectID == e.ObjectID) &&
		(f.Name == "" || f.Name == e.Name) &&
		(f.Type == "" || f.Type == e.Kind) &&
		e.Seq > f.SinceSeq &&
		(f.SinceTime.IsZero() || !e.ReceivedAt.Before(f.SinceTime))
}

func Email(p *clevertap.Profile) string {
	s, _ := p.ProfileData["Email"].(string)
	return s
}

func Phone(p *clevertap.Profile) string {
	s, _ := p.ProfileData["Phone"].(string)
	return s
}

// Store keeps accepted records and profiles, both bounded, and wakes waiters when records arrive.
type Store struct {
	mu     sync.Mutex
	seq    uint64
	events *ring.Ring[Stored]
	// profiles by their ID; byIdentity and byObjectID map account+identifier to an ID.
	profiles   map[int64]*clevertap.Profile
	byIdentity map[string]int64
	byObjectID map[string]int64
	lastID     int64
	// profileOrder remembers creation order so the oldest profile goes first when the limit is reached.
	profileOrder *ring.Ring[int64]
	profileLimit int
	// unsubscribed holds account+channel+value of the numbers and addresses /1/subscribe marked DND.
	unsubscribed map[string]bool
	// arrived is closed and replaced whenever records are stored.
	arrived chan struct{}
	// unknownPlatform is the platform of an objectId whose platform nothing tells.
	unknownPlatform string
}

func NewStore(eventLimit, profileLimit int, unknownPlatform string) *Store {
	s := &Store{
		events:          ring.New[Stored](eventLimit),
		profileOrder:    ring.New[int64](profileLimit),
		profileLimit:    profileLimit,
		arrived:         make(chan struct{}),
		unknownPlatform: unknownPlatform,
	}
	s.clearProfiles()
	return s
}

func (s *Store) clearProfiles() {
	s.profiles = map[int64]*clevertap.Profile{}
	s.byIdentity = map[string]int64{}
	s.byObjectID = map[string]int64{}
	s.unsubscribed = map[string]bool{}
	s.profileOrder.Clear()
}

// Batch is what one request adds: its records, already validated.
type Batch struct {
	Account   string
	Region    clevertap.Region
	RequestID string
	At        time.Time
	Records   []Record
}

func (s *Store) Add(in Batch) {
	// one allocation holding only the accepted records' bytes, so a stored event never pins a whole request body
	size := 0
	for _, rec := range in.Records {
		size += len(rec.Raw)
	}
	buf := make([]byte, 0, size)
	records := make([]json.RawMessage, len(in.Records))
	for i, rec := range in.Records {
		start := len(buf)
		buf = append(buf, rec.Raw...)
		records[i] = buf[start:len(buf):len(buf)]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, rec := range in.Records {
		s.seq++
		at := in.At
		if rec.TS > 0 {
			at = time.Unix(rec.TS, 0).UTC()
		}
		s.events.Push(Stored{Event: clevertap.Event{
			Seq: s.seq, Account: in.Account, Region: in.Region, ReceivedAt: in.At, RequestID: in.RequestID,
			Record: records[i]}, Kind: rec.Kind, Name: rec.Name, Identity: rec.Identity, ObjectID: rec.ObjectID, At: at,
		})
		s.updateProfile(in, rec, records[i], at)
	}
	s.wake()
}

// AddAttribution stores an attribution-partner call as an event record.
func (s *Store) AddAttribution(account string, region clevertap.Region, requestID string, received, at time.Time, name,
	deviceID string, record []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.events.Push(Stored{Event: clevertap.Event{Seq: s.seq, Account: account, Region: region,
		ReceivedAt: received, RequestID: requestID, Record: record}, Kind: clevertap.TypeEvent, Name: name,
		ObjectID: deviceID, At: at})
	p := s.profileFor(account, region, "", deviceID, received)
	countEvent(p, name, at)
	p.UpdatedAt = received
	s.wake()
}

func (s *Store) wake() {
	close(s.arrived)
	s.arrived = make(chan struct{})
}

func (s *Store) updateProfile(in Batch, rec Record, raw json.RawMessage, at time.Time) {
	if rec.Identity == "" && rec.ObjectID == "" {
		return
	}
	p := s.profileFor(in.Account, in.Region, rec.Identity, rec.ObjectID, in.At)
	switch rec.Kind {
	case clevertap.TypeEvent:
		countEvent(p, rec.Name, at)
	case clevertap.TypeProfile:
		if rec.HasProfileData {
			var r struct {
				ProfileData map[string]any `json:"profileData"`
			}
			if json.Unmarshal(raw, &r) == nil {
				applyProfileData(p.ProfileData, r.ProfileData)
			}
		}
	case clevertap.TypeToken:
		p.Tokens = append(p.Tokens, raw)
		var r struct {
			TokenData struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"tokenData"`
		}
		if json.Unmarshal(raw, &r) == nil && rec.ObjectID != "" {
			p.Devices[rec.ObjectID] = clevertap.Device{
				Platform:  tokenPlatform(r.TokenData.Type, rec.ObjectID, s.unknownPlatform),
				PushToken: r.TokenData.ID,
			}
		}
	}
	p.UpdatedAt = in.At
}

func countEvent(p *clevertap.Profile, name string, at time.Time) {
	sum := p.Events[name]
	if sum.Count == 0 || at.Before(sum.FirstSeen) {
		sum.FirstSeen = at
	}
	if at.After(sum.LastSeen) {
		sum.LastSeen = at
	}
	sum.Count++
	p.Events[name] = sum
}

// tokenPlatform is the platform a device token's type names; CleverTap's samples show iOS, Android and Web.
func tokenPlatform(tokenType, objectID, unknown string) string {
	switch tokenType {
	case "apns":
		return "iOS"
	case "fcm", "gcm":
		return "Android"
	case "chrome":
		return "Web"
	case "wns", "mpns":
		return "Windows"
	}
	return ObjectIDPlatform(objectID, unknown)
}

// ObjectIDPlatform reads the platform from the shape of a CleverTap ID, as the SDKs make them: Android's start
// with "__", iOS's with "-" (CleverTap's sample "-1a063854f83a4c6484285039ecff87cb"), the web SDK's are UUIDs.
func ObjectIDPlatform(objectID, unknown string) string {
	switch {
	case strings.HasPrefix(objectID, "__"):
		return "Android"
	case strings.HasPrefix(objectID, "-"):
		return "iOS"
	case isUUID(objectID):
		return "Web"
	}
	return unknown
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", r):
			return false
		}
	}
	return true
}

func profileKey(account, id string) string { return account + "\x00" + id }

// profileFor finds or creates the profile of an identity or, without one, of an objectId. An objectId seen
// alone and later with an identity is that identity's device: its anonymous profile is merged into the
// identified one, as CleverTap merges a profile when the user logs in.
func (s *Store) profileFor(account string, region clevertap.Region, identity, objectID string,
	at time.Time) *clevertap.Profile {
	var id int64
	var ok bool
	if identity != "" {
		id, ok = s.byIdentity[profileKey(account, identity)]
	} else {
		id, ok = s.byObjectID[profileKey(account, objectID)]
	}
	p := s.profiles[id]
	if !ok || p == nil {
		p = s.newProfile(account, region, identity, at)
	}
	if objectID != "" {
		s.link(p, objectID)
	}
	return p
}

func (s *Store) newProfile(account string, region clevertap.Region, identity string, at time.Time) *clevertap.Profile {
	s.lastID++
	p := &clevertap.Profile{ID: s.lastID, Account: account, Region: region, Identity: identity,
		ProfileData: map[string]any{}, Events: map[string]clevertap.EventSummary{},
		Devices: map[string]clevertap.Device{}, CreatedAt: at, UpdatedAt: at}
	s.profiles[p.ID] = p
	if identity != "" {
		s.byIdentity[profileKey(account, identity)] = p.ID
	}
	if s.profileOrder.Len() == s.profileLimit {
		s.profileOrder.Each(func(oldest *int64) bool {
			s.forget(*oldest)
			return false
		})
	}
	s.profileOrder.Push(p.ID)
	return p
}

// link makes objectID a device of p. An objectId another profile holds moves only to an identified profile; an
// anonymous profile left with no devices is merged into p.
func (s *Store) link(p *clevertap.Profile, objectID string) {
	key := profileKey(p.Account, objectID)
	oldID, linked := s.byObjectID[key]
	if linked && oldID == p.ID {
		return
	}
	if linked && p.Identity == "" {
		return // an anonymous upload never takes a device from the profile it belongs to
	}
	s.byObjectID[key] = p.ID
	if !slices.Contains(p.ObjectIDs, objectID) {
		p.ObjectIDs = append(p.ObjectIDs, objectID)
	}
	old := s.profiles[oldID]
	if !linked || old == nil {
		return
	}
	if dev, ok := old.Devices[objectID]; ok {
		p.Devices[objectID] = dev
		delete(old.Devices, objectID)
	}
	old.ObjectIDs = slices.DeleteFunc(old.ObjectIDs, func(o string) bool { return o == objectID })
	if old.Identity == "" && len(old.ObjectIDs) == 0 {
		merge(p, old)
		s.forget(old.ID)
	}
}

// merge takes what an anonymous profile knew: its events and the properties p does not have yet.
func merge(p, anon *clevertap.Profile) {
	for name, a := range anon.Events {
		sum, ok := p.Events[name]
		if !ok {
			p.Events[name] = a
			continue
		}
		sum.Count += a.Count
		if a.FirstSeen.Before(sum.FirstSeen) {
			sum.FirstSeen = a.FirstSeen
		}
		if a.LastSeen.After(sum.LastSeen) {
			sum.LastSeen = a.LastSeen
		}
		p.Events[name] = sum
	}
	for k, v := range anon.ProfileData {
		if _, ok := p.ProfileData[k]; !ok {
			p.ProfileData[k] = v
		}
	}
	p.Tokens = append(p.Tokens, anon.Tokens...)
	if anon.CreatedAt.Before(p.CreatedAt) {
		p.CreatedAt = anon.CreatedAt
	}
}

func (s *Store) forget(id int64) {
	p, ok := s.profiles[id]
	if !ok {
		return
	}
	for _, oid := range p.ObjectIDs {
		if s.byObjectID[profileKey(p.Account, oid)] == id {
			delete(s.byObjectID, profileKey(p.Account, oid))
		}
	}
	if p.Identity != "" && s.byIdentity[profileKey(p.Account, p.Identity)] == id {
		delete(s.byIdentity, profileKey(p.Account, p.Identity))
	}
	delete(s.profiles, id)
}

func (s *Store) FindProfiles(q clevertap.ProfileQuery) []clevertap.Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []clevertap.Profile
	s.profileOrder.Each(func(id *int64) bool {
		p, ok := s.profiles[*id]
		if !ok {
			return true
		}
		if (q.Account == "" || q.Account == p.Account) &&
			(q.Identity == "" || q.Identity == p.Identity) &&
			(q.Email == "" || q.Email == Email(p)) &&
			(q.ObjectID == "" || slices.Contains(p.ObjectIDs, q.ObjectID)) {
			out = append(out, s.copyOf(p))
		}
		return true
	})
	return out
}

// copyOf is a profile the caller may keep: its maps and slices are its own, and DND is filled in.
func (s *Store) copyOf(p *clevertap.Profile) clevertap.Profile {
	c := *p
	c.ObjectIDs = slices.Clone(p.ObjectIDs)
	c.ProfileData = make(map[string]any, len(p.ProfileData))
	for k, v := range p.ProfileData {
		if list, ok := v.([]string); ok {
			v = slices.Clone(list)
		}
		c.ProfileData[k] = v
	}
	c.Events = maps.Clone(p.Events)
	c.Devices = maps.Clone(p.Devices)
	c.Tokens = slices.Clone(p.Tokens)
	c.DND = nil
	if number := Phone(p); number != "" && s.unsubscribed[dndKey(p.Account, "phone", number)] {
		c.DND = append(c.DND, "phone")
	}
	if address := Email(p); address != "" && s.unsubscribed[dndKey(p.Account, "email", address)] {
		c.DND = append(c.DND, "email")
	}
	return c
}

// DeleteProfiles removes the profiles of the given identities or objectIds and says how many it found.
func (s *Store) DeleteProfiles(account string, identities, objectIDs []string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	deleted := 0
	for _, id := range identities {
		if pid, ok := s.byIdentity[profileKey(account, id)]; ok {
			s.forget(pid)
			deleted++
		}
	}
	for _, oid := range objectIDs {
		if pid, ok := s.byObjectID[profileKey(account, oid)]; ok {
			s.forget(pid)
			deleted++
		}
	}
	return deleted
}

func (s *Store) FindEvents(f clevertap.EventFilter) []clevertap.Event {
	events, _ := s.PageEvents(f, 0)
	return events
}

// PageEvents returns up to limit matching events (0: all), oldest first, and whether more match.
func (s *Store) PageEvents(f clevertap.EventFilter, limit int) ([]clevertap.Event, bool) {
	return page(s, f, limit, func(e *Stored) clevertap.Event { return e.Event })
}

// FindStored is FindEvents with the fields the store indexed (when each event happened).
func (s *Store) FindStored(f clevertap.EventFilter) []Stored {
	stored, _ := page(s, f, 0, func(e *Stored) Stored { return *e })
	return stored
}

// page is the records that match, oldest first, limit at most (0: all), each as as makes it; more says whether
// more were left.
func page[T any](s *Store, f clevertap.EventFilter, limit int, as func(*Stored) T) ([]T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []T{}
	more := false
	s.events.Each(func(e *Stored) bool {
		if matches(f, e) {
			if limit > 0 && len(out) == limit {
				more = true
				return false
			}
			out = append(out, as(e))
		}
		return true
	})
	return out, more
}

// NearestMiss is the stored record that meets most of the filter without meeting all of it (the user weighs
// most, then the event name; the most recent of equals), with how it differs; ok is false when no record shares
// a field with the filter.
func (s *Store) NearestMiss(f clevertap.EventFilter) (clevertap.Event, []string, bool) {
	var (
		near    Stored
		differs []string
		ok      bool
	)
	type field struct {
		name, want string
		weight     int
		got        func(*Stored) string
	}
	var fields []field
	for _, c := range []field{
		{"account", f.Account, 1, func(e *Stored) string { return e.Account }},
		{"region", string(f.Region), 1, func(e *Stored) string { return string(e.Region) }},
		{"identity", f.Identity, 3, func(e *Stored) string { return e.Identity }},
		{"objectId", f.ObjectID, 3, func(e *Stored) string { return e.ObjectID }},
		{"name", f.Name, 2, func(e *Stored) string { return e.Name }},
		{"type", string(f.Type), 1, func(e *Stored) string { return string(e.Kind) }},
	} {
		if c.want != "" {
			fields = append(fields, c)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	best := 0
	s.events.Each(func(e *Stored) bool {
		score, met := 0, 0
		for _, c := range fields {
			if c.got(e) == c.want {
				score, met = score+c.weight, met+1
			}
		}
		if score > 0 && met < len(fields) && score >= best {
			best, near, ok = score, *e, true
		}
		return true
	})
	if ok {
		for _, c := range fields {
			if got := c.got(&near); got != c.want {
				differs = append(differs, fmt.Sprintf("%s: expected %q, got %q", c.name, c.want, got))
			}
		}
	}
	return near.Event, differs, ok
}

// WaitFor blocks until count events match, the context ends or the timeout passes; it returns what matches.
func (s *Store) WaitFor(ctx context.Context, f clevertap.EventFilter, count int,
	timeout time.Duration) ([]clevertap.Event, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		n := 0
		s.events.Each(func(e *Stored) bool {
			if matches(f, e) {
				n++
			}
			return true
		})
		arrived := s.arrived
		s.mu.Unlock()
		if n >= count {
			return s.FindEvents(f), true
		}
		select {
		case <-arrived:
		case <-deadline.C:
			return s.FindEvents(f), false
		case <-ctx.Done():
			return s.FindEvents(f), false
		}
	}
}

func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events.Clear()
	s.clearProfiles()
	s.wake()
}

// Stats are the totals the health route reports.
type Stats struct {
	Events        int    `json:"events"`
	EventsDropped uint64 `json:"events_dropped"`
	Profiles      int    `json:"profiles"`
}

func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Events: s.events.Len(), EventsDropped: s.events.Dropped(), Profiles: len(s.profiles)}
}

// Record is a record that passed validation, with the fields the store indexes.
type Record struct {
	Index    int
	Kind     clevertap.RecordType
	Name     string
	Identity string
	ObjectID string
	TS       int64
	Raw      []byte
	// HasProfileData marks profile records whose profileData the store merges into the profile.
	HasProfileData bool
}
