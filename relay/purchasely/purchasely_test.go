package purchasely

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/jsonmatch"
	"github.com/ctharness/ctharness/relay"
)

// The vectors are Purchasely's documented examples (reference sources §2.1).
func TestSignatureVectors(t *testing.T) {
	const want = "f3c2a452e9ea72f41107321aeaf7999f1054148866a710c9b23f9f501785e2a4"
	if got := Signature("foobar", "1698322022", []byte(`{"a_random_key":"a_random_value_ad"}`)); got != want {
		t.Errorf("request signature %s", got)
	}
	if got := DeprecatedSignature("foobar",
		"1580909929"); got != "ea909b88098b63ef93711cd14542403e5efe1a23c07d94a764bd4db55abba5a6" {
		t.Errorf("deprecated signature %s", got)
	}
	body := []byte(`{"event_name":"TRIAL_STARTED","event_id":"00000000-0000-4000-8000-000000000001"}`)
	if got := Signature("sim_shared_secret", "1735689600",
		body); got != "97bb4d5e050576176c99c082dad749085b34e17269045e54c1b4a8c1557eea78" {
		t.Errorf("request signature %s", got)
	}
}

func signed(secret, ts string, body []byte, now time.Time) relay.Request {
	h := http.Header{}
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, Signature(secret, ts, body))
	return relay.Request{Header: h, Body: body, Now: now}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"event_name":"TRIAL_STARTED","event_id":"x"}`)
	now := time.Unix(1735689600, 0)
	good := signed("s3cret", "1735689600", body, now)
	if err := VerifySignature("s3cret", 5*time.Minute, false, good); err != nil {
		t.Fatalf("a good signature was refused: %v", err)
	}
	upper := signed("s3cret", "1735689600", body, now)
	upper.Header.Set(HeaderSignature, strings.ToUpper(upper.Header.Get(HeaderSignature)))
	if err := VerifySignature("s3cret", 5*time.Minute, false, upper); err != nil {
		t.Fatalf("hex case must not matter: %v", err)
	}
	tampered := signed("s3cret", "1735689600", body, now)
	tampered.Body = []byte(`{"event_name":"TRIAL_CONVERTED","event_id":"x"}`)
	deprecated := relay.Request{Header: http.Header{}, Body: body, Now: now}
	deprecated.Header.Set(HeaderTimestamp, "1735689600")
	deprecated.Header.Set(HeaderDeprecatedSignature, DeprecatedSignature("s3cret", "1735689600"))
	cases := []struct {
		name             string
		r                relay.Request
		acceptDeprecated bool
		want             string
	}{
		{"wrong secret", signed("other", "1735689600", body, now), false, "does not match"},
		{"body changed", tampered, false, "does not match"},
		{"stale", signed("s3cret", "1735689000", body, now), false, "replay window is 5m0s"},
		{"future", signed("s3cret", "1735690000", body, now), false, "replay window"},
		{"not a number", signed("s3cret", "yesterday", body, now), false, "expected unix seconds"},
		{"deprecated not accepted", deprecated, false, "not configured to accept"},
	}
	for _, c := range cases {
		err := VerifySignature("s3cret", 5*time.Minute, c.acceptDeprecated, c.r)
		var e *relay.Error
		if !errors.As(err, &e) || e.Status != 401 || !strings.Contains(e.Message, c.want) {
			t.Errorf("%s: expected 401 with %q, got %v", c.name, c.want, err)
		}
	}
	if err := VerifySignature("s3cret", 5*time.Minute, true, deprecated); err != nil {
		t.Errorf("deprecated header accepted when configured: %v", err)
	}
	if err := VerifySignature("s3cret", 0, false, signed("s3cret", "1000", body, now)); err != nil {
		t.Errorf("window 0 turns the time check off: %v", err)
	}
}

func fullIntake(t *testing.T, edit func(*Settings)) *Intake {
	t.Helper()
	s := Settings{Secret: "s",
		CleverTap: &CleverTap{CleverTapAccount: relay.CleverTapAccount{Region: "EU1", AccountID: "ACC", Passcode: "p"}},
		Piano:     &Piano{CollectDomain: "collect.piano.test", CollectPath: "subscription", SiteID: "100001"}}
	if edit != nil {
		edit(&s)
	}
	in, err := New("sources.purchasely", s)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

const renewal = `{"api_version":3,"event_name":"SUBSCRIPTION_RENEWED","event_id":"e-7",` +
	`"event_created_at_ms":1767830409000,` +
	`"user_id":"user_42","store":"GOOGLE_PLAY_STORE","store_country":"FR","product":"PREMIUM","plan":"premium_monthly",` +
	`"purchase_type":"RENEWING_SUBSCRIPTION","offer_type":"NONE","subscription_status":"AUTO_RENEWING",` +
	`"environment":"PRODUCTION",` +
	`"customer_currency":"EUR","plan_price_in_customer_currency":9.99,"is_family_shared":false,` +
	`"purchased_at_ms":1767830400000,"original_purchased_at_ms":1767225600000,` +
	`"effective_next_renewal_at_ms":1770508800000,` +
	`"integration_clevertap_id":"ct-42","integration_at_internet_id_client":"at-42"}`

// TestMappingTable: the expected records are written by hand.
func TestMappingTable(t *testing.T) {
	in := fullIntake(t, func(s *Settings) {
		s.CleverTap.EventNames = map[string]string{"SUBSCRIPTION_RENEWED": "sub_renewed"}
		s.CleverTap.UserProperties = UserPropertiesSetting{Enabled: true, Names: map[string]string{"plan": "ply_plan"}}
		s.Piano.EventNames = map[string]string{"SUBSCRIPTION_RENEWED": "subscription.renewed"}
		s.Piano.DeclaredEvents = []string{"subscription.started"}
	})
	m, err := in.Map(relay.Request{Body: []byte(renewal)})
	if err != nil || len(m.Messages) != 3 {
		t.Fatalf("expected event + profile + Piano, got %v %+v", err, m)
	}
	want := []struct{ dest, payload string }{
		{CleverTapDestination,
			`{"type":"event","evtName":"sub_renewed","objectId":"ct-42","ts":1767830409,"evtData":{"user_id":"user_42",` +
				`"store":"GOOGLE_PLAY_STORE","store_country":"FR","product":"PREMIUM","plan":"premium_monthly",` +
				`"purchase_type":"RENEWING_SUBSCRIPTION",` +
				`"offer_type":"NONE","subscription_status":"AUTO_RENEWING","environment":"PRODUCTION","currency":"EUR",` +
				`"price":9.99}}`},
		{CleverTapDestination,
			`{"type":"profile","objectId":"ct-42","ts":1767830409,"profileData":{"user_id":"user_42",` +
				`"has_active_subscription":true,` +
				`"environment":"PRODUCTION","store":"GOOGLE_PLAY_STORE","product":"PREMIUM","ply_plan":"premium_monthly",` +
				`"subscription_status":"AUTO_RENEWING",` +
				`"offer_type":"NONE","is_family_shared":false,"original_purchased_at":"$D_1767225600",` +
				`"effective_next_renewal_at":"$D_1770508800",` +
				`"purchased_at":"$D_1767830400","store_country":"FR"}}`},
		{PianoDestination,
			`{"name":"subscription.renewed","data":{"user_id":"user_42","store":"GOOGLE_PLAY_STORE","store_country":"FR",` +
				`"product":"PREMIUM",` +
				`"plan":"premium_monthly","purchase_type":"RENEWING_SUBSCRIPTION","offer_type":"NONE",` +
				`"subscription_status":"AUTO_RENEWING",` +
				`"environment":"PRODUCTION","currency":"EUR","price":9.99}}`},
	}
	for i, w := range want {
		if m.Messages[i].Destination != w.dest {
			t.Fatalf("message %d: expected %s, got %s", i, w.dest, m.Messages[i].Destination)
		}
		if err := jsonmatch.Match([]byte(w.payload), m.Messages[i].Payload); err != nil {
			t.Fatalf("message %d: %v\nreceived %s", i, err, m.Messages[i].Payload)
		}
	}
	if m.Messages[2].Group != "at-42" {
		t.Fatalf("Piano messages are grouped by idclient, got %q", m.Messages[2].Group)
	}
	if len(m.Notes) != 1 || !strings.Contains(m.Notes[0],
		`"subscription.renewed" is not declared in site 100001's data model, so Piano will ignore it`) {
		t.Fatalf("expected a note that Piano will ignore the event, got %v", m.Notes)
	}
}

func TestMappingSkips(t *testing.T) {
	in := fullIntake(t, nil)
	cases := []struct{ body, want string }{
		{`{"event_name":"ACTIVATE","event_id":"1","integration_clevertap_id":"c","integration_at_internet_id_client":"a"}`,
			"ACTIVATE is not enabled"},
		{`{"event_name":"BRAND_NEW_EVENT","event_id":"2"}`, "unknown Purchasely event"},
		{`{"event_name":"TRIAL_STARTED","event_id":"3"}`, "no CleverTap ID (integration_clevertap_id)"},
	}
	for _, c := range cases {
		_, err := in.Map(relay.Request{Body: []byte(c.body)})
		var skip *relay.Skip
		if !errors.As(err, &skip) || !strings.Contains(skip.Reason, c.want) {
			t.Errorf("%s: expected a skip with %q, got %v", c.body, c.want, err)
		}
	}
	for _, bad := range []string{`[]`, `{"event_name":"TRIAL_STARTED"}`, `{"event_name":1,"event_id":"x"}`, `not json`} {
		_, err := in.Map(relay.Request{Body: []byte(bad)})
		var e *relay.Error
		if !errors.As(err, &e) || e.Status != 400 {
			t.Errorf("%s: expected a 400, got %v", bad, err)
		}
	}
}

func TestSettingsErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		edit func(*Settings)
		want string
	}{
		{func(s *Settings) { s.CleverTap.Region = "EU" }, "sources.purchasely.clevertap.region"},
		{func(s *Settings) { s.CleverTap.Events = []string{"TRIAL_STARTED", "TRIAL_BEGAN"} },
			`sources.purchasely.clevertap.events[1]: no such Purchasely event "TRIAL_BEGAN"`},
		{func(s *Settings) { s.CleverTap.EventNames = map[string]string{"ACTIVATE": "x"} },
			"sources.purchasely.clevertap.event_names.ACTIVATE: the event is not enabled"},
		{func(s *Settings) { s.CleverTap.UserProperties.Names = map[string]string{"age": "x"} },
			"sources.purchasely.clevertap.user_properties.names.age: no such user property"},
		{func(s *Settings) { s.Piano.SiteID = "abc" },
			`sources.purchasely.piano.site_id: expected the numeric site id, got "abc"`},
		{func(s *Settings) { s.Piano.CollectDomain = "https://x.pa-cd.com" }, "sources.purchasely.piano.collect_domain"},
		{func(s *Settings) { s.Piano.CollectPath = "/" }, "sources.purchasely.piano.collect_path"},
		{func(s *Settings) { d := -time.Second; s.ReplayWindow = &d }, "sources.purchasely.replay_window"},
		{func(s *Settings) { s.CleverTap, s.Piano = nil, nil }, "expected a clevertap or piano integration"},
	}
	for _, c := range cases {
		s := Settings{CleverTap: &CleverTap{CleverTapAccount: relay.CleverTapAccount{Region: "EU1", AccountID: "A",
			Passcode: "p"}},
			Piano: &Piano{CollectDomain: "c.pa-cd.com", CollectPath: "event", SiteID: "1"}}
		c.edit(&s)
		if _, err := New("sources.purchasely", s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("expected an error with %q, got %v", c.want, err)
		}
	}
}

// The deprecated signature cannot bind the body (reference sources §3: HMAC of secret + timestamp): accepting it
// is warned about at start-up.
func TestAcceptingTheDeprecatedSignatureIsWarnedAbout(t *testing.T) {
	in, err := New("sources.purchasely", Settings{Secret: "s", AcceptDeprecatedSignature: true,
		CleverTap: &CleverTap{CleverTapAccount: relay.CleverTapAccount{Region: "eu1", AccountID: "A", Passcode: "p"}}})
	if err != nil {
		t.Fatal(err)
	}
	if w := in.Warnings(); len(w) != 1 || !strings.Contains(w[0], "signs the timestamp only, not the body") {
		t.Fatalf("expected the risk in the warnings, got %v", w)
	}
}

// BenchmarkMap is the mapping's cost a webhook: a renewal to CleverTap (event and profile) and Piano.
func BenchmarkMap(b *testing.B) {
	s := Settings{Secret: "s",
		CleverTap: &CleverTap{CleverTapAccount: relay.CleverTapAccount{Region: "EU1", AccountID: "ACC", Passcode: "p"},
			UserProperties: UserPropertiesSetting{Enabled: true}},
		Piano: &Piano{CollectDomain: "collect.piano.test", CollectPath: "subscription", SiteID: "100001"}}
	in, err := New("sources.purchasely", s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if m, err := in.Map(relay.Request{Body: []byte(renewal)}); err != nil || len(m.Messages) != 3 {
			b.Fatalf("expected 3 messages, got %d, %v", len(m.Messages), err)
		}
	}
}
