package revenuecat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/internal/jsonmatch"
	"github.com/ctharness/ctharness/relay"
)

func intake(t testing.TB, edit func(*CleverTap)) *Intake {
	t.Helper()
	s := Settings{Authorization: "Bearer x", CleverTap: CleverTap{
		CleverTapAccount: relay.CleverTapAccount{Region: "eu1", AccountID: "ACC", Passcode: "pass"},
		SandboxAccountID: "SBX", SandboxPasscode: "sbx-pass"}}
	if edit != nil {
		edit(&s.CleverTap)
	}
	in, err := New("sources.revenuecat", s)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// webhook is a webhook body around the given event fields (environment PRODUCTION unless the fields set it: a
// key appears once, as in RevenueCat's bodies).
func webhook(fields string) []byte {
	env := `"environment":"PRODUCTION",`
	if strings.Contains(fields, `"environment"`) {
		env = ""
	}
	return []byte(`{"api_version":"1.0","event":{"id":"e-1","app_id":"app1","event_timestamp_ms":1767225600999,` +
		`"app_user_id":"user_42","original_app_user_id":"$RCAnonymousID:abc","product_id":"premium.monthly",` +
		env + `"currency":"EUR",` + fields + `}}`)
}

// TestMappingTable: each row's expected record is written by hand from RevenueCat's CleverTap page.
func TestMappingTable(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*CleverTap)
		fields string
		dest   string
		record string
		skip   string
	}{
		{name: "trial start",
			fields: `"type":"INITIAL_PURCHASE","period_type":"TRIAL","price":0,"price_in_purchased_currency":0`,
			dest:   Destination,
			record: `{"type":"event","evtName":"rc_trial_started_event","identity":"user_42","ts":1767225600,` +
				`"evtData":{"amount":0,"currency":"EUR","product_id":"premium.monthly","app_id":"app1"}}`},
		{name: "initial purchase",
			fields: `"type":"INITIAL_PURCHASE","period_type":"NORMAL","price":10.79,"price_in_purchased_currency":9.99`,
			dest:   Destination,
			record: `{"type":"event","evtName":"rc_initial_purchase_event","identity":"user_42","ts":1767225600,` +
				`"evtData":{"amount":9.99,"currency":"EUR","product_id":"premium.monthly","app_id":"app1"}}`},
		{name: "trial conversion",
			fields: `"type":"RENEWAL","is_trial_conversion":true,"period_type":"NORMAL","price_in_purchased_currency":9.99`,
			dest:   Destination,
			record: `{"type":"event","evtName":"rc_trial_converted_event","identity":"user_42","ts":1767225600,` +
				`"evtData":{"amount":9.99,"currency":"EUR","product_id":"premium.monthly","app_id":"app1"}}`},
		{name: "trial cancelled",
			fields: `"type":"CANCELLATION","period_type":"TRIAL","cancel_reason":"UNSUBSCRIBE","price_in_purchased_currency":0`,
			dest:   Destination,
			record: `{"type":"event","evtName":"rc_trial_cancelled_event","identity":"user_42","ts":1767225600,` +
				`"evtData":{"amount":0,"currency":"EUR","product_id":"premium.monthly","app_id":"app1",` +
				`"cancel_reason":"UNSUBSCRIBE"}}`},
		{name: "refund is 0 by default",
			fields: `"type":"CANCELLATION","period_type":"NORMAL","cancel_reason":"CUSTOMER_SUPPORT",` +
				`"price_in_purchased_currency":-9.99`,
			dest: Destination,
			record: `{"type":"event","evtName":"rc_cancellation_event","identity":"user_42","ts":1767225600,` +
				`"evtData":{"amount":0,"currency":"EUR","product_id":"premium.monthly","app_id":"app1",` +
				`"cancel_reason":"CUSTOMER_SUPPORT"}}`},
		{name: "refund negative when configured", edit: func(c *CleverTap) { c.NegativeRefunds = true },
			fields: `"type":"CANCELLATION","period_type":"NORMAL","cancel_reason":"CUSTOMER_SUPPORT",` +
				`"price_in_purchased_currency":-9.99`,
			dest: Destination,
			record: `{"type":"event","evtName":"rc_cancellation_event","identity":"user_42","ts":1767225600,` +
				`"evtData":{"amount":-9.99,"currency":"EUR","product_id":"premium.monthly","app_id":"app1",` +
				`"cancel_reason":"CUSTOMER_SUPPORT"}}`},
		{name: "after commission", edit: func(c *CleverTap) { c.Revenue = AfterCommission },
			fields: `"type":"RENEWAL","period_type":"NORMAL","price_in_purchased_currency":10,"commission_percentage":0.15,` +
				`"tax_percentage":0.2`,
			dest: Destination,
			record: `{"type":"event","evtName":"rc_renewal_event","identity":"user_42","ts":1767225600,` +
				`"evtData":{"amount":8.5,` +
				`"currency":"EUR","product_id":"premium.monthly","app_id":"app1"}}`},
		{name: "after commission and taxes", edit: func(c *CleverTap) { c.Revenue = AfterCommissionAndTaxes },
			fields: `"type":"RENEWAL","period_type":"NORMAL","price_in_purchased_currency":10,"commission_percentage":0.15,` +
				`"tax_percentage":0.2`,
			dest: Destination,
			record: `{"type":"event","evtName":"rc_renewal_event","identity":"user_42","ts":1767225600,` +
				`"evtData":{"amount":6.5,` +
				`"currency":"EUR","product_id":"premium.monthly","app_id":"app1"}}`},
		{name: "clevertap id attribute wins, attributes in evtData",
			fields: `"type":"UNCANCELLATION","period_type":"NORMAL","price_in_purchased_currency":0,` +
				`"subscriber_attributes":{"$cleverTapId":{"value":"ct-9","updated_at_ms":1},"$email":{"value":"j@x.io",` +
				`"updated_at_ms":1}}`,
			dest: Destination,
			record: `{"type":"event","evtName":"rc_uncancellation_event","identity":"ct-9","ts":1767225600,` +
				`"evtData":{"amount":0,"currency":"EUR","product_id":"premium.monthly","app_id":"app1","$cleverTapId":"ct-9",` +
				`"$email":"j@x.io"}}`},
		{name: "original app user id when configured", edit: func(c *CleverTap) { c.Identity = OriginalAppUserID },
			fields: `"type":"EXPIRATION","period_type":"NORMAL","expiration_reason":"BILLING_ERROR",` +
				`"price_in_purchased_currency":0`,
			dest: Destination,
			record: `{"type":"event","evtName":"rc_expiration_event","identity":"$RCAnonymousID:abc","ts":1767225600,` +
				`"evtData":{"amount":0,"currency":"EUR","product_id":"premium.monthly","app_id":"app1",` +
				`"expiration_reason":"BILLING_ERROR"}}`},
		{name: "billing issue carries the grace period end in ms",
			fields: `"type":"BILLING_ISSUE","period_type":"NORMAL","grace_period_expiration_at_ms":1767830400000,` +
				`"price_in_purchased_currency":0`,
			dest: Destination,
			record: `{"type":"event","evtName":"rc_billing_issue_event","identity":"user_42","ts":1767225600,` +
				`"evtData":{"amount":0,"currency":"EUR","product_id":"premium.monthly","app_id":"app1",` +
				`"grace_period_expiration_at":1767830400000}}`},
		{name: "product change renamed",
			edit: func(c *CleverTap) { c.Events = map[string]string{ProductChange: "plan_changed"} },
			fields: `"type":"PRODUCT_CHANGE","period_type":"NORMAL","new_product_id":"premium.yearly",` +
				`"price_in_purchased_currency":0`,
			dest: Destination,
			record: `{"type":"event","evtName":"plan_changed","identity":"user_42","ts":1767225600,"evtData":{"amount":0,` +
				`"currency":"EUR","product_id":"premium.monthly","app_id":"app1","new_product_id":"premium.yearly"}}`},
		{name: "sandbox to the sandbox account",
			fields: `"type":"NON_RENEWING_PURCHASE","environment":"SANDBOX","price_in_purchased_currency":4.99`,
			dest:   SandboxDestination,
			record: `{"type":"event","evtName":"rc_non_subscription_purchase_event","identity":"user_42","ts":1767225600,` +
				`"evtData":{"amount":4.99,"currency":"EUR","product_id":"premium.monthly","app_id":"app1"}}`},
		{name: "sandbox dropped without a sandbox account", edit: func(c *CleverTap) {
			c.SandboxAccountID,
				c.SandboxPasscode = "", ""
		},
			fields: `"type":"RENEWAL","environment":"SANDBOX"`, skip: "no sandbox account configured"},
		{name: "blank name disables", edit: func(c *CleverTap) { c.Events = map[string]string{Expiration: ""} },
			fields: `"type":"EXPIRATION"`, skip: "EXPIRATION is disabled"},
		{name: "transfer not sent", fields: `"type":"TRANSFER"`, skip: "does not send transfer events"},
		{name: "unknown type acknowledged", fields: `"type":"SOMETHING_NEW"`, skip: "unknown RevenueCat event type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := intake(t, c.edit).Map(relay.Request{Body: webhook(c.fields)})
			if c.skip != "" {
				var skip *relay.Skip
				if !errors.As(err, &skip) || !strings.Contains(skip.Reason, c.skip) {
					t.Fatalf("expected a skip with %q, got %v", c.skip, err)
				}
				return
			}
			if err != nil || len(m.Messages) != 1 {
				t.Fatalf("expected one message, got %v %+v", err, m)
			}
			if m.Messages[0].Destination != c.dest || m.Messages[0].Kind != relay.KindUpload {
				t.Fatalf("expected %s upload, got %s %s", c.dest, m.Messages[0].Destination, m.Messages[0].Kind)
			}
			if err := jsonmatch.Match([]byte(c.record), m.Messages[0].Payload); err != nil {
				t.Fatalf("%v\nreceived %s", err, m.Messages[0].Payload)
			}
		})
	}
}

func TestSettingsErrorsNameTheKey(t *testing.T) {
	base := func() Settings {
		return Settings{CleverTap: CleverTap{CleverTapAccount: relay.CleverTapAccount{Region: "eu1", AccountID: "A",
			Passcode: "p"}}}
	}
	cases := []struct {
		edit func(*Settings)
		want string
	}{
		{func(s *Settings) { s.CleverTap.Region = "mars1" },
			`sources.revenuecat.clevertap.region: expected one of eu1, in1, sg1, us1, aps3, mec1, sk1, got "mars1"`},
		{func(s *Settings) { s.CleverTap.Region = "EU" }, `write EU1`},
		{func(s *Settings) { s.CleverTap.Passcode = "" },
			"sources.revenuecat.clevertap.passcode: expected the passcode of account A"},
		{func(s *Settings) { s.CleverTap.AccountID = "" }, "sources.revenuecat.clevertap.account_id"},
		{func(s *Settings) { s.CleverTap.SandboxAccountID = "S" }, "sources.revenuecat.clevertap.sandbox_passcode"},
		{func(s *Settings) { s.CleverTap.Revenue = "net" },
			`sources.revenuecat.clevertap.revenue: expected gross, after_commission or after_commission_and_taxes, got "net"`},
		{func(s *Settings) { s.CleverTap.Events = map[string]string{"refund": "x"} },
			"sources.revenuecat.clevertap.events.refund: no such event; expected one of billing_issue, cancellation"},
		{func(s *Settings) { s.CleverTap.Identity = "email" }, "sources.revenuecat.clevertap.identity"},
	}
	for _, c := range cases {
		s := base()
		c.edit(&s)
		if _, err := New("sources.revenuecat", s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("expected an error with %q, got %v", c.want, err)
		}
	}
	if _, err := New("sources.revenuecat", base()); err != nil {
		t.Fatalf("the base settings are valid: %v", err)
	}
}

func TestAuthorizationIsComparedExactly(t *testing.T) {
	in := intake(t, nil)
	for header, ok := range map[string]bool{"Bearer x": true, "Bearer X": false, "Bearer x ": false, "": false} {
		r := relay.Request{Header: map[string][]string{}}
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		if err := in.Verify(r); (err == nil) != ok {
			t.Errorf("Authorization %q: expected ok=%v, got %v", header, ok, err)
		}
	}
}

// A field of the wrong type is refused with a 400 that names the field, what was expected and what arrived.
func TestFieldsOfTheWrongTypeAreNamed(t *testing.T) {
	for _, c := range []struct{ fields, want string }{
		{`"type":42`, "type: expected a string, got number 42"},
		{`"type":"RENEWAL","price":"4.99"`, `price: expected a number, got string "4.99"`},
		{`"type":"RENEWAL","grace_period_expiration_at_ms":1.5`, "grace_period_expiration_at_ms: expected an integer, " +
			"got number 1.5"},
		{`"type":"RENEWAL","is_trial_conversion":"yes"`, `is_trial_conversion: expected true or false, got string "yes"`},
		{`"type":"RENEWAL","subscriber_attributes":[]`, "subscriber_attributes: expected an object, got array []"},
		{`"type":"RENEWAL","subscriber_attributes":{"$email":"a@b.c"}`,
			`subscriber_attributes.$email: expected an object {"value":...}, got string "a@b.c"`},
		// the sender's attribute key cut at 60 bytes, and escaped where a terminal would act on it
		{`"type":"RENEWAL","subscriber_attributes":{"` + strings.Repeat("k", 100) + `":1}`,
			"subscriber_attributes." + strings.Repeat("k", 60) + "…: expected an object"},
		{`"type":"RENEWAL","subscriber_attributes":{"\u001b]0;owned\u0007":1}`,
			`subscriber_attributes.\x1b]0;owned\x07: expected an object`},
		// what arrived is cut at 40 bytes
		{`"type":"RENEWAL","cancel_reason":[` + strings.Repeat("1,", 40) + `1]`,
			"cancel_reason: expected a string, got array [" + strings.Repeat("1,", 19) + "1…"},
	} {
		_, err := intake(t, nil).Map(relay.Request{Body: webhook(c.fields)})
		var rerr *relay.Error
		if !errors.As(err, &rerr) || rerr.Status != 400 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: expected a 400 naming %q, got %v", c.fields, c.want, err)
		}
	}
}

// TestAKeySentTwiceCountsOnce: the intake refuses such a body before mapping, but a request built by hand
// reaches Map; the first value counts, as fastjson's Get reads it, and the second is not read at all.
func TestAKeySentTwiceCountsOnce(t *testing.T) {
	m, err := intake(t, nil).Map(relay.Request{Body: webhook(`"type":"RENEWAL","price":4.99,"type":"EXPIRATION",` +
		`"price":"not a number"`)})
	if err != nil || len(m.Messages) != 1 || m.EventType != "RENEWAL" {
		t.Fatalf("expected one message of a RENEWAL, got %+v and %v", m, err)
	}
	want := `{"type":"event","evtName":"rc_renewal_event","identity":"user_42","ts":1767225600,` +
		`"evtData":{"amount":4.99,"currency":"USD","product_id":"premium.monthly","app_id":"app1"}}`
	if err := jsonmatch.Match([]byte(want), m.Messages[0].Payload); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkMap is the mapping's cost per webhook on RevenueCat's own sample (a renewal with subscriber
// attributes), the body parsed afresh as a request built by hand is.
func BenchmarkMap(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "vendor-samples", "revenuecat", "webhooks",
		"sample-events_2.json"))
	if err != nil {
		b.Fatal(err)
	}
	in := intake(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		if m, err := in.Map(relay.Request{Body: body}); err != nil || len(m.Messages) != 1 {
			b.Fatalf("expected one message, got %d and %v", len(m.Messages), err)
		}
	}
}
