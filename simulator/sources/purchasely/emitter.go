package purchasely

import (
	"net/http"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Emitter is Purchasely for the registry (package vendors).
type Emitter struct{}

var _ sources.Emitter = Emitter{}

// Info: every event Purchasely's webhook sends, a production mix (a start, two renewals, a renewal turned off,
// an expiry), the client shared secret every attempt is signed with, and its knobs for one event.
func (Emitter) Info() sources.Info {
	return sources.Info{
		Name:       Source,
		EventTypes: EventTypes,
		LoadMix: []string{SubscriptionStarted, SubscriptionRenewed, SubscriptionRenewed, RenewalDisabled,
			SubscriptionExpired},
		Credential: sources.Option{Name: "secret", Usage: "Purchasely: the client shared secret to sign with"},
		Options: []sources.Option{{Name: "deprecated-signature", Bool: true, Default: "true",
			Usage: "Purchasely: also send the deprecated X-PURCHASELY-SIGNATURE"}},
	}
}

// Render is Render with the story defaults of the scenarios.
func (Emitter) Render(facts []lifecycle.Fact, _ sources.Story) ([]sources.Webhook, error) {
	return Render(facts, Config{BundleID: "com.example.app"}), nil
}

// Emit is Emit.
func (Emitter) Emit(eventType string, in sources.Single) (sources.Webhook, error) {
	return Emit(eventType, Single{Single: in})
}

// Delivery is Purchasely's: each attempt signed with the shared secret, 200 or 404 is success, retries.
func (e Emitter) Delivery(c sources.Credential, options map[string]string) (http.Header, sources.Policy) {
	return Header(), Policy(c.Value, sources.OptionValue(e, options, "deprecated-signature") == "true")
}

// UserKey: Purchasely's integration files the user under the CleverTap id set as an attribute.
func (Emitter) UserKey(u lifecycle.User) (string, string) { return "objectId", u.CleverTapID }
