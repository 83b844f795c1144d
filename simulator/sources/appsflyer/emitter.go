package appsflyer

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Emitter is AppsFlyer for the registry (package vendors).
type Emitter struct{}

var _ sources.Emitter = Emitter{}

// Info: the postbacks the emitter sends, a production mix (a subscription payment, a trial start, a one-time
// purchase), the Push API token AppsFlyer sends with every message, and its knobs for one postback.
func (Emitter) Info() sources.Info {
	return sources.Info{
		Name:       Source,
		EventTypes: EventTypes,
		LoadMix:    []string{Subscribe, StartTrial, Purchase},
		Credential: sources.Option{Name: "token", Usage: "AppsFlyer: the Push API token"},
		Options: []sources.Option{
			{Name: "token-header", Default: "Authorization",
				Usage: "AppsFlyer: the header carrying the token (Authorization or X-...)"},
			{Name: "app-id", Default: "id1234567890", Usage: "AppsFlyer: the app id"},
			{Name: "media-source", Default: "organic", Usage: "AppsFlyer: media source that brought the user"},
			{Name: "send-revenue", Default: string(ValuesAndRevenue),
				Usage: "AppsFlyer: none, values or values_and_revenue"},
			{Name: "method", Default: http.MethodPost, Usage: "AppsFlyer: POST or GET"},
			{Name: "revenue", Usage: "AppsFlyer: revenue of the event (a currency may follow: --revenue 9.99 EUR)"},
		},
	}
}

// Render is Render with the story's attribution and the scenarios' app.
func (Emitter) Render(facts []lifecycle.Fact, s sources.Story) ([]sources.Webhook, error) {
	return Render(facts, Config{AppID: "id1234567890", BundleID: "com.example.app", MediaSource: s.MediaSource,
		Campaign: s.Campaign, SendInstalls: s.SendInstalls})
}

// Emit is Emit with the options by name.
func (e Emitter) Emit(eventType string, in sources.Single) (sources.Webhook, error) {
	option := func(name string) string { return sources.OptionValue(e, in.Options, name) }
	send := SendRevenue(option("send-revenue"))
	if !slices.Contains(SendRevenueOptions, send) {
		return sources.Webhook{}, fmt.Errorf("--send-revenue: expected none, values or values_and_revenue, got %q", send)
	}
	method := strings.ToUpper(option("method"))
	if method != http.MethodGet && method != http.MethodPost {
		return sources.Webhook{}, fmt.Errorf("--method: expected GET or POST, got %q", option("method"))
	}
	var revenue float64
	if v := option("revenue"); v != "" {
		var err error
		if revenue, err = strconv.ParseFloat(v, 64); err != nil {
			return sources.Webhook{}, fmt.Errorf("--revenue: expected a number such as 9.99, got %q", v)
		}
	}
	return Emit(eventType, Single{Single: in, Revenue: revenue, Currency: in.Product.Currency,
		Config: Config{AppID: option("app-id"), MediaSource: option("media-source"), SendRevenue: send, Method: method}})
}

// Delivery is AppsFlyer's: the token in its header, any 2xx is success, retries as partners have them enabled.
func (e Emitter) Delivery(c sources.Credential, options map[string]string) (http.Header, sources.Policy) {
	header := c.Header
	if header == "" {
		header = sources.OptionValue(e, options, "token-header")
	}
	return Header(header, c.Value), Policy(true)
}

// UserKey: AppsFlyer's postbacks to CleverTap carry the customer user id as the device identifier.
func (Emitter) UserKey(u lifecycle.User) (string, string) { return "objectId", u.CustomerUserID }
