// Package relay holds the relay's domain: what a vendor webhook becomes (messages for named destinations), where
// those destinations are (CleverTap accounts by region, Piano sites), and the errors intake answers with. The
// vendor parsers and mappings (relay/revenuecat, relay/purchasely, relay/appsflyer), the durable outbox
// (relay/outbox), delivery (relay/delivery) and the HTTP service (relay/service) are built around these types.
package relay

import (
	"crypto/subtle"

	"github.com/valyala/fastjson"

	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Kind is how a message is delivered.
type Kind string

const (
	// KindUpload is one record of a CleverTap POST /1/upload body; up to 1000 are batched per request.
	KindUpload Kind = "clevertap-upload"
	// KindAttribution is one call of CleverTap's attribution-partner endpoint (no batching there).
	KindAttribution Kind = "clevertap-attribution"
	// KindPiano is one event of a Piano Analytics collection request; events of one visitor are batched.
	KindPiano Kind = "piano"
)

// Message is one thing to deliver, as a mapping produces it.
type Message struct {
	// Destination names the configured destination, e.g. "revenuecat/clevertap" or
	// "revenuecat/clevertap-sandbox"; credentials are looked up when the message is sent, so a dead letter
	// retried after the config was fixed goes out with the fixed credentials.
	Destination string `json:"destination"`
	Kind        Kind   `json:"kind"`
	// Group keeps apart messages that cannot share a request (Piano: the visitor id).
	Group string `json:"group,omitempty"`
	// Payload is the upload record, the Piano event {"name","data"}, or the attribution parameters as a JSON
	// object of strings (credentials are added when sent).
	Payload json.RawMessage `json:"payload"`
}

// Mapped is what one accepted webhook becomes.
type Mapped struct {
	Source    string
	EventID   string
	EventType string
	Messages  []Message
	// Notes are things a human should know (an event Piano will ignore, a disabled event); they go in the answer
	// to the webhook and in the logs.
	Notes []string
}

// Request is a webhook as it arrived.
type Request struct {
	Method string
	Header http.Header
	Query  url.Values
	Body   []byte
	// Doc is Body already parsed and checked by the intake (nil for a GET), valid until Map returns: a source may
	// read it instead of parsing the body again.
	Doc *fastjson.Value
	// Now is the receiver's time, for signature windows.
	Now time.Time
}

// parsers parse webhook bodies for Parse (the intake's own parse comes with the request).
var parsers fastjson.ParserPool

// Parse gives the request's parsed body: Doc, which the intake parsed and checked, or for a request built by hand
// (tests, fuzzers) a parse of Body. Call done when the value is no longer read.
func (r Request) Parse() (doc *fastjson.Value, done func(), err error) {
	if r.Doc != nil {
		return r.Doc, func() {}, nil
	}
	p := parsers.Get()
	if doc, err = p.ParseBytes(r.Body); err != nil {
		parsers.Put(p)
		return nil, func() {}, err
	}
	return doc, func() { parsers.Put(p) }, nil
}

// CheckHeader compares a credential sent in a header with the configured value, in constant time; missing and
// wrong say what to answer. Sent twice it is refused as ambiguous (400): a proxy and the relay could each read a
// different one.
func CheckHeader(h http.Header, name, want, missing, wrong string) error {
	values := h.Values(name)
	if len(values) > 1 {
		return BadRequest("expected one %s header, got %d: an ambiguous credential is refused", name, len(values))
	}
	if want == "" {
		return nil
	}
	if len(values) == 0 || values[0] == "" {
		return Unauthorized("%s", missing)
	}
	if subtle.ConstantTimeCompare([]byte(values[0]), []byte(want)) != 1 {
		return Unauthorized("%s", wrong)
	}
	return nil
}

// Error is an answer to a webhook that is not 200: the status and a message that names what was expected and
// what arrived.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unauthorized is a 401 for a missing or wrong credential.
func Unauthorized(format string, args ...any) *Error {
	return &Error{Status: http.StatusUnauthorized, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 for a body that is not what the vendor sends.
func BadRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// Skip says why a well-formed webhook produces nothing (unknown type, disabled event, sandbox without a sandbox
// account, no identity); it is acknowledged with 200 so the vendor does not retry.
type Skip struct {
	Reason string
}

func (s *Skip) Error() string { return s.Reason }

// Skipped builds a Skip.
func Skipped(format string, args ...any) *Skip { return &Skip{Reason: fmt.Sprintf(format, args...)} }

// Source is one vendor's intake: it checks the request's credentials and maps its body.
type Source interface {
	// Name is the path segment: /webhooks/<name>.
	Name() string
	// Methods are the HTTP methods the vendor uses.
	Methods() []string
	// Verify checks the credentials; it returns an *Error (401) when they are wrong.
	Verify(r Request) error
	// Map parses and maps the request: an *Error (400) for malformed input, a *Skip for nothing to send.
	Map(r Request) (Mapped, error)
	// Destinations are the endpoints the mapping may name.
	Destinations() map[string]Endpoint
	// Credential is what the vendor must send (for emitters and tests that play the vendor).
	Credential() Credential
	// EventNames are the CleverTap event names the mapping can produce with these settings.
	EventNames() []string
	// Account is the CleverTap account a webhook's records go to, for sandbox or production events ("" for
	// none).
	Account(sandbox bool) string
	// Warnings are legal settings a user may not mean (an empty credential, say).
	Warnings() []string
}

// HeaderVerifier is a source whose credential travels in the headers (or that can tell from them that it is
// missing): the intake checks it before it reads the body, so a stranger costs no body read.
type HeaderVerifier interface {
	VerifyHeader(h http.Header) error
}

// Settings are one vendor's console settings as the config file holds them (relay/config's Sources has one
// field per vendor: that struct is the relay's registry of vendors).
type Settings interface {
	// Build validates the settings, naming the first wrong key under prefix, and makes the source.
	Build(prefix string) (Source, error)
	// Secrets are every credential in the settings, for tests that check logs never contain one.
	Secrets() []string
}

// Credential is what a vendor's console holds to prove a webhook is the vendor's: RevenueCat's Authorization
// value, Purchasely's shared secret, AppsFlyer's token; Header is the header carrying it where one can choose.
type Credential struct {
	Value  string
	Header string
}

// Endpoint is where a destination's messages go.
type Endpoint struct {
	Kind Kind `json:"kind"`
	// Region is the CleverTap region (eu1, in1, sg1, us1, aps3, mec1, sk1).
	Region    string `json:"region,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	Passcode  string `json:"-"`
	Token     string `json:"-"`
	// Piano: collection domain, collect path and site id.
	Domain string `json:"domain,omitempty"`
	Path   string `json:"path,omitempty"`
	SiteID string `json:"site_id,omitempty"`
}

// AccountKey identifies the CleverTap account (or Piano site) an endpoint uses, for per-account concurrency.
func (e Endpoint) AccountKey() string {
	if e.Kind == KindPiano {
		return "piano/" + e.Domain + "/" + e.SiteID
	}
	return e.Region + "/" + e.AccountID
}

// Regions are CleverTap's data centres, as host prefixes.
var Regions = []string{"eu1", "in1", "sg1", "us1", "aps3", "mec1", "sk1"}

// ParseRegion accepts a region code in any case ("eu1", "EU1") and names the valid ones when it is wrong.
func ParseRegion(key, value string) (string, error) {
	r := strings.ToLower(strings.TrimSpace(value))
	if slices.Contains(Regions, r) {
		return r, nil
	}
	hint := ""
	if r == "eu" || r == "in" || r == "sg" || r == "us" {
		hint = fmt.Sprintf(" (write %s1: the consoles take the data centre, not the country)", strings.ToUpper(r))
	}
	return "", fmt.Errorf("%s: expected one of %s, got %q%s", key, strings.Join(Regions, ", "), value, hint)
}

// CleverTapAccount is the account part of a console's CleverTap settings.
type CleverTapAccount struct {
	Region    string `yaml:"region" json:"region"`
	AccountID string `yaml:"account_id" json:"account_id"`
	Passcode  string `yaml:"passcode" json:"-"`
}

// Validate names the first missing or wrong key under prefix.
func (a CleverTapAccount) Validate(prefix string) (CleverTapAccount, error) {
	region, err := ParseRegion(prefix+".region", a.Region)
	if err != nil {
		return a, err
	}
	a.Region = region
	if strings.TrimSpace(a.AccountID) == "" {
		return a, fmt.Errorf("%s.account_id: expected the CleverTap account id (Settings › Project), got nothing", prefix)
	}
	if strings.TrimSpace(a.Passcode) == "" {
		return a, fmt.Errorf("%s.passcode: expected the passcode of account %s, got nothing", prefix, a.AccountID)
	}
	return a, nil
}

// Endpoint is the upload endpoint of the account.
func (a CleverTapAccount) Endpoint() Endpoint {
	return Endpoint{Kind: KindUpload, Region: a.Region, AccountID: a.AccountID, Passcode: a.Passcode}
}

// EventNames resolves console event names: a default per event, an override map where "" disables an event,
// and an error naming the key for an override of an event that does not exist.
func EventNames(prefix string, defaults map[string]string, overrides map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range overrides {
		if _, ok := defaults[k]; !ok {
			return nil, fmt.Errorf("%s.%s: no such event; expected one of %s", prefix, k, strings.Join(sortedKeys(defaults),
				", "))
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
