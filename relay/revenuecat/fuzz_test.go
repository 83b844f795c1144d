package revenuecat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctharness/ctharness/relay"
)

// FuzzMap: no body crashes the mapping; what it accepts becomes valid upload records, and a refusal is a 400 or a skip.
func FuzzMap(f *testing.F) {
	samples, _ := filepath.Glob("../../fixtures/vendor-samples/revenuecat/webhooks/*.json")
	for _, p := range samples {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"event":{"id":"x","type":"RENEWAL","price_in_purchased_currency":-1e308,"commission_percentage":2}}`))
	f.Add([]byte(
		`{"event":{"id":"x","type":"INITIAL_PURCHASE","subscriber_attributes":{"$clevertapId":{"value":{"a":[1]}}}}}`))
	in, err := New("f", Settings{CleverTap: CleverTap{CleverTapAccount: relay.CleverTapAccount{Region: "eu1",
		AccountID: "A", Passcode: "p"},
		SandboxAccountID: "S", SandboxPasscode: "s", Revenue: AfterCommissionAndTaxes, NegativeRefunds: true}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := in.Map(relay.Request{Body: body})
		var bad *relay.Error
		var skip *relay.Skip
		switch {
		case errors.As(err, &bad):
			if bad.Status != 400 || bad.Message == "" {
				t.Fatalf("a refusal must be a 400 with a message, got %+v", bad)
			}
		case errors.As(err, &skip):
		case err != nil:
			t.Fatalf("unexpected error type %T: %v", err, err)
		default:
			for _, msg := range m.Messages {
				var rec map[string]any
				if json.Unmarshal(msg.Payload, &rec) != nil || rec["evtName"] == "" || rec["identity"] == "" {
					t.Fatalf("accepted webhook produced a bad record %s", msg.Payload)
				}
			}
		}
	})
}
