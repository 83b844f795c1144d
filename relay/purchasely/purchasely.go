// Package purchasely is the relay's Purchasely intake: it verifies X-PURCHASELY-REQUEST-SIGNATURE (HMAC-SHA256 over the
// timestamp and the raw body) within a replay window, parses the flat v3 webhook and maps it as Purchasely's console
// integrations do (https://docs.purchasely.com/integrations/clevertap): server events to CleverTap by name with enable
// toggles and overrides, user properties as profile uploads, and events to Piano Analytics' collection API.
//
// The event catalogue is the relay's own, not the simulator's emitter list, so the relay is tested by an
// independent implementation.
package purchasely

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/relay"
	"github.com/valyala/fastjson"
)

// Name is the source's name and path segment.
const Name = "purchasely"

// Header names.
const (
	HeaderSignature           = "X-PURCHASELY-REQUEST-SIGNATURE"
	HeaderTimestamp           = "X-PURCHASELY-TIMESTAMP"
	HeaderDeprecatedSignature = "X-PURCHASELY-SIGNATURE"
)

// Destination names.
const (
	CleverTapDestination = "purchasely/clevertap"
	PianoDestination     = "purchasely/piano"
)

// DefaultReplayWindow bounds how far a signature's timestamp may be from the receiver's clock. Purchasely only
// says "within your tolerance"; five minutes is the common choice (Standard Webhooks uses it).
const DefaultReplayWindow = 5 * time.Minute

// Event groups of Purchasely's catalogue (https://docs.purchasely.com).
var (
	entitlementEvents = []string{"ACTIVATE", "DEACTIVATE", "TRANSACTION_PROCESSED"}
	lifecycleEvents   = []string{"SUBSCRIPTION_STARTED", "RETENTION_MESSAGE_REQUESTED", "RENEWAL_DISABLED",
		"RENEWAL_ENABLED",
		"SUBSCRIPTION_TERMINATED", "FAMILY_SHARED_REVOKED", "GRACE_PERIOD_STARTED", "GRACE_PERIOD_TERMINATED",
		"SUBSCRIPTION_CANCELLED_DURING_GRACE_PERIOD", "SUBSCRIPTION_RECOVERED_FROM_GRACE_PERIOD", "ENTERED_BILLING_RETRY",
		"SUBSCRIPTION_RECOVERED_FROM_BILLING_RETRY", "SUBSCRIPTION_RENEWED", "SUBSCRIPTION_DEFERRED",
		"SUBSCRIPTION_REACTIVATED", "SUBSCRIPTION_CROSSGRADED", "SUBSCRIPTION_DOWNGRADED", "SUBSCRIPTION_UPGRADED",
		"SUBSCRIPTION_REFUNDED_REVOKED", "SUBSCRIPTION_REFUNDED", "SUBSCRIPTION_TRANSFERRED", "SUBSCRIPTION_RECEIVED",
		"ONE_TIME_PURCHASE_TRANSFERRED", "ONE_TIME_PURCHASE_RECEIVED", "SUBSCRIPTION_WILL_PAUSE", "SUBSCRIPTION_PAUSED",
		"SUBSCRIPTION_UNPAUSED", "SUBSCRIPTION_CANCELLED_DURING_PAUSE", "SUBSCRIPTION_WILL_NOT_PAUSE", "INSTALLMENT_PAID",
		"INSTALLMENT_REFUNDED", "SUBSCRIPTION_EXPIRED", "PURCHASE_VALIDATED"}
	offerEvents = []string{"TRIAL_STARTED", "TRIAL_CONVERTED", "TRIAL_NOT_CONVERTED", "INTRO_OFFER_STARTED",
		"INTRO_OFFER_CONVERTED", "INTRO_OFFER_NOT_CONVERTED", "PROMO_CODE_STARTED", "PROMO_CODE_CONVERTED",
		"PROMO_CODE_NOT_CONVERTED", "PROMOTIONAL_OFFER_STARTED", "PROMOTIONAL_OFFER_CONVERTED",
		"PROMOTIONAL_OFFER_NOT_CONVERTED"}
)

// Events is every event name the relay knows.
var Events = slices.Concat(entitlementEvents, lifecycleEvents, offerEvents)

// HeadlineEvents are the events Purchasely's CleverTap and Piano pages list; the default enabled set.
var HeadlineEvents = []string{"SUBSCRIPTION_STARTED", "SUBSCRIPTION_RENEWED", "SUBSCRIPTION_EXPIRED",
	"SUBSCRIPTION_REACTIVATED",
	"SUBSCRIPTION_REFUNDED_REVOKED", "RENEWAL_DISABLED", "RENEWAL_ENABLED", "TRIAL_STARTED", "TRIAL_CONVERTED",
	"TRIAL_NOT_CONVERTED"}

// UserProperties are the properties the "User Properties" tab sends (Purchasely's draft list, UNCONFIRMED).
var UserProperties = []string{"anonymous_user_id", "user_id", "has_active_subscription", "environment", "store",
	"product",
	"plan", "subscription_status", "offer_type", "is_family_shared", "content_id", "original_purchased_at",
	"effective_next_renewal_at", "purchased_at", "store_country", "store_product_id"}

// Settings mirror Purchasely's webhook settings and its CleverTap and Piano integration pages.
type Settings struct {
	// Secret is the "Client shared secret"; empty skips verification (Purchasely makes it optional).
	Secret string `yaml:"secret"`
	// ReplayWindow bounds |now - X-PURCHASELY-TIMESTAMP|; default 5m, 0 turns the check off.
	ReplayWindow *time.Duration `yaml:"replay_window"`
	// AcceptDeprecatedSignature accepts X-PURCHASELY-SIGNATURE (which does not cover the body) when the current
	// header is absent.
	AcceptDeprecatedSignature bool       `yaml:"accept_deprecated_signature"`
	CleverTap                 *CleverTap `yaml:"clevertap"`
	Piano                     *Piano     `yaml:"piano"`
}

// CleverTap is the CleverTap integration's tabs.
type CleverTap struct {
	relay.CleverTapAccount `yaml:",inline"`
	// Events are the enabled server events (default: the headline ten).
	Events []string `yaml:"events"`
	// EventNames overrides the names sent (default: Purchasely's event name).
	EventNames map[string]string `yaml:"event_names"`
	// IDAttribute is the webhook attribute carrying the CleverTap ID (default integration_clevertap_id; where
	// Purchasely puts it in webhooks is UNCONFIRMED).
	IDAttribute    string                `yaml:"id_attribute"`
	UserProperties UserPropertiesSetting `yaml:"user_properties"`
}

// UserPropertiesSetting is the "User Properties" tab.
type UserPropertiesSetting struct {
	Enabled bool              `yaml:"enabled"`
	Names   map[string]string `yaml:"names"`
}

// Piano is the Piano Analytics (AT Internet) integration.
type Piano struct {
	CollectDomain string            `yaml:"collect_domain"`
	CollectPath   string            `yaml:"collect_path"`
	SiteID        string            `yaml:"site_id"`
	Events        []string          `yaml:"events"`
	EventNames    map[string]string `yaml:"event_names"`
	// IDAttribute carries the AT Internet client id (default integration_at_internet_id_client).
	IDAttribute string `yaml:"id_attribute"`
	// DeclaredEvents, when set, is the site's data model: the relay reports events Piano will ignore.
	DeclaredEvents []string `yaml:"declared_events"`
}

// Intake is a configured Purchasely source.
type Intake struct {
	s             Settings
	warnings      []string
	window        time.Duration
	ctEvents      map[string]string // enabled event → name
	pianoEvents   map[string]string
	propertyNames map[string]string
}

// New validates the settings, naming the first wrong key under prefix.
func New(prefix string, s Settings) (*Intake, error) {
	in := &Intake{s: s, window: DefaultReplayWindow}
	if s.ReplayWindow != nil {
		if *s.ReplayWindow < 0 {
			return nil, fmt.Errorf("%s.replay_window: expected a duration ≥ 0 such as 5m (0 turns the check off), got %s",
				prefix, *s.ReplayWindow)
		}
		in.window = *s.ReplayWindow
	}
	if s.CleverTap == nil && s.Piano == nil {
		return nil, fmt.Errorf("%s: expected a clevertap or piano integration, got neither", prefix)
	}
	if ct := s.CleverTap; ct != nil {
		acct, err := ct.CleverTapAccount.Validate(prefix + ".clevertap")
		if err != nil {
			return nil, err
		}
		ct.CleverTapAccount = acct
		if in.ctEvents, err = enabledEvents(prefix+".clevertap", ct.Events, ct.EventNames); err != nil {
			return nil, err
		}
		if ct.IDAttribute == "" {
			ct.IDAttribute = "integration_clevertap_id"
		}
		in.propertyNames = map[string]string{}
		for _, p := range UserProperties {
			in.propertyNames[p] = p
		}
		for k, v := range ct.UserProperties.Names {
			if !slices.Contains(UserProperties, k) {
				return nil, fmt.Errorf("%s.clevertap.user_properties.names.%s: no such user property; expected one of %s", prefix,
					k, strings.Join(UserProperties, ", "))
			}
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("%s.clevertap.user_properties.names.%s: expected a property name, got nothing", prefix, k)
			}
			in.propertyNames[k] = v
		}
	}
	if p := s.Piano; p != nil {
		if strings.TrimSpace(p.CollectDomain) == "" || strings.ContainsAny(p.CollectDomain, "/:") {
			return nil,
				fmt.Errorf("%s.piano.collect_domain: expected the SSL collect server, such as xxxxxxxx.pa-cd.com, got %q", prefix,
					p.CollectDomain)
		}
		if strings.Trim(p.CollectPath, "/") == "" {
			return nil, fmt.Errorf("%s.piano.collect_path: expected a non-empty path such as event or subscription, got %q",
				prefix, p.CollectPath)
		}
		if _, err := strconv.ParseUint(p.SiteID, 10, 64); err != nil {
			return nil, fmt.Errorf("%s.piano.site_id: expected the numeric site id, got %q", prefix, p.SiteID)
		}
		var err error
		if in.pianoEvents, err = enabledEvents(prefix+".piano", p.Events, p.EventNames); err != nil {
			return nil, err
		}
		if p.IDAttribute == "" {
			p.IDAttribute = "integration_at_internet_id_client"
		}
	}
	if s.Secret == "" {
		in.warnings = append(in.warnings, prefix+".secret is empty: signatures are not checked")
	}
	if s.AcceptDeprecatedSignature && s.Secret != "" {
		in.warnings = append(in.warnings, prefix+".accept_deprecated_signature is on: the deprecated "+
			HeaderDeprecatedSignature+" signs the timestamp only, not the body, so one captured signature signs any "+
			"body within the replay window; turn it off once Purchasely sends "+HeaderSignature)
	}
	return in, nil
}

// Build implements relay.Settings.
func (s Settings) Build(prefix string) (relay.Source, error) { return New(prefix, s) }

// Secrets implements relay.Settings.
func (s Settings) Secrets() []string {
	out := []string{s.Secret}
	if s.CleverTap != nil {
		out = append(out, s.CleverTap.Passcode)
	}
	return out
}

// Credential implements relay.Source: the shared secret webhooks are signed with.
func (in *Intake) Credential() relay.Credential { return relay.Credential{Value: in.s.Secret} }

// EventNames implements relay.Source: every Purchasely event and the configured names.
func (in *Intake) EventNames() []string {
	out := slices.Clone(Events)
	if ct := in.s.CleverTap; ct != nil {
		for _, v := range ct.EventNames {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Account implements relay.Source.
func (in *Intake) Account(bool) string {
	if ct := in.s.CleverTap; ct != nil {
		return ct.AccountID
	}
	return ""
}

// Warnings implements relay.Source.
func (in *Intake) Warnings() []string { return in.warnings }

// enabledEvents checks the toggles and overrides against the catalogue.
func enabledEvents(prefix string, enabled []string, names map[string]string) (map[string]string, error) {
	if enabled == nil {
		enabled = HeadlineEvents
	}
	out := map[string]string{}
	for i, e := range enabled {
		if !slices.Contains(Events, e) {
			return nil, fmt.Errorf("%s.events[%d]: no such Purchasely event %q; expected one of %s", prefix, i, e,
				strings.Join(Events, ", "))
		}
		out[e] = e
	}
	for k, v := range names {
		if !slices.Contains(Events, k) {
			return nil, fmt.Errorf("%s.event_names.%s: no such Purchasely event; expected one of %s", prefix, k,
				strings.Join(Events, ", "))
		}
		if _, on := out[k]; !on {
			return nil, fmt.Errorf("%s.event_names.%s: the event is not enabled; add it to %s.events", prefix, k, prefix)
		}
		if strings.TrimSpace(v) == "" {
			return nil,
				fmt.Errorf("%s.event_names.%s: expected a name, got nothing (remove the event from %s.events to disable it)",
					prefix, k, prefix)
		}
		out[k] = v
	}
	return out, nil
}

// Name implements relay.Source.
func (in *Intake) Name() string { return Name }

// Methods implements relay.Source.
func (in *Intake) Methods() []string { return []string{http.MethodPost} }

// Destinations implements relay.Source.
func (in *Intake) Destinations() map[string]relay.Endpoint {
	out := map[string]relay.Endpoint{}
	if ct := in.s.CleverTap; ct != nil {
		out[CleverTapDestination] = ct.Endpoint()
	}
	if p := in.s.Piano; p != nil {
		out[PianoDestination] = relay.Endpoint{Kind: relay.KindPiano, Domain: p.CollectDomain,
			Path: strings.Trim(p.CollectPath, "/"), SiteID: p.SiteID}
	}
	return out
}

// Signature is the current header's value: hex HMAC-SHA256(secret, timestamp + raw body).
func Signature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// DeprecatedSignature is the old header's value: hex HMAC-SHA256(secret, secret + timestamp).
func DeprecatedSignature(secret, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(secret))
	mac.Write([]byte(timestamp))
	return hex.EncodeToString(mac.Sum(nil))
}

// Verify checks the signature and the timestamp window.
func (in *Intake) Verify(r relay.Request) error {
	return VerifySignature(in.s.Secret, in.window, in.s.AcceptDeprecatedSignature, r)
}

// VerifyHeader implements relay.HeaderVerifier: with a shared secret, a request without the timestamp and a
// signature it could verify is refused before its body is read (the signature itself covers the body).
func (in *Intake) VerifyHeader(h http.Header) error {
	if in.s.Secret == "" {
		return nil
	}
	for _, name := range []string{HeaderTimestamp, HeaderSignature, HeaderDeprecatedSignature} {
		if n := len(h.Values(name)); n > 1 {
			return relay.BadRequest("expected one %s header, got %d: an ambiguous signature is refused", name, n)
		}
	}
	if h.Get(HeaderTimestamp) == "" {
		return relay.Unauthorized("expected %s (unix seconds) with the signature, got none", HeaderTimestamp)
	}
	switch {
	case h.Get(HeaderSignature) != "":
	case h.Get(HeaderDeprecatedSignature) != "" && in.s.AcceptDeprecatedSignature:
	case h.Get(HeaderDeprecatedSignature) != "":
		return relay.Unauthorized("expected %s; only the deprecated %s came, which this relay is not configured to "+
			"accept", HeaderSignature, HeaderDeprecatedSignature)
	default:
		return relay.Unauthorized("expected %s (hex HMAC-SHA256 of timestamp + body with the shared secret), got none",
			HeaderSignature)
	}
	return nil
}

// VerifySignature is the check on its own, for fuzzing and for other receivers.
func VerifySignature(secret string, window time.Duration, acceptDeprecated bool, r relay.Request) error {
	if secret == "" {
		return nil
	}
	ts := r.Header.Get(HeaderTimestamp)
	if ts == "" {
		return relay.Unauthorized("expected %s (unix seconds) with the signature, got none", HeaderTimestamp)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return relay.Unauthorized("%s: expected unix seconds, got %q", HeaderTimestamp, clip.Text(ts, 40))
	}
	got := strings.ToLower(r.Header.Get(HeaderSignature))
	want := ""
	header := HeaderSignature
	switch {
	case got != "":
		want = Signature(secret, ts, r.Body)
	case acceptDeprecated && r.Header.Get(HeaderDeprecatedSignature) != "":
		header, got = HeaderDeprecatedSignature, strings.ToLower(r.Header.Get(HeaderDeprecatedSignature))
		want = DeprecatedSignature(secret, ts)
	case r.Header.Get(HeaderDeprecatedSignature) != "":
		return relay.Unauthorized("expected %s; only the deprecated %s came, which this relay is not configured to accept",
			HeaderSignature, HeaderDeprecatedSignature)
	default:
		return relay.Unauthorized("expected %s (hex HMAC-SHA256 of timestamp + body with the shared secret), got none",
			HeaderSignature)
	}
	if !hmac.Equal([]byte(got), []byte(want)) {
		return relay.Unauthorized(
			"%s does not match: expected HMAC-SHA256 with the configured shared secret over %s + the raw body", header,
			HeaderTimestamp)
	}
	if window > 0 {
		age := r.Now.Sub(time.Unix(sec, 0))
		if age > window || age < -window {
			return relay.Unauthorized("%s %s is %s from this relay's clock; the replay window is %s", HeaderTimestamp, ts,
				age.Round(time.Second), window)
		}
	}
	return nil
}

// Map implements relay.Source: it reads the body the intake already parsed.
func (in *Intake) Map(r relay.Request) (relay.Mapped, error) {
	doc, done, err := r.Parse()
	defer done()
	if err != nil || doc.Type() != fastjson.TypeObject {
		if err == nil {
			err = fmt.Errorf("a JSON %s", doc.Type())
		}
		return relay.Mapped{},
			relay.BadRequest(
				"expected a Purchasely v3 webhook (a flat JSON object with event_name and event_id), got invalid JSON: %v", err)
	}
	body := webhook{doc}
	name, id := body.str("event_name"), body.str("event_id")
	if name == "" || id == "" {
		return relay.Mapped{}, relay.BadRequest("expected event_name and event_id strings, got event_name %s and event_id %s",
			body.describe("event_name"), body.describe("event_id"))
	}
	m := relay.Mapped{Source: Name, EventID: id, EventType: name}
	if !slices.Contains(Events, name) {
		return m, relay.Skipped("%s: unknown Purchasely event, acknowledged and skipped", name)
	}
	ts, _ := body.number("event_created_at_ms")
	if ct := in.s.CleverTap; ct != nil {
		in.mapCleverTap(&m, ct, body, name, int64(ts)/1000)
	}
	if p := in.s.Piano; p != nil {
		in.mapPiano(&m, p, body, name)
	}
	if len(m.Messages) == 0 {
		return m, relay.Skipped("%s: nothing to send (%s)", name, strings.Join(m.Notes, "; "))
	}
	return m, nil
}

// webhook reads a parsed Purchasely webhook's flat attributes.
type webhook struct{ obj *fastjson.Value }

// str is a string attribute ("" when missing or not a string).
func (w webhook) str(key string) string {
	v := w.obj.Get(key)
	if v == nil || v.Type() != fastjson.TypeString {
		return ""
	}
	return string(v.GetStringBytes())
}

// number is a numeric attribute.
func (w webhook) number(key string) (float64, bool) {
	v := w.obj.Get(key)
	if v == nil || v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	f, err := v.Float64()
	return f, err == nil
}

// scalar is a non-empty string, a boolean or a number.
func (w webhook) scalar(key string) (any, bool) {
	v := w.obj.Get(key)
	if v == nil {
		return nil, false
	}
	switch v.Type() {
	case fastjson.TypeString:
		s := string(v.GetStringBytes())
		return s, s != ""
	case fastjson.TypeTrue:
		return true, true
	case fastjson.TypeFalse:
		return false, true
	case fastjson.TypeNumber:
		f, err := v.Float64()
		return f, err == nil
	}
	return nil, false
}

// describe shows what arrived for a key, for an error message.
func (w webhook) describe(key string) string {
	v := w.obj.Get(key)
	if v == nil {
		return "missing"
	}
	return clip.Text(v.String(), 40)
}

func (in *Intake) mapCleverTap(m *relay.Mapped, ct *CleverTap, body webhook, name string, ts int64) {
	evtName, enabled := in.ctEvents[name]
	profile := ct.UserProperties.Enabled && slices.Contains(lifecycleEvents, name)
	if !enabled && !profile {
		m.Notes = append(m.Notes, "CleverTap: "+name+" is not enabled")
		return
	}
	objectID := body.str(ct.IDAttribute)
	if objectID == "" {
		m.Notes = append(m.Notes,
			fmt.Sprintf("CleverTap: no CleverTap ID (%s) on the event; the app must call Purchasely.setAttribute(.clevertapId)",
				ct.IDAttribute))
		return
	}
	if enabled {
		record := map[string]any{"type": "event", "evtName": evtName, "objectId": objectID, "evtData": eventProperties(body)}
		if ts > 0 {
			record["ts"] = ts
		}
		m.Messages = append(m.Messages, relay.Message{Destination: CleverTapDestination, Kind: relay.KindUpload,
			Payload: relay.Record(record)})
	}
	if profile {
		record := map[string]any{"type": "profile", "objectId": objectID, "profileData": in.userProperties(body)}
		if ts > 0 {
			record["ts"] = ts
		}
		m.Messages = append(m.Messages, relay.Message{Destination: CleverTapDestination, Kind: relay.KindUpload,
			Payload: relay.Record(record)})
	}
}

func (in *Intake) mapPiano(m *relay.Mapped, p *Piano, body webhook, name string) {
	eventName, enabled := in.pianoEvents[name]
	if !enabled {
		m.Notes = append(m.Notes, "Piano: "+name+" is not enabled")
		return
	}
	idclient := body.str(p.IDAttribute)
	if idclient == "" {
		m.Notes = append(m.Notes,
			fmt.Sprintf(
				"Piano: no AT Internet client id (%s) on the event; the app must call Purchasely.setAttribute(.atInternetIdClient)",
				p.IDAttribute))
		return
	}
	if len(p.DeclaredEvents) > 0 && !slices.Contains(p.DeclaredEvents, eventName) {
		m.Notes = append(m.Notes, fmt.Sprintf("Piano: %q is not declared in site %s's data model, so Piano will ignore it",
			eventName, p.SiteID))
	}
	payload := relay.Record(map[string]any{"name": eventName, "data": eventProperties(body)})
	m.Messages = append(m.Messages, relay.Message{Destination: PianoDestination, Kind: relay.KindPiano, Group: idclient,
		Payload: payload})
}

// eventKeys are the webhook attributes sent with an event, under their own names.
var eventKeys = []string{"user_id", "anonymous_user_id", "product", "plan", "store", "store_country",
	"store_product_id",
	"environment", "purchase_type", "offer_type", "subscription_status", "previous_plan", "source_event_name"}

// eventProperties are the event's properties: the attributes above, plus price (plan price), amount (the
// transaction amount, TRANSACTION_PROCESSED only) and currency, in the customer's currency.
func eventProperties(body webhook) map[string]any {
	out := map[string]any{}
	for _, k := range eventKeys {
		if v, ok := body.scalar(k); ok {
			out[k] = v
		}
	}
	if v, ok := body.number("plan_price_in_customer_currency"); ok {
		out["price"] = v
	}
	if v, ok := body.number("amount_in_customer_currency"); ok {
		out["amount"] = v
	}
	if v := body.str("customer_currency"); v != "" {
		out["currency"] = v
	}
	return out
}

// userProperties are the profile properties; dates in CleverTap's "$D_<seconds>" form.
func (in *Intake) userProperties(body webhook) map[string]any {
	out := map[string]any{}
	put := func(k string, v any) { out[in.propertyNames[k]] = v }
	for _, k := range UserProperties {
		switch k {
		case "has_active_subscription":
			status := body.str("subscription_status")
			put(k, slices.Contains([]string{"AUTO_RENEWING", "AUTO_RENEWING_CANCELED", "IN_GRACE_PERIOD"}, status))
		case "original_purchased_at", "effective_next_renewal_at", "purchased_at":
			if ms, ok := body.number(k + "_ms"); ok {
				put(k, fmt.Sprintf("$D_%d", int64(ms)/1000))
			}
		default:
			if v, ok := body.scalar(k); ok {
				put(k, v)
			}
		}
	}
	return out
}
