package appsflyer

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/internal/jsonmatch"
	"github.com/ctharness/ctharness/relay"
)

func intake(t *testing.T, edit func(*CleverTap)) *Intake {
	t.Helper()
	s := Settings{Token: "tok", CleverTap: CleverTap{Region: "IN1", AccountID: "ACC", AccountToken: "t",
		AccountPasscode: "p"}}
	if edit != nil {
		edit(&s.CleverTap)
	}
	in, err := New("sources.appsflyer", s)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

const subscribe = `{"api_version":"2.0","event_name":"af_subscribe","event_time":"2026-01-08 00:00:00.000",` +
	`"appsflyer_id":"1767222000000-1",` +
	`"customer_user_id":"ct-1","platform":"ios","media_source":"tiktokglobal_int","campaign":"winter",` +
	`"event_revenue":"9.99",` +
	`"event_revenue_currency":"EUR","event_value":"{\"af_content_id\":\"premium\",\"af_currency\":\"EUR\",` +
	`\"af_revenue\":\"9.99\"}"}`

// TestMappingTable: each row's parameters are written by hand from AppsFlyer's and CleverTap's pages.
func TestMappingTable(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*CleverTap)
		body   string
		params string
		skip   string
	}{
		{name: "in-app event with values and revenue", body: subscribe,
			params: `{"partner_name":"AppsFlyer","event_type":"af_subscribe","device_identifier":"ct-1",` +
				`"timestamp":"1767830400","platform":"ios",` +
				`"appsflyer_id":"1767222000000-1","utm_source":"tiktokglobal_int","utm_campaign":"winter",` +
				`"af_content_id":"premium","af_currency":"EUR",` +
				`"af_revenue":"9.99","revenue":"9.99","currency":"EUR"}`},
		{name: "values without revenue", edit: func(c *CleverTap) {
			c.InAppEvents = map[string]InAppEvent{"af_subscribe": {PartnerEvent: "subscribed", SendRevenue: ValuesNoRevenue}}
		},
			body: subscribe,
			params: `{"partner_name":"AppsFlyer","event_type":"subscribed","device_identifier":"ct-1",` +
				`"timestamp":"1767830400",` +
				`"platform":"ios",` +
				`"appsflyer_id":"1767222000000-1","utm_source":"tiktokglobal_int","utm_campaign":"winter",` +
				`"af_content_id":"premium","af_currency":"EUR"}`},
		{name: "no values no revenue", edit: func(c *CleverTap) {
			c.InAppEvents = map[string]InAppEvent{"af_subscribe": {SendRevenue: NoValuesNoRevenue}}
		},
			body: subscribe,
			params: `{"partner_name":"AppsFlyer","event_type":"af_subscribe","device_identifier":"ct-1",` +
				`"timestamp":"1767830400","platform":"ios",` +
				`"appsflyer_id":"1767222000000-1","utm_source":"tiktokglobal_int","utm_campaign":"winter"}`},
		{name: "organic install",
			body: `{"event_name":"install","event_time":"2026-01-01 00:00:00.000","appsflyer_id":"9-9",` +
				`"customer_user_id":"ct-2","media_source":"organic"}`,
			params: `{"partner_name":"AppsFlyer","event_type":"organic_install","device_identifier":"ct-2",` +
				`"timestamp":"1767225600","appsflyer_id":"9-9","utm_source":"organic"}`},
		{name: "organic install off", edit: func(c *CleverTap) { c.Installs = InstallsNonOrganic },
			body: `{"event_name":"install","event_time":"2026-01-01 00:00:00.000","appsflyer_id":"9-9",` +
				`"customer_user_id":"ct-2"}`, skip: "non-organic media sources only"},
		{name: "no customer user id",
			body: `{"event_name":"af_subscribe","event_time":"2026-01-01 00:00:00.000","appsflyer_id":"9-9"}`,
			skip: "no customer user id"},
		{name: "restricted media source",
			body: `{"event_name":"install","event_time":"2026-01-01 00:00:00.000","appsflyer_id":"9-9","customer_user_id":"c",` +
				`"media_source":"Facebook Ads"}`, skip: "restricts sharing"},
		{name: "unmapped in-app event",
			body: `{"event_name":"af_login","event_time":"2026-01-01 00:00:00.000","appsflyer_id":"9-9","customer_user_id":"c"}`,
			skip: "af_login is not mapped"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := intake(t, c.edit).Map(relay.Request{Method: http.MethodPost, Body: []byte(c.body)})
			if c.skip != "" {
				var skip *relay.Skip
				if !errors.As(err, &skip) || !strings.Contains(skip.Reason, c.skip) {
					t.Fatalf("expected a skip with %q, got %v", c.skip, err)
				}
				return
			}
			if err != nil || len(m.Messages) != 1 || m.Messages[0].Kind != relay.KindAttribution {
				t.Fatalf("expected one attribution call, got %v %+v", err, m)
			}
			if err := jsonmatch.Match([]byte(c.params), m.Messages[0].Payload); err != nil {
				t.Fatalf("%v\nreceived %s", err, m.Messages[0].Payload)
			}
		})
	}
}

func TestGetMessagesAndEventIDs(t *testing.T) {
	in := intake(t, nil)
	q := url.Values{"event_name": {"af_start_trial"}, "event_time": {"2026-01-01 00:00:00.000"}, "appsflyer_id": {"1-2"},
		"customer_user_id": {"c"}}
	m, err := in.Map(relay.Request{Method: http.MethodGet, Query: q})
	if err != nil || m.EventID != "1-2|af_start_trial|2026-01-01 00:00:00.000" {
		t.Fatalf("expected the built event id, got %v %q", err, m.EventID)
	}
	_, err = in.Map(relay.Request{Method: http.MethodGet, Query: url.Values{"event_name": {"install"}}})
	var e *relay.Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "expected appsflyer_id and event_time") {
		t.Fatalf("a message without identity must be a 400, got %v", err)
	}
}

// TestRegionAsAppsFlyerTakesIt: uppercase codes (ID for aps3); lowercase falls back to EU1 with a warning.
func TestRegionAsAppsFlyerTakesIt(t *testing.T) {
	for typed, want := range map[string]string{"EU1": "eu1", "IN1": "in1", "ID": "aps3", "MEC1": "mec1", "SK1": "sk1",
		"in1": "eu1", "Us1": "eu1", "": "eu1"} {
		in := intake(t, func(c *CleverTap) { c.Region = typed })
		if got := in.Destinations()[Destination].Region; got != want {
			t.Errorf("region %q: expected %s, got %s", typed, want, got)
		}
		if lower := typed != strings.ToUpper(typed); lower != (len(in.Warnings()) == 1) {
			t.Errorf("region %q: warnings %v", typed, in.Warnings())
		}
	}
	if _, err := New("sources.appsflyer", Settings{CleverTap: CleverTap{Region: "EU2",
		AccountID: "A"}}); err == nil || !strings.Contains(err.Error(),
		`sources.appsflyer.clevertap.region: expected one of EU1, IN1, SG1, US1, ID, MEC1, SK1 (uppercase), got "EU2"`) {
		t.Errorf("unknown region: %v", err)
	}
	if _, err := New("sources.appsflyer",
		Settings{CleverTap: CleverTap{Region: "EU1"}}); err == nil || !strings.Contains(err.Error(),
		"at least one of account_token, account_passcode, account_id") {
		t.Errorf("no credentials: %v", err)
	}
}

// Keys inside event_value (set by the app's SDK) never override the postback's own parameters: a colliding key is
// dropped and the answer says so; other keys pass through.
func TestEventValueCannotOverrideReservedParameters(t *testing.T) {
	in := intake(t, nil)
	body := `{"event_name":"af_subscribe","event_time":"2026-01-08 00:00:00.000","appsflyer_id":"1-1",` +
		`"customer_user_id":"ct-1","media_source":"organic","event_value":"{\"device_identifier\":\"victim\",` +
		`\"event_type\":\"forged\",\"partner_name\":\"Other\",\"utm_source\":\"spoof\",\"timestamp\":\"1\",` +
		`\"Account_Token\":\"x\",\"af_content_id\":\"premium\"}"}`
	m, err := in.Map(relay.Request{Method: http.MethodPost, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	var params map[string]string
	if err := json.Unmarshal(m.Messages[0].Payload, &params); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"device_identifier": "ct-1", "event_type": "af_subscribe",
		"partner_name": "AppsFlyer", "utm_source": "organic", "timestamp": "1767830400", "af_content_id": "premium"} {
		if params[k] != want {
			t.Errorf("%s: expected %q, got %q", k, want, params[k])
		}
	}
	if _, ok := params["Account_Token"]; ok {
		t.Error("a credential name in event_value must be dropped whatever its case")
	}
	if len(m.Notes) != 1 || !strings.Contains(m.Notes[0],
		"Account_Token, device_identifier, event_type, partner_name, timestamp, utm_source name reserved parameters") {
		t.Errorf("expected a note naming the dropped keys, got %v", m.Notes)
	}
}

// A restricted media source is restricted with spaces around it too ("Facebook Ads " used to get through).
func TestARestrictedMediaSourceWithSpacesIsStillRestricted(t *testing.T) {
	in := intake(t, nil)
	body := strings.Replace(subscribe, `"media_source":"tiktokglobal_int"`, `"media_source":"Facebook Ads "`, 1)
	_, err := in.Map(relay.Request{Method: http.MethodPost, Body: []byte(body)})
	var skip *relay.Skip
	if !errors.As(err, &skip) || !strings.Contains(skip.Reason, `media source "Facebook Ads" restricts sharing`) {
		t.Fatalf("expected the postback skipped as restricted, got %v", err)
	}
}
