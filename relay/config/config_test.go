package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultConfigBuilds(t *testing.T) {
	b, err := Default().Build()
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Sources) != 3 || len(b.Warnings) != 0 {
		t.Fatalf("expected three sources and no warnings, got %d %v", len(b.Sources), b.Warnings)
	}
	for name, want := range map[string]string{"revenuecat/clevertap": "SIM-EU1-0001",
		"revenuecat/clevertap-sandbox": "SIM-EU1-SBX1",
		"purchasely/clevertap":         "SIM-EU1-0001", "appsflyer/clevertap": "SIM-EU1-0001"} {
		if got := b.Endpoints[name]; got.AccountID != want || got.Region != "eu1" {
			t.Errorf("%s: expected %s in eu1, got %+v", name, want, got)
		}
	}
	if p := b.Endpoints["purchasely/piano"]; p.SiteID != "100001" || p.Domain != "collect.piano.test" ||
		p.Path != "event" {
		t.Errorf("Piano destination %+v", p)
	}
}

// TestMistakesNameTheKey: a config mistake stops start-up with a message naming the key.
func TestMistakesNameTheKey(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"sources:\n  revenuecat:\n    clevertap: {region: xx1, account_id: A, passcode: p}\n",
			`sources.revenuecat.clevertap.region: expected one of eu1`},
		{"sources:\n  revenuecat:\n    clevertap: {region: eu1, account_id: A}\n", "sources.revenuecat.clevertap.passcode"},
		{"sources:\n  revenuecat:\n    clevertap: {region: eu1, account_id: A, passcode: p, events: {refund_event: x}}\n",
			"sources.revenuecat.clevertap.events.refund_event: no such event"},
		{"sources:\n  revenuecat:\n    clevertap: {region: eu1, account_id: A, passcode: p, colour: red}\n",
			`relay.yaml:3:58: sources.revenuecat.clevertap.colour: unknown key "colour"; expected one of account_id`},
		{"sources:\n  purchasley: {}\n",
			`relay.yaml:2:3: sources.purchasley: unknown key "purchasley" (did you mean "purchasely"?)`},
		{"sources: {}\n", "relay.yaml:1:10: sources: expected at least one of revenuecat, purchasely, appsflyer, got " +
			"a mapping of 0 key(s)"},
		{"clevertap: {endpoint: 'ftp://x'}\nsources:\n  appsflyer: {clevertap: {account_id: A}}\n",
			"clevertap.endpoint: expected an http(s) URL template"},
		{"delivery: {max_batch: 5000}\nsources:\n  appsflyer: {clevertap: {account_id: A}}\n",
			"delivery.max_batch: expected 1 to 1000"},
		{"delivery: {max_concurrent_per_account: 20}\nsources:\n  appsflyer: {clevertap: {account_id: A}}\n",
			"delivery.max_concurrent_per_account: expected 1 to 15"},
		{"delivery: {max_concurrent_per_account: 4, max_partial_uploads: 5}\n" +
			"sources:\n  appsflyer: {clevertap: {account_id: A}}\n",
			"delivery.max_partial_uploads: expected 1 to max_concurrent_per_account (4), got 5"},
		{"intake: {dedupe_window: 1m}\nsources:\n  appsflyer: {clevertap: {account_id: A}}\n",
			"intake.dedupe_window: expected at least 1h"},
	}
	for _, c := range cases {
		cfg, err := Parse([]byte(c.yaml), "relay.yaml")
		if err == nil {
			_, err = cfg.Build()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: expected an error with %q, got %v", c.yaml, c.want, err)
		}
	}
}

// Load places what Build finds (beyond the schema) at its line and column too.
func TestLoadPlacesBuildErrorsAtTheirKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.yaml")
	if err := os.WriteFile(path, []byte("sources:\n  revenuecat:\n    clevertap: {region: xx1, account_id: A, "+
		"passcode: p}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + `:3:25: sources.revenuecat.clevertap.region: expected one of eu1, in1, sg1, us1, aps3, mec1, ` +
		`sk1, got "xx1"`; err == nil || err.Error() != want {
		t.Fatalf("expected\n%s\ngot\n%v", want, err)
	}
}

func TestProductionEndpointsByDefault(t *testing.T) {
	cfg, err := Parse([]byte("sources:\n  appsflyer: {clevertap: {account_id: A, region: in1}}\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	b, err := cfg.Build()
	if err != nil {
		t.Fatal(err)
	}
	if b.Delivery.CleverTapEndpoint != ProductionCleverTap || b.Delivery.PianoEndpoint != ProductionPiano {
		t.Fatalf("expected production templates, got %s %s", b.Delivery.CleverTapEndpoint, b.Delivery.PianoEndpoint)
	}
	if len(b.Warnings) < 1 || !strings.Contains(strings.Join(b.Warnings, "\n"), `"in1" has lowercase letters`) {
		t.Fatalf("expected the lowercase region warning, got %v", b.Warnings)
	}
}

func TestSecretsListsEveryCredential(t *testing.T) {
	got := strings.Join(Default().Secrets(), " ")
	for _, s := range []string{"Bearer sim-revenuecat", "sim-purchasely", "sim-appsflyer", "sim-eu1-pass",
		"sim-eu1-sbx-pass", "sim-eu1-token"} {
		if !strings.Contains(got, s) {
			t.Errorf("Secrets() lacks %q", s)
		}
	}
}
