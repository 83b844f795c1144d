package appsflyer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/jsonmatch"
	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var jane = lifecycle.User{AppUserID: "user_42", CleverTapID: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
	CustomerUserID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", Country: "FR"}

var cfg = Config{AppID: "id1234567890", BundleID: "com.example.app", MediaSource: "tiktokglobal_int",
	Campaign: "winter_trial_fr", SendInstalls: true}

func trialConverted(t *testing.T, u lifecycle.User, c Config) ([]sources.Webhook, error) {
	t.Helper()
	s, err := lifecycle.Start(lifecycle.NewVirtualClock(t0), lifecycle.Purchase{User: u, Store: lifecycle.AppStore,
		Product: lifecycle.Product{ID: "com.example.premium.monthly", Period: "P1M", Price: 9.99, Currency: "EUR"},
		Offer:   lifecycle.Offer{Type: lifecycle.FreeTrial, Period: "P1W"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AdvanceToPeriodEnd(context.Background()); err != nil {
		t.Fatal(err)
	}
	return Render(s.Facts(), c)
}

func TestTrialStorySendsInstallTrialAndSubscribe(t *testing.T) {
	hooks, err := trialConverted(t, jane, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range hooks {
		names = append(names, h.EventType)
	}
	if strings.Join(names, " ") != "install af_start_trial af_subscribe" {
		t.Fatalf("expected install af_start_trial af_subscribe, got %v", names)
	}
	want, _ := os.ReadFile(filepath.Join("..", "..", "..", "fixtures", "golden", "appsflyer",
		"trial-converted-subscribe.json"))
	if err := jsonmatch.Match(want, hooks[2].Body); err != nil {
		t.Fatal(err)
	}
	var install, trial map[string]any
	_ = json.Unmarshal(hooks[0].Body, &install)
	_ = json.Unmarshal(hooks[1].Body, &trial)
	if install["appsflyer_id"] != trial["appsflyer_id"] || install["idfv"] != trial["idfv"] {
		t.Fatal("a user's AppsFlyer id and device ids must be the same in every message")
	}
	if trial["event_value"] != `{"af_content_id":"com.example.premium.monthly","af_currency":"EUR"}` ||
		trial["event_revenue"] != nil {
		t.Fatalf("a free trial has no revenue, got %v / %v", trial["event_value"], trial["event_revenue"])
	}
}

func TestNothingIsSentWithoutCustomerUserIDOrForRestrictedSources(t *testing.T) {
	noCUID := jane
	noCUID.CustomerUserID = ""
	var skipped Skipped
	if hooks, err := trialConverted(t, noCUID, cfg); len(hooks) != 0 || !errors.As(err,
		&skipped) || !strings.Contains(err.Error(), "customer user id") {
		t.Fatalf("expected no postback without a customer user id, got %d %v", len(hooks), err)
	}
	fb := cfg
	fb.MediaSource = "Facebook Ads"
	if hooks, err := trialConverted(t, jane, fb); len(hooks) != 0 || !strings.Contains(err.Error(),
		`media source "Facebook Ads" restricts sharing`) {
		t.Fatalf("expected no postback for a restricted media source, got %d %v", len(hooks), err)
	}
}

func TestSendRevenueOptions(t *testing.T) {
	cases := []struct {
		option             SendRevenue
		value, revenueWant string
	}{
		{NoValuesNoRevenue, ``, ""},
		{ValuesNoRevenue, `{"af_content_id":"com.example.premium.monthly","af_currency":"EUR","af_renewal":"true"}`, ""},
		{ValuesAndRevenue,
			`{"af_content_id":"com.example.premium.monthly","af_currency":"EUR","af_renewal":"true","af_revenue":"9.99"}`,
			"9.99"},
	}
	for _, tc := range cases {
		c := cfg
		c.SendRevenue = tc.option
		hooks, err := trialConverted(t, jane, c)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(hooks[2].Body, &m)
		revenue, _ := m["event_revenue"].(string)
		if m["event_value"] != tc.value || revenue != tc.revenueWant {
			t.Errorf("%s: expected value %q revenue %q, got %q %q", tc.option, tc.value, tc.revenueWant, m["event_value"],
				revenue)
		}
	}
}

func TestGETPutsTheFieldsInTheQuery(t *testing.T) {
	c := cfg
	c.Method = "GET"
	hooks, _ := trialConverted(t, jane, c)
	h := hooks[1]
	if h.Method != "GET" || h.Body != nil || h.Query.Get("event_name") != "af_start_trial" ||
		h.Query.Get("customer_user_id") != jane.CustomerUserID {
		t.Fatalf("unexpected GET postback %+v", h)
	}
}

func TestOrganicInstall(t *testing.T) {
	c := cfg
	c.MediaSource = ""
	hooks, _ := trialConverted(t, jane, c)
	if hooks[0].EventType != OrganicInstall || strings.Contains(string(hooks[0].Body), "attributed_touch") {
		t.Fatalf("expected an organic install without touch fields, got %s %s", hooks[0].EventType, hooks[0].Body)
	}
}

func TestRetriesOnlyWhenEnabled(t *testing.T) {
	if len(Policy(false).Retries) != 0 || len(Policy(true).Retries) != 3 || !Policy(false).Success(204) ||
		Policy(false).Success(302) {
		t.Fatal("unexpected AppsFlyer policy")
	}
}
