// Package appsflyer is the relay's AppsFlyer intake: it checks the token AppsFlyer sends with each message, reads the
// Push API shaped message (POST JSON or GET query; the real partner postback format is private,
// https://support.appsflyer.com/hc/en-us/articles/360001299165) and maps it as AppsFlyer's CleverTap partner
// integration does: installs and mapped in-app events to CleverTap's attribution-partner endpoint with the account id,
// token and passcode, the region as typed in AppsFlyer (uppercase; lowercase falls back to EU1, exactly as AppsFlyer's
// page says), nothing without a customer user id or from a restricted media source, and the send-revenue option per
// event.
package appsflyer

import (
	"encoding/json"
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
const Name = "appsflyer"

// Destination is the only destination.
const Destination = "appsflyer/clevertap"

// Send-revenue options of an in-app event postback.
const (
	NoValuesNoRevenue = "none"
	ValuesNoRevenue   = "values"
	ValuesAndRevenue  = "values_and_revenue"
)

// Install postback choices.
const (
	InstallsAll        = "all" // "All media sources, including organic"
	InstallsNonOrganic = "non_organic"
	InstallsNone       = "none"
)

// DefaultRestrictedMediaSources forbid sharing their data with third parties; configurable.
var DefaultRestrictedMediaSources = []string{"Facebook Ads", "Twitter", "snapchat_int", "googleadwords_int"}

// DefaultInAppEvents map the standard subscription events to themselves with values and revenue.
var DefaultInAppEvents = map[string]InAppEvent{
	"af_start_trial": {SendRevenue: ValuesAndRevenue},
	"af_subscribe":   {SendRevenue: ValuesAndRevenue},
	"af_purchase":    {SendRevenue: ValuesAndRevenue},
}

// regionCodes are the values AppsFlyer's Region field takes; aps3 is "ID" there (Indonesia).
var regionCodes = map[string]string{"EU1": "eu1", "IN1": "in1", "SG1": "sg1", "US1": "us1", "ID": "aps3",
	"APS3": "aps3", "MEC1": "mec1", "SK1": "sk1"}

// Settings mirror AppsFlyer's CleverTap partner page and the Push API token.
type Settings struct {
	// Token is the authentication token sent with every message, under TokenHeader (default Authorization).
	Token       string    `yaml:"token"`
	TokenHeader string    `yaml:"token_header"`
	CleverTap   CleverTap `yaml:"clevertap"`
}

// CleverTap is the partner integration.
type CleverTap struct {
	// Region as typed in AppsFlyer: EU1, IN1, SG1, US1, ID (aps3), MEC1, SK1. Case-sensitive: lowercase sends
	// the postback to EU1.
	Region          string `yaml:"region"`
	AccountID       string `yaml:"account_id"`
	AccountToken    string `yaml:"account_token"`
	AccountPasscode string `yaml:"account_passcode"`
	// PartnerName is sent as partner_name (default AppsFlyer).
	PartnerName string `yaml:"partner_name"`
	// Installs is all (default), non_organic or none.
	Installs string `yaml:"installs"`
	// InAppEvents maps SDK event names to their postback; nil uses DefaultInAppEvents.
	InAppEvents            map[string]InAppEvent `yaml:"in_app_events"`
	RestrictedMediaSources []string              `yaml:"restricted_media_sources"`
}

// InAppEvent is one row of "In-app events settings".
type InAppEvent struct {
	// PartnerEvent is the name CleverTap receives (default: the SDK event name).
	PartnerEvent string `yaml:"partner_event"`
	// SendRevenue is none, values or values_and_revenue (default).
	SendRevenue string `yaml:"send_revenue"`
}

// Intake is a configured AppsFlyer source.
type Intake struct {
	s      Settings
	region string
	// warnings are things the config does that a user may not mean (a lowercase region).
	warnings []string
}

// New validates the settings, naming the first wrong key under prefix.
func New(prefix string, s Settings) (*Intake, error) {
	in := &Intake{s: s}
	ct := &in.s.CleverTap
	switch r := strings.TrimSpace(ct.Region); {
	case r == "":
		in.region = "eu1"
	case r != strings.ToUpper(r):
		in.region = "eu1"
		in.warnings = append(in.warnings,
			fmt.Sprintf(
				"%s.clevertap.region: %q has lowercase letters; AppsFlyer then sends postbacks to the default server, EU1",
				prefix, r))
	default:
		code, ok := regionCodes[r]
		if !ok {
			return nil, fmt.Errorf("%s.clevertap.region: expected one of EU1, IN1, SG1, US1, ID, MEC1, SK1 (uppercase), got %q",
				prefix, r)
		}
		in.region = code
	}
	if ct.AccountID == "" && ct.AccountToken == "" && ct.AccountPasscode == "" {
		return nil,
			fmt.Errorf(
				"%s.clevertap: expected at least one of account_token, account_passcode, account_id (AppsFlyer sends nothing "+
					"otherwise), got none", prefix)
	}
	if ct.PartnerName == "" {
		ct.PartnerName = "AppsFlyer"
	}
	switch ct.Installs {
	case "":
		ct.Installs = InstallsAll
	case InstallsAll, InstallsNonOrganic, InstallsNone:
	default:
		return nil, fmt.Errorf("%s.clevertap.installs: expected %s, %s or %s, got %q", prefix, InstallsAll,
			InstallsNonOrganic, InstallsNone, ct.Installs)
	}
	if ct.InAppEvents == nil {
		ct.InAppEvents = DefaultInAppEvents
	}
	events := map[string]InAppEvent{}
	for name, e := range ct.InAppEvents {
		if strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("%s.clevertap.in_app_events: expected SDK event names as keys, got an empty one", prefix)
		}
		switch e.SendRevenue {
		case "":
			e.SendRevenue = ValuesAndRevenue
		case NoValuesNoRevenue, ValuesNoRevenue, ValuesAndRevenue:
		default:
			return nil, fmt.Errorf("%s.clevertap.in_app_events.%s.send_revenue: expected %s, %s or %s, got %q", prefix, name,
				NoValuesNoRevenue, ValuesNoRevenue, ValuesAndRevenue, e.SendRevenue)
		}
		if e.PartnerEvent == "" {
			e.PartnerEvent = name
		}
		events[name] = e
	}
	ct.InAppEvents = events
	if ct.RestrictedMediaSources == nil {
		ct.RestrictedMediaSources = DefaultRestrictedMediaSources
	}
	if in.s.TokenHeader == "" {
		in.s.TokenHeader = "Authorization"
	}
	if in.s.Token == "" {
		in.warnings = append(in.warnings, prefix+".token is empty: any request is accepted as AppsFlyer")
	}
	return in, nil
}

// Build implements relay.Settings.
func (s Settings) Build(prefix string) (relay.Source, error) { return New(prefix, s) }

// Secrets implements relay.Settings.
func (s Settings) Secrets() []string {
	return []string{s.Token, s.CleverTap.AccountToken, s.CleverTap.AccountPasscode}
}

// Credential implements relay.Source: the token and its header.
func (in *Intake) Credential() relay.Credential {
	return relay.Credential{Value: in.s.Token, Header: in.s.TokenHeader}
}

// EventNames implements relay.Source: the installs and every mapped SDK event, with its partner name.
func (in *Intake) EventNames() []string {
	out := []string{"organic_install", "inorganic_install"}
	for name, e := range in.s.CleverTap.InAppEvents {
		out = append(out, name, e.PartnerEvent)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Account implements relay.Source: AppsFlyer has no sandbox account.
func (in *Intake) Account(bool) string { return in.s.CleverTap.AccountID }

// Warnings implements relay.Source.
func (in *Intake) Warnings() []string { return in.warnings }

// Name implements relay.Source.
func (in *Intake) Name() string { return Name }

// Methods implements relay.Source: Push API messages come as GET or POST.
func (in *Intake) Methods() []string { return []string{http.MethodGet, http.MethodPost} }

// Destinations implements relay.Source.
func (in *Intake) Destinations() map[string]relay.Endpoint {
	ct := in.s.CleverTap
	return map[string]relay.Endpoint{Destination: {Kind: relay.KindAttribution, Region: in.region,
		AccountID: ct.AccountID, Token: ct.AccountToken, Passcode: ct.AccountPasscode}}
}

// Verify compares the token in constant time.
func (in *Intake) Verify(r relay.Request) error { return in.VerifyHeader(r.Header) }

// VerifyHeader implements relay.HeaderVerifier: the token is checked before the body is read.
func (in *Intake) VerifyHeader(h http.Header) error {
	return relay.CheckHeader(h, in.s.TokenHeader, in.s.Token,
		fmt.Sprintf("expected the AppsFlyer token in the %s header, got none", in.s.TokenHeader),
		fmt.Sprintf("the %s header does not match the token configured for AppsFlyer", in.s.TokenHeader))
}

// Map implements relay.Source.
func (in *Intake) Map(r relay.Request) (relay.Mapped, error) {
	msg, err := fields(r)
	if err != nil {
		return relay.Mapped{}, err
	}
	name := msg["event_name"]
	if name == "" {
		return relay.Mapped{}, relay.BadRequest("expected an AppsFlyer message with event_name (Push API fields), got none")
	}
	id := msg["event_id"]
	if id == "" {
		if msg["appsflyer_id"] == "" || msg["event_time"] == "" {
			return relay.Mapped{},
				relay.BadRequest(
					"expected appsflyer_id and event_time (or event_id) to identify the message, got appsflyer_id %q and event_time "+
						"%q", msg["appsflyer_id"], msg["event_time"])
		}
		id = msg["appsflyer_id"] + "|" + name + "|" + msg["event_time"]
	}
	m := relay.Mapped{Source: Name, EventID: id, EventType: name}
	ct := in.s.CleverTap
	cuid := msg["customer_user_id"]
	if cuid == "" {
		return m, relay.Skipped("no customer user id: AppsFlyer sends no postback to CleverTap without one")
	}
	media := strings.TrimSpace(msg["media_source"]) // "Facebook Ads " is still Facebook Ads
	organic := media == "" || strings.EqualFold(media, "organic")
	if slices.ContainsFunc(ct.RestrictedMediaSources, func(s string) bool {
		return strings.EqualFold(strings.TrimSpace(s), media)
	}) {
		return m, relay.Skipped("media source %q restricts sharing its data with third parties: no postback", media)
	}
	params := map[string]string{"partner_name": ct.PartnerName, "device_identifier": cuid}
	if ts, ok := unixSeconds(msg["event_time"]); ok {
		params["timestamp"] = strconv.FormatInt(ts, 10)
	}
	copyIf(params, "platform", msg["platform"])
	copyIf(params, "appsflyer_id", msg["appsflyer_id"])
	if organic {
		params["utm_source"] = "organic"
	} else {
		params["utm_source"] = media
	}
	copyIf(params, "utm_campaign", msg["campaign"])
	copyIf(params, "utm_medium", msg["af_channel"])
	if isInstall(name) {
		switch {
		case ct.Installs == InstallsNone:
			return m, relay.Skipped("install postbacks are off")
		case organic && ct.Installs == InstallsNonOrganic:
			return m, relay.Skipped("organic install and install postbacks are for non-organic media sources only")
		case organic:
			params["event_type"] = "organic_install"
		default:
			params["event_type"] = "inorganic_install"
		}
	} else {
		e, ok := ct.InAppEvents[name]
		if !ok {
			return m, relay.Skipped("in-app event %s is not mapped in the CleverTap postback settings", name)
		}
		params["event_type"] = e.PartnerEvent
		dropped, err := eventValues(params, msg, e.SendRevenue)
		if err != nil {
			return m, err
		}
		if len(dropped) > 0 {
			m.Notes = append(m.Notes, fmt.Sprintf("event_value keys %s name reserved parameters of the postback: "+
				"dropped, the postback's own values kept", strings.Join(dropped, ", ")))
		}
	}
	m.Messages = []relay.Message{{Destination: Destination, Kind: relay.KindAttribution, Payload: relay.Record(params)}}
	return m, nil
}

func isInstall(name string) bool {
	return name == "install" || name == "organic-install" || name == "reinstall" || name == "organic-reinstall"
}

// reserved are the postback's own parameters (and the credentials delivery adds): event_value, which the app's
// SDK fills, can never set them.
var reserved = []string{"partner_name", "device_identifier", "timestamp", "platform", "appsflyer_id", "utm_source",
	"utm_campaign", "utm_medium", "event_type", "revenue", "currency", "account_id", "account_token",
	"account_passcode"}

// eventValues adds event_value's parameters (and the revenue) as the send-revenue option allows; keys that name
// a reserved parameter are dropped and returned, sorted.
func eventValues(params, msg map[string]string, option string) ([]string, error) {
	if option == NoValuesNoRevenue || msg["event_value"] == "" {
		return nil, nil
	}
	var values map[string]any
	if err := json.Unmarshal([]byte(msg["event_value"]), &values); err != nil {
		return nil, relay.BadRequest("event_value: expected a JSON object in a string, got %q",
			clip.Text(msg["event_value"], 60))
	}
	var dropped []string
	for k, v := range values {
		if k == "af_revenue" && option != ValuesAndRevenue {
			continue
		}
		if slices.Contains(reserved, strings.ToLower(k)) {
			dropped = append(dropped, k)
			continue
		}
		switch x := v.(type) {
		case string:
			params[k] = x
		default:
			b, _ := json.Marshal(x)
			params[k] = string(b)
		}
	}
	if option == ValuesAndRevenue {
		copyIf(params, "revenue", msg["event_revenue"])
		copyIf(params, "currency", msg["event_revenue_currency"])
	}
	slices.Sort(dropped)
	return dropped, nil
}

// fields reads the message: the JSON object the intake parsed for POST, the query string for GET; values as
// strings.
func fields(r relay.Request) (map[string]string, error) {
	out := map[string]string{}
	if r.Method == http.MethodGet {
		for k, v := range r.Query {
			if len(v) > 0 {
				out[k] = v[0]
			}
		}
		return out, nil
	}
	doc, done, err := r.Parse()
	defer done()
	if err == nil && doc.Type() != fastjson.TypeObject {
		err = fmt.Errorf("a JSON %s", doc.Type())
	}
	if err != nil {
		return nil, relay.BadRequest("expected an AppsFlyer Push API message (a JSON object), got invalid JSON: %v", err)
	}
	doc.GetObject().Visit(func(key []byte, v *fastjson.Value) {
		switch v.Type() {
		case fastjson.TypeNull:
		case fastjson.TypeString:
			out[string(key)] = string(v.GetStringBytes())
		case fastjson.TypeNumber:
			f, _ := v.Float64()
			out[string(key)] = strconv.FormatFloat(f, 'f', -1, 64)
		case fastjson.TypeTrue, fastjson.TypeFalse:
			out[string(key)] = strconv.FormatBool(v.Type() == fastjson.TypeTrue)
		default:
			out[string(key)] = v.String()
		}
	})
	return out, nil
}

// unixSeconds reads AppsFlyer's "YYYY-MM-DD HH:MM:SS.mmm" UTC times.
func unixSeconds(s string) (int64, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.000", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), true
		}
	}
	return 0, false
}

func copyIf(params map[string]string, key, value string) {
	if value != "" {
		params[key] = value
	}
}
