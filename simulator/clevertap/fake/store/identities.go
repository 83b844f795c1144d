package store

import (
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// Disassociate unlinks an identity from its profile; it says whether the identity named one.
func (s *Store) Disassociate(account, identity string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := profileKey(account, identity)
	id, ok := s.byIdentity[key]
	if !ok {
		return false
	}
	delete(s.byIdentity, key)
	if p := s.profiles[id]; p != nil {
		p.Identity = ""
	}
	return true
}

// SetDND marks or clears a phone number or address as unsubscribed; it returns how many profiles have it.
func (s *Store) SetDND(account, channel, value string, unsubscribed bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if unsubscribed {
		s.unsubscribed[dndKey(account, channel, value)] = true
	} else {
		delete(s.unsubscribed, dndKey(account, channel, value))
	}
	n := 0
	for _, p := range s.profiles {
		if p.Account == account && ((channel == "phone" && Phone(p) == value) ||
			(channel == "email" && Email(p) == value)) {
			n++
		}
	}
	return n
}

// Demerge splits an identity's devices off into anonymous profiles; it returns how many devices it split.
func (s *Store) Demerge(account, identity string, at time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byIdentity[profileKey(account, identity)]
	p := s.profiles[id]
	if !ok || p == nil {
		return 0
	}
	devices := p.ObjectIDs
	p.ObjectIDs = nil
	for _, oid := range devices {
		anon := s.newProfile(account, p.Region, "", at)
		anon.ObjectIDs = []string{oid}
		if dev, ok := p.Devices[oid]; ok {
			anon.Devices[oid] = dev
			delete(p.Devices, oid)
		}
		s.byObjectID[profileKey(account, oid)] = anon.ID
	}
	return len(devices)
}

// ActiveProfiles are copies of the account's profiles with an event received at or after since.
func (s *Store) ActiveProfiles(account string, since time.Time) []clevertap.Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[int64]bool{}
	var out []clevertap.Profile
	s.events.Each(func(e *Stored) bool {
		if e.Account != account || e.Kind != clevertap.TypeEvent || e.ReceivedAt.Before(since) {
			return true
		}
		if p := s.profileOfEvent(e); p != nil && !seen[p.ID] {
			seen[p.ID] = true
			out = append(out, s.copyOf(p))
		}
		return true
	})
	return out
}
