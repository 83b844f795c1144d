package clevertap

import (
	"encoding/json"
	"time"
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

// EventSummary is what a profile knows of one event name, by the events' own times (their ts, else arrival).
type EventSummary struct {
	Count     int       `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Device is what a profile knows of one of its objectIds: the platform and, once a token arrived, the push token.
type Device struct {
	Platform  string `json:"platform"`
	PushToken string `json:"push_token,omitempty"`
}

// Profile is built from profile uploads and from identities seen in events.
type Profile struct {
	// ID is the profile's number, as CleverTap's Get Events records carry one ("id").
	ID          int64                   `json:"id"`
	Account     string                  `json:"account"`
	Region      Region                  `json:"region"`
	Identity    string                  `json:"identity,omitempty"`
	ObjectIDs   []string                `json:"objectIds,omitempty"`
	ProfileData map[string]any          `json:"profileData"`
	Events      map[string]EventSummary `json:"events"`
	Devices     map[string]Device       `json:"devices,omitempty"`
	Tokens      []json.RawMessage       `json:"tokens,omitempty"`
	// DND lists the channels (phone, email) /1/subscribe marked unsubscribed for this profile's number or address.
	DND       []string  `json:"dnd,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ProfileQuery finds profiles by one identifier; Account is required for lookups through the API.
type ProfileQuery struct {
	Account  string
	Identity string
	Email    string
	ObjectID string
}
