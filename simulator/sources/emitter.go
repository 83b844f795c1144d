package sources

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/lifecycle"
)

// Emitter plays one vendor: the webhooks it sends for a story or for one event, and how it signs and delivers
// them. Each vendor package has one; package vendors lists them, and callers loop over that list instead of
// switching on a vendor's name.
type Emitter interface {
	// Info is what is fixed about the vendor.
	Info() Info
	// Render turns a story's facts into the webhooks the vendor sends for it, in order; a Skipped error says why
	// it sends nothing.
	Render(facts []lifecycle.Fact, s Story) ([]Webhook, error)
	// Emit builds one webhook of a type by playing the shortest story that produces it.
	Emit(eventType string, in Single) (Webhook, error)
	// Delivery is how the vendor sends with the credential configured in its console: the headers that do not
	// change between attempts, and the policy (success rule, retries, timeout, per-attempt signature). Options
	// are the values of Info's options by name; missing ones take their defaults.
	Delivery(c Credential, options map[string]string) (http.Header, Policy)
	// UserKey is where the vendor's CleverTap integration files the user: "identity" or "objectId", and the id.
	UserKey(u lifecycle.User) (field, id string)
}

// Info is what is fixed about a vendor.
type Info struct {
	// Name is the vendor's name: the relay's path segment (/webhooks/<name>) and the scenarios' key.
	Name string
	// EventTypes are the event types the vendor sends, in its documentation's order.
	EventTypes []string
	// LoadMix is the event types a load cycles through: a plausible production mix.
	LoadMix []string
	// Credential is the name and help of the flag that carries the vendor's credential (`simulator emit`).
	Credential Option
	// Options are the vendor's own knobs for a single event (the other flags of `simulator emit`).
	Options []Option
}

// Option is a knob of a vendor's single event, shown as a flag of `simulator emit`.
type Option struct {
	Name, Usage, Default string
	// Bool options are flags without a value.
	Bool bool
}

// Credential is what a vendor's console holds to prove the webhook is the vendor's: RevenueCat's Authorization
// value, Purchasely's shared secret, AppsFlyer's token; and the header carrying it where the console lets one
// choose (AppsFlyer).
type Credential struct {
	Value  string
	Header string
}

// Single is one event to emit on its own: who, what was bought, when, and the vendor's options by name.
type Single struct {
	User        lifecycle.User
	Store       lifecycle.Store
	Environment lifecycle.Environment
	// Product is zero for the vendor's default product.
	Product lifecycle.Product
	// At is when the story starts (default now).
	At      time.Time
	Options map[string]string
}

// Begin is the preamble every vendor's Emit shares: eventType must be one of the vendor's known types (what
// names them, e.g. "RevenueCat event type", goes in the error), and a zero At becomes now, truncated to the
// precision of the vendor's timestamps.
func (s *Single) Begin(what, eventType string, known []string, precision time.Duration) error {
	if !slices.Contains(known, eventType) {
		return fmt.Errorf("unknown %s %q: expected one of %s", what, eventType, strings.Join(known, ", "))
	}
	if s.At.IsZero() {
		s.At = time.Now().UTC().Truncate(precision)
	}
	return nil
}

// OptionValue is the value of an emitter's named option, or its default.
func OptionValue(e Emitter, options map[string]string, name string) string {
	if v, ok := options[name]; ok {
		return v
	}
	for _, o := range e.Info().Options {
		if o.Name == name {
			return o.Default
		}
	}
	return ""
}

// Story is what a scenario tells an emitter beyond the facts; zero values take the emitter's defaults.
type Story struct {
	// MediaSource and Campaign brought the user; SendInstalls posts the install first (attribution vendors).
	MediaSource  string
	Campaign     string
	SendInstalls bool
}

// Skipped says why a vendor sends nothing for a user (e.g. AppsFlyer without a customer user id).
type Skipped struct {
	Reason string
}

func (s Skipped) Error() string { return s.Reason }
