package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ctharness/ctharness/simulator/sources/purchasely"
)

type captured struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	statuses []int // answered in turn; 200 once they run out
}

func (c *captured) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.requests = append(c.requests, r)
		c.bodies = append(c.bodies, b)
		status := http.StatusOK
		if len(c.statuses) > 0 {
			status, c.statuses = c.statuses[0], c.statuses[1:]
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func emit(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"emit"}, args...), func(string) string { return "" }, &out, &out)
	return out.String(), err
}

func TestEmitRevenueCatSendsTheAuthorizationValue(t *testing.T) {
	var c captured
	srv := c.server(t)
	out, err := emit(t, "revenuecat", "INITIAL_PURCHASE", "--to", srv.URL+"/webhooks/revenuecat", "--user", "u1",
		"--clevertap-id", "ct-1", "--period-type", "TRIAL", "--env", "sandbox", "--auth", "Bearer s3cret")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "<-- attempt 1: HTTP 200") || strings.Contains(out, "s3cret") {
		t.Fatalf("expected the answer printed and the secret masked:\n%s", out)
	}
	var body struct {
		Event map[string]any `json:"event"`
	}
	_ = json.Unmarshal(c.bodies[0], &body)
	if c.requests[0].Header.Get("Authorization") != "Bearer s3cret" || body.Event["period_type"] != "TRIAL" ||
		body.Event["environment"] != "SANDBOX" ||
		body.Event["subscriber_attributes"].(map[string]any)["$clevertapId"].(map[string]any)["value"] != "ct-1" {
		t.Fatalf("unexpected request %v %s", c.requests[0].Header, c.bodies[0])
	}
}

func TestEmitPurchaselySigns(t *testing.T) {
	var c captured
	srv := c.server(t)
	if out, err := emit(t, "purchasely", "TRIAL_STARTED", "--to", srv.URL, "--user", "u1", "--secret", "S"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	h := c.requests[0].Header
	if h.Get(purchasely.HeaderSignature) != purchasely.Signature("S", h.Get(purchasely.HeaderTimestamp), c.bodies[0]) {
		t.Fatal("the signature does not verify with the shared secret")
	}
}

func TestEmitAppsFlyerRevenueWithCurrency(t *testing.T) {
	var c captured
	srv := c.server(t)
	if out, err := emit(t, "appsflyer", "af_subscribe", "--to", srv.URL, "--customer-user-id", "ct-1", "--token", "tok",
		"--revenue", "9.99", "EUR"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var m map[string]any
	_ = json.Unmarshal(c.bodies[0], &m)
	if m["event_revenue"] != "9.99" || m["event_revenue_currency"] != "EUR" || m["customer_user_id"] != "ct-1" ||
		c.requests[0].Header.Get("Authorization") != "tok" {
		t.Fatalf("unexpected postback %v %s", c.requests[0].Header, c.bodies[0])
	}
}

func TestEmitNeverPrintsTheTokenWhateverItsHeader(t *testing.T) {
	var c captured
	srv := c.server(t)
	out, err := emit(t, "appsflyer", "af_subscribe", "--to", srv.URL, "--customer-user-id", "ct-1", "--token-header",
		"X-Af-Token", "--token", "supersecret-token-value")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out,
		"supersecret-token-value") || c.requests[0].Header.Get("X-Af-Token") != "supersecret-token-value" {
		t.Fatalf("expected the token sent but not printed:\n%s", out)
	}
}

func TestEmitRetriesAsTheVendorWhenAsked(t *testing.T) {
	c := captured{statuses: []int{500, 503}}
	srv := c.server(t)
	out, err := emit(t, "revenuecat", "RENEWAL", "--to", srv.URL, "--retry", "--time-scale", "0.00001")
	if err != nil || len(c.bodies) != 3 || !bytes.Equal(c.bodies[0], c.bodies[2]) {
		t.Fatalf("expected 3 identical attempts, got %d: %v\n%s", len(c.bodies), err, out)
	}
}

func TestEmitPrintAndSetAndList(t *testing.T) {
	out, err := emit(t, "revenuecat", "CANCELLATION", "--print", "--set", "event.cancel_reason=PRICE_INCREASE")
	if err != nil || !strings.Contains(out, `"cancel_reason": "PRICE_INCREASE"`) || !strings.Contains(out, "(not sent)") {
		t.Fatalf("expected the edited body printed:\n%s %v", out, err)
	}
	out, err = emit(t, "purchasely", "--list")
	if err != nil || !strings.Contains(out, "TRIAL_CONVERTED\n") || !strings.Contains(out, "TRANSACTION_PROCESSED\n") {
		t.Fatalf("expected the event list:\n%s", out)
	}
}

func TestEmitBadInput(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"stripe", "x"}, `unknown source "stripe": expected one of revenuecat, purchasely, appsflyer`},
		{[]string{"revenuecat", "PURCHASE", "--print"},
			`unknown RevenueCat event type "PURCHASE": expected one of TEST, INITIAL_PURCHASE`},
		{[]string{"purchasely", "TRIAL_BEGAN", "--print"},
			`unknown Purchasely event "TRIAL_BEGAN": expected one of ACTIVATE`},
		{[]string{"appsflyer", "af_subscribe", "--print"},
			"would send nothing: no postback: the app set no AppsFlyer customer user id"},
		{[]string{"revenuecat", "RENEWAL", "--print", "--set", "event..price=1"}, "expected path=value"},
		{[]string{"revenuecat", "RENEWAL", "--to", "not a url"}, `--to: expected an http(s) URL`},
		{[]string{"revenuecat", "RENEWAL", "--to", "http://127.0.0.1:1/webhooks/revenuecat"},
			"not delivered after 1 attempt(s)"},
		{[]string{"revenuecat", "RENEWAL", "--env", "staging", "--print"},
			`--env: expected sandbox or production, got "staging"`},
		{[]string{"revenuecat"}, "expected an event type, one of TEST, INITIAL_PURCHASE"},
		{[]string{"revenuecat", "RENEWAL", "--to", "http://127.0.0.1:1/webhooks/revenuecat"}, "is the stack running?"},
		{[]string{}, "expected a source: revenuecat, purchasely, appsflyer"},
	}
	for _, tc := range cases {
		out, err := emit(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: expected an error containing %q, got %v\n%s", tc.args, tc.want, err, out)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: expected a one-line error, got %q", tc.args, err)
		}
	}
}

// Without --to and a credential, emit goes to the stack `make run` starts (--relay, default its relay) with the
// default relay config's credential, and says so.
func TestEmitDefaultsToTheStackAndItsCredential(t *testing.T) {
	var c captured
	srv := c.server(t)
	var out bytes.Buffer
	getenv := func(k string) string { return map[string]string{"SIMULATOR_RELAY": srv.URL}[k] }
	if err := run(context.Background(), []string{"emit", "revenuecat", "RENEWAL"}, getenv, &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if c.requests[0].URL.Path != "/webhooks/revenuecat" ||
		c.requests[0].Header.Get("Authorization") != "Bearer sim-revenuecat" {
		t.Fatalf("expected the relay's route and the default credential, got %s %v", c.requests[0].URL,
			c.requests[0].Header)
	}
	for _, want := range []string{"--auth: the default relay config's", "to the relay at " + srv.URL} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("expected the output to say %q:\n%s", want, out.String())
		}
	}
}

// Each vendor's emit lists its own identity flags, not the other vendors'.
func TestEachVendorsEmitHasItsOwnIdentityFlags(t *testing.T) {
	own := map[string]string{"revenuecat": "anonymous-id", "purchasely": "at-internet-id",
		"appsflyer": "customer-user-id"}
	for vendor := range own {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"emit", vendor, "--help"}, func(string) string { return "" },
			&out, &out); err != nil {
			t.Fatal(err)
		}
		for other, flag := range own {
			if shown := strings.Contains(out.String(), "--"+flag+" "); shown != (other == vendor) {
				t.Errorf("emit %s --help: --%s shown=%v", vendor, flag, shown)
			}
		}
	}
}
