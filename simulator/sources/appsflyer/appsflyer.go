// Package appsflyer plays AppsFlyer's postbacks for CleverTap. The real AppsFlyer→CleverTap postback format is
// partner-private (UNCONFIRMED), so messages take AppsFlyer's documented Push API shape (api_version 2.0, raw-data
// field names, event_value as a JSON string, "YYYY-MM-DD HH:MM:SS.mmm" UTC times) and carry the token AppsFlyer
// sends with Push API messages. AppsFlyer's rules are kept: nothing is sent without a customer user id, nothing
// for restricted media sources, and the three send-revenue options shape event_value and revenue.
package appsflyer

import (
	"net/http"
	"time"

	"github.com/ctharness/ctharness/simulator/sources"
)

// Source is the name of this emitter.
const Source = "appsflyer"

// Event names: installs and the standard in-app events a subscription app logs.
const (
	Install        = "install"
	OrganicInstall = "organic-install"
	StartTrial     = "af_start_trial"
	Subscribe      = "af_subscribe"
	Purchase       = "af_purchase"
)

// EventTypes lists the events the emitter sends.
var EventTypes = []string{Install, OrganicInstall, StartTrial, Subscribe, Purchase}

// SendRevenue is the in-app event postback's "Send revenue" option.
type SendRevenue string

const (
	// NoValuesNoRevenue sends only the event itself, without event value.
	NoValuesNoRevenue SendRevenue = "none"
	// ValuesNoRevenue sends the event parameters except the revenue.
	ValuesNoRevenue SendRevenue = "values"
	// ValuesAndRevenue sends every parameter, revenue included.
	ValuesAndRevenue SendRevenue = "values_and_revenue"
)

// SendRevenueOptions lists the options.
var SendRevenueOptions = []SendRevenue{NoValuesNoRevenue, ValuesNoRevenue, ValuesAndRevenue}

// DefaultRestrictedMediaSources are media sources that forbid sharing their data with third parties; AppsFlyer
// sends no postback to CleverTap for users they brought. Configurable: the real list is AppsFlyer's.
var DefaultRestrictedMediaSources = []string{"Facebook Ads", "Twitter", "snapchat_int", "googleadwords_int"}

// Policy is AppsFlyer's delivery: any 2xx is success, 10 s timeout (UNCONFIRMED), and no retries unless the
// partner had AppsFlyer enable them (then a schedule whose real values are UNCONFIRMED: 1, 10 and 60 minutes).
func Policy(retry bool) sources.Policy {
	p := sources.Policy{
		Success: func(status int) bool { return status >= 200 && status < 300 },
		Timeout: 10 * time.Second,
	}
	if retry {
		p.Retries = []time.Duration{time.Minute, 10 * time.Minute, time.Hour}
	}
	return p
}

// Header carries the Push API token under its configured name (Authorization unless an X- name was set).
func Header(tokenName, token string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if token != "" {
		if tokenName == "" {
			tokenName = "Authorization"
		}
		h.Set(tokenName, token)
	}
	return h
}
