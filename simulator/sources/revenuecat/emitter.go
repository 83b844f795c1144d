package revenuecat

import (
	"net/http"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Emitter is RevenueCat for the registry (package vendors).
type Emitter struct{}

var _ sources.Emitter = Emitter{}

// Info: RevenueCat's event types, a production mix (a purchase, three renewals, a cancellation, an expiration),
// the Authorization value typed in its dashboard, and its knobs for one event.
func (Emitter) Info() sources.Info {
	return sources.Info{
		Name:       Source,
		EventTypes: EventTypes,
		LoadMix:    []string{InitialPurchase, Renewal, Renewal, Renewal, Cancellation, Expiration},
		Credential: sources.Option{Name: "auth",
			Usage: "RevenueCat: the Authorization header value configured in the dashboard"},
		Options: []sources.Option{
			{Name: "period-type", Usage: "RevenueCat: TRIAL, INTRO, PROMOTIONAL or NORMAL"},
			{Name: "cancel-reason", Usage: "RevenueCat CANCELLATION: UNSUBSCRIBE, BILLING_ERROR or CUSTOMER_SUPPORT"},
			{Name: "app-id", Default: "1234567890", Usage: "RevenueCat: the app id (event.app_id)"},
		},
	}
}

// Render is Render with the story defaults of the scenarios.
func (Emitter) Render(facts []lifecycle.Fact, _ sources.Story) ([]sources.Webhook, error) {
	return Render(facts, Config{AppID: "app_sim", OfferingID: "default"}), nil
}

// Emit is Emit with the options by name.
func (e Emitter) Emit(eventType string, in sources.Single) (sources.Webhook, error) {
	option := func(name string) string { return sources.OptionValue(e, in.Options, name) }
	return Emit(eventType, Single{Single: in,
		PeriodType: option("period-type"), CancelReason: option("cancel-reason"),
		Config: Config{AppID: option("app-id"), OfferingID: "default"}})
}

// Delivery is RevenueCat's: the Authorization value, only 200 counts, five retries over 2.5 hours.
func (Emitter) Delivery(c sources.Credential, _ map[string]string) (http.Header, sources.Policy) {
	return Header(c.Value), Policy()
}

// UserKey: RevenueCat's integration files the user under the $clevertapId attribute, else the app user id.
func (Emitter) UserKey(u lifecycle.User) (string, string) {
	if u.CleverTapID != "" {
		return "identity", u.CleverTapID
	}
	return "identity", u.AppUserID
}
