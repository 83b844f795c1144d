package appsflyer

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Config is the app's AppsFlyer setup and the partner configuration for CleverTap.
type Config struct {
	// AppID is the AppsFlyer app id ("id1234567890" on iOS, the package name on Android).
	AppID    string
	BundleID string
	// Platform is ios or android (default from the store).
	Platform string
	// MediaSource brought the user ("organic" for none), with Campaign.
	MediaSource string
	Campaign    string
	// SendInstalls posts an install (or organic-install) before the user's first event.
	SendInstalls bool
	// SendRevenue is the option of every mapped in-app event (default values and revenue).
	SendRevenue SendRevenue
	// RestrictedMediaSources get no postbacks; nil uses DefaultRestrictedMediaSources.
	RestrictedMediaSources []string
	// Method is POST (default) or GET (fields in the query string), as Push API can do either.
	Method string
}

// Skipped says why AppsFlyer sent nothing for a user.
type Skipped = sources.Skipped

// Render turns a story's facts into AppsFlyer's postbacks, or says why there are none.
func Render(facts []lifecycle.Fact, cfg Config) ([]sources.Webhook, error) {
	if len(facts) == 0 {
		return nil, nil
	}
	u := facts[0].User
	if u.CustomerUserID == "" {
		return nil,
			Skipped{Reason: "no postback: the app set no AppsFlyer customer user id (CleverTap asks for its CleverTap ID there)"}
	}
	restricted := cfg.RestrictedMediaSources
	if restricted == nil {
		restricted = DefaultRestrictedMediaSources
	}
	if slices.ContainsFunc(restricted, func(m string) bool { return strings.EqualFold(m, cfg.MediaSource) }) {
		return nil, Skipped{Reason: fmt.Sprintf("no postback: media source %q restricts sharing its data with third parties",
			cfg.MediaSource)}
	}
	ids := lifecycle.NewIDs(Source + ":" + u.CustomerUserID + ":" + facts[0].OriginalPurchasedAt.Format(time.RFC3339Nano))
	installAt := facts[0].At.Add(-time.Hour)
	r := renderer{cfg: cfg, installAt: installAt, appsflyerID: u.AppsFlyerID, deviceID: ids.UUID()}
	if r.appsflyerID == "" { // AppsFlyer ids are the install time in ms and 19 digits
		r.appsflyerID = fmt.Sprintf("%d-%s", installAt.UnixMilli(), ids.Digits(19))
	}
	var out []sources.Webhook
	if cfg.SendInstalls {
		out = append(out, r.install(facts[0]))
	}
	for _, f := range facts {
		if name, ok := inAppEvent(f); ok {
			out = append(out, r.inApp(name, f))
		}
	}
	return out, nil
}

// inAppEvent is the SDK event the app logs for a fact: a trial start, a subscription payment, a one-time purchase.
func inAppEvent(f lifecycle.Fact) (string, bool) {
	switch f.Kind {
	case lifecycle.Purchased:
		if f.OfferType == lifecycle.FreeTrial {
			return StartTrial, true
		}
		return Subscribe, true
	case lifecycle.Renewed, lifecycle.Resubscribed, lifecycle.Recovered, lifecycle.Resumed:
		return Subscribe, true
	case lifecycle.NonRenewingPurchase:
		return Purchase, true
	}
	return "", false
}

// renderer holds what stays the same across one user's messages.
type renderer struct {
	cfg         Config
	installAt   time.Time
	appsflyerID string
	deviceID    string
}

// Time is AppsFlyer's timestamp format: UTC "YYYY-MM-DD HH:MM:SS.mmm".
func Time(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

func (r *renderer) platform(f lifecycle.Fact) string {
	if r.cfg.Platform != "" {
		return r.cfg.Platform
	}
	if f.Store == lifecycle.PlayStore {
		return "android"
	}
	return "ios"
}

func (r *renderer) mediaSource() string {
	if r.cfg.MediaSource == "" {
		return "organic"
	}
	return r.cfg.MediaSource
}

// common are the Push API fields of every message about the user.
func (r *renderer) common(f lifecycle.Fact, eventName string) map[string]any {
	u := f.User
	m := map[string]any{
		"api_version": "2.0", "event_source": "SDK", "event_name": eventName,
		"appsflyer_id": r.appsflyerID, "customer_user_id": u.CustomerUserID,
		"app_id": r.cfg.AppID, "bundle_id": r.cfg.BundleID, "platform": r.platform(f),
		"install_time": Time(r.installAt), "media_source": r.mediaSource(), "campaign": r.cfg.Campaign,
		"country_code": u.Country, "is_retargeting": false, "app_version": "3.4.0", "os_version": "18.2",
	}
	if r.platform(f) == "android" {
		m["advertising_id"] = r.deviceID
	} else {
		m["idfa"], m["idfv"] = "00000000-0000-0000-0000-000000000000", strings.ToUpper(r.deviceID)
	}
	if r.mediaSource() != "organic" {
		m["attributed_touch_type"] = "click"
		m["attributed_touch_time"] = Time(r.installAt.Add(-2 * time.Minute))
	}
	return m
}

func (r *renderer) install(f lifecycle.Fact) sources.Webhook {
	name := Install
	if r.mediaSource() == "organic" {
		name = OrganicInstall
	}
	m := r.common(f, "install")
	m["event_time"] = Time(r.installAt)
	m["event_value"] = ""
	return r.webhook(name, f, m)
}

// inApp renders an in-app event with its value and revenue as the send-revenue option allows.
func (r *renderer) inApp(name string, f lifecycle.Fact) sources.Webhook {
	m := r.common(f, name)
	m["event_time"] = Time(f.At)
	value := map[string]any{"af_content_id": f.Product.ID, "af_currency": f.Product.Currency}
	if f.Price != 0 {
		value["af_revenue"] = fmt.Sprintf("%.2f", f.Price)
	}
	if f.Kind == lifecycle.Renewed {
		value["af_renewal"] = "true"
	}
	option := r.cfg.SendRevenue
	if option == "" {
		option = ValuesAndRevenue
	}
	switch option {
	case NoValuesNoRevenue:
		m["event_value"] = ""
	case ValuesNoRevenue:
		delete(value, "af_revenue")
		m["event_value"] = jsonString(value)
	default:
		m["event_value"] = jsonString(value)
		if f.Price != 0 {
			m["event_revenue"] = fmt.Sprintf("%.2f", f.Price)
			m["event_revenue_currency"] = f.Product.Currency
			m["event_revenue_usd"] = fmt.Sprintf("%.2f", lifecycle.Convert(f.Price, f.Product.Currency, "USD"))
		}
	}
	return r.webhook(name, f, m)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// EventID is the idempotency key a receiver can build: Push API messages carry no event id, so it is the
// AppsFlyer id, event name and event time together (as Pipedream's AppsFlyer source does).
func EventID(appsflyerID, eventName, eventTime string) string {
	return appsflyerID + "|" + eventName + "|" + eventTime
}

func (r *renderer) webhook(name string, f lifecycle.Fact, m map[string]any) sources.Webhook {
	w := sources.Webhook{Source: Source, EventType: name, Method: "POST", User: f.User.CustomerUserID, At: f.At,
		EventID: EventID(m["appsflyer_id"].(string), m["event_name"].(string), m["event_time"].(string))}
	if strings.EqualFold(r.cfg.Method, "GET") {
		w.Method, w.Query = "GET", url.Values{}
		for k, v := range m {
			w.Query.Set(k, fmt.Sprint(v))
		}
		return w
	}
	w.Body, _ = json.Marshal(m)
	return w
}
