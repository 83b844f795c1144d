package purchasely

import (
	"net/http"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Emitter is Purchasely for the registry (package vendors).
type Emitter struct{}

var _ sources.Emitter = Emitter{}

// Name is the vendor's name.
func (Emitter) Name() string { return Source }

// EventTypes are every event Purchasely's webhook sends.
func (Emitter) EventTypes() []string { return EventTypes }

// LoadMix is a production mix: a start, two renewals, a renewal turned off and an expiry.
func (Emitter) LoadMix() []string {
	return []string{SubscriptionStarted, SubscriptionRenewed, SubscriptionRenewed, RenewalDisabled, SubscriptionExpired}
}

// Credential is the client shared secret every attempt is signed with.
func (Emitter) Credential() sources.Option {
	return sources.Option{Name: "secret", Usage: "Purchasely: the client shared secret to sign with"}
}

// Options are Purchasely's knobs for one event.
func (Emitter) Options() []sources.Option {
	return []sources.Option{{Name: "deprecated-signature", Bool: true, Default: "true",
		Usage: "Purchasely: also send the deprecated X-PURCHASELY-SIGNATURE"}}
}

// Render is Render with the story defaults of the scenarios.
func (Emitter) Render(facts []lifecycle.Fact, _ sources.Story) ([]sources.Webhook, error) {
	return Render(facts, Config{BundleID: "com.example.app"}), nil
}

// Emit is Emit.
func (Emitter) Emit(eventType string, in sources.Single) (sources.Webhook, error) {
	return Emit(eventType, Single{User: in.User, Store: in.Store, Environment: in.Environment, Product: in.Product,
		At: in.At})
}

// Delivery is Purchasely's: each attempt signed with the shared secret, 200 or 404 is success, retries.
func (e Emitter) Delivery(c sources.Credential, options map[string]string) (http.Header, sources.Policy) {
	return Header(), Policy(c.Value, sources.OptionValue(e, options, "deprecated-signature") == "true")
}

// UserKey: Purchasely's integration files the user under the CleverTap id set as an attribute.
func (Emitter) UserKey(u lifecycle.User) (string, string) { return "objectId", u.CleverTapID }
