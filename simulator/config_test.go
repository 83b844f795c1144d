package simulator

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
accounts:
  - id: ACME-EU1
    passcodes: [one, two]
    region: EU1
    token: t1
    discarded_events: [Old]
    event_property_limit: 100
piano:
  sites:
    - id: "42"
      domain: acme.pa-cd.com
      events: [subscription.started]
`), "accounts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Accounts) != 1 || cfg.Accounts[0].ID != "ACME-EU1" || len(cfg.Accounts[0].Passcodes) != 2 ||
		len(cfg.Piano.Sites) != 1 {
		t.Fatalf("unexpected config %+v", cfg)
	}
}

func TestParseConfigErrorsNameLineAndKey(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"accounts:\n  - id: A\n    passcodes: [p]\n    region: eu1\n  - id: B\n    passcodes: [p]\n    region: mars\n",
			`accounts.yaml:7:13: accounts[1].region: expected one of eu1, in1, sg1, us1, aps3, mec1, sk1, got "mars"`},
		{"accounts:\n  - id: A\n    passcode: p\n    region: eu1\n",
			`accounts.yaml:3:5: accounts[0].passcode: unknown key "passcode" (did you mean "passcodes"?)`},
		{"accounts:\n  - id: A\n    region: eu1\n",
			`accounts.yaml:2:5: accounts[0]: expected the key "passcodes" (a list of passcodes, e.g. [eu1-pass]), got none`},
		{"", "accounts.yaml: expected a YAML document, got an empty file"},
		{"accounts: []\n", "accounts.yaml:1:11: accounts: expected a list of at least one account, got 0"},
		{"accounts:\n  - id: A\n    passcodes: [p]\n    region: eu1\npiano:\n  sites:\n    - id: abc\n      domain: d\n",
			`accounts.yaml:7:11: piano.sites[0].id: expected the numeric site id, e.g. "100001", got "abc"`},
		{"accounts:\n  - id: A\n    passcodes: [p]\n    region: eu1\n    timezone: Mars/Olympus\n",
			`accounts.yaml:5:15: accounts[0].timezone: expected an IANA time zone such as Asia/Kolkata or UTC for ` +
				`account A, got "Mars/Olympus"`},
	}
	for _, tc := range cases {
		_, err := ParseConfig([]byte(tc.yaml), "accounts.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("expected an error containing %q, got %v", tc.want, err)
		}
	}
}

func TestSimulatorDispatchesPianoAndCleverTap(t *testing.T) {
	sim, err := New(Config{}, fake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := sim.Client()
	ctx := context.Background()
	if _, _, err := c.Upload(ctx, "eu1", clevertap.Credentials{AccountID: "SIM-EU1-0001", Passcode: "sim-eu1-pass"},
		map[string]any{"type": "event", "identity": "u", "evtName": "e", "evtData": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, c.BaseURL+"/piano/event?s=100001&idclient=x",
		strings.NewReader(`{"events":[{"name":"TRIAL_STARTED","data":{}}]}`))
	res, err := c.Do(req)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("expected 204 from the Piano collector, got %v %+v", err, res)
	}
	res, _ = c.Do(mustGet(c.BaseURL + "/_sim/piano/events?site=100001"))
	if !strings.Contains(string(res.Body), `"name":"TRIAL_STARTED"`) {
		t.Fatalf("expected the Piano event at /_sim/piano/events, got %s", res.Body)
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if len(sim.Piano.Hits("", true)) != 0 || len(sim.CleverTap.Events(clevertap.EventFilter{})) != 0 {
		t.Fatal("/_sim/reset must clear both fakes")
	}
}

func mustGet(url string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	return req
}
