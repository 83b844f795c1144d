package scenarios

import (
	"strings"
	"testing"

	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/purchasely"
	"github.com/ctharness/ctharness/relay/revenuecat"
)

func TestBuiltInScenariosCoverWhatTheyMust(t *testing.T) {
	all, err := LoadBuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 30 {
		t.Fatalf("expected at least 30 built-in scenarios, got %d", len(all))
	}
	names := map[string]bool{}
	events := map[string]bool{}
	regions := map[string]bool{}
	labels := map[string]bool{}
	for _, s := range all {
		if names[s.Name] {
			t.Errorf("two scenarios are called %s", s.Name)
		}
		names[s.Name] = true
		for _, l := range s.Labels {
			labels[l] = true
		}
		for src, e := range s.Expect {
			for _, r := range e.CleverTap {
				events[src+":"+r.Event] = true
				if r.Region != "" {
					regions[r.Region] = true
				}
			}
			for _, p := range e.Piano {
				events["piano:"+p.Event] = true
			}
		}
	}
	for _, name := range revenuecat.DefaultEventNames {
		if !events["revenuecat:"+name] {
			t.Errorf("no scenario expects RevenueCat's %s", name)
		}
	}
	for _, name := range purchasely.HeadlineEvents {
		if !events["purchasely:"+name] {
			t.Errorf("no scenario expects Purchasely's %s at CleverTap", name)
		}
	}
	for _, name := range []string{"af_start_trial", "af_subscribe", "af_purchase", "inorganic_install"} {
		if !events["appsflyer:"+name] {
			t.Errorf("no scenario expects AppsFlyer's %s", name)
		}
	}
	for _, r := range relay.Regions {
		if !regions[r] {
			t.Errorf("no scenario expects records in region %s", r)
		}
	}
	for _, l := range []string{"sandbox", "overrides", "disabled", "revenue", "wrong_region", "wrong_passcode",
		"appsflyer_cuid",
		"appsflyer_region", "piano", "duplicates", "outage", "refund", "billing", "grace", "pause", "transfer",
		"product_change"} {
		if !labels[l] {
			t.Errorf("no scenario is labelled %s", l)
		}
	}
}

// TestMistakesAreRejectedWithFileLineAndChoices: a scenario file with a mistake names the file, the line and
// column, the key path, what was expected and what arrived, and a likely meaning; never a Go type.
func TestMistakesAreRejectedWithFileLineAndChoices(t *testing.T) {
	head := "name: x\nuser: {app_user_id: u, clevertap_id: c}\nproduct: {id: p, period: P1M, price: 1, currency: EUR}\n"
	cases := []struct{ yaml, want string }{
		{head + "steps: [purchase, renw]\nexpect:\n  revenuecat:\n    clevertap: []\n",
			`my.yaml:4:19: steps[1]: expected a step: purchase, renew, cancel, uncancel, expire, billing_issue, recover, ` +
				`billing_expire, refund, pause, resume, resubscribe, duplicate, clear_faults, or one of {wait: 72h}, ` +
				`{change_product: {...}}, {transfer: {to: {...}}}, {fault: {...}}, {webhook: {...}}, {billing_issue: ` +
				`{grace: true}}, got "renw" (did you mean "renew"?)`},
		{head + "steps: [purchase]\nexpect:\n  revenuecat:\n    clevertap:\n      - {event: rc_trial_start, identity: c}\n",
			`my.yaml:8:17: expect.revenuecat.clevertap[0].event: unknown event name "rc_trial_start" (did you mean ` +
				`"rc_trial_started_event"?); expected one of rc_billing_issue_event`},
		{head + "sources: [revenuecat]\nsteps: [purchase]\nexpect:\n  revenuecat: {clevertap: []}\n  appsflyer:\n" +
			"    clevertap: []\n",
			`my.yaml:9:5: expect.appsflyer: an expectation for a source the scenario does not use (sources: revenuecat)`},
		{head + "steps: [purchase]\nexpect:\n  revenucat: {clevertap: []}\n",
			`my.yaml:6:3: expect.revenucat: unknown key "revenucat" (did you mean "revenuecat"?); expected one of ` +
				`appsflyer, purchasely, revenuecat`},
		{head + "stepz: [purchase]\nsteps: [purchase]\nexpect: {revenuecat: {}}\n",
			`my.yaml:4:1: stepz: unknown key "stepz" (did you mean "steps"?)`},
		{head + "steps:\n  - fault: {action: explode}\nexpect: {revenuecat: {}}\n",
			`my.yaml:5:21: steps[0].fault.action: expected one of respond, delay, reset, malformed, got "explode"`},
		{head + "steps: [purchase]\nrelay:\n  sources:\n    revenuecat: {clevertap: {region: eu9, account_id: A, " +
			"passcode: p}}\nexpect: {revenuecat: {}}\n",
			`my.yaml:7:38: relay.sources.revenuecat.clevertap.region: expected one of eu1, in1, sg1, us1, aps3, mec1, ` +
				`sk1, got "eu9"`},
		{strings.Replace(head, "P1M, price: 1", "1 month, price: lots", 1) + "steps: [purchase]\nexpect: {revenuecat: {}}\n",
			`my.yaml:3:26: product.period: expected an ISO 8601 period such as P1W, P1M or P1Y, got "1 month"` + "\n" +
				`my.yaml:3:42: product.price: expected a price, a number such as 9.99, got "lots"`},
		{head + "steps:\n  - {wait: soon}\n  - {waitt: 72h}\nexpect: {revenuecat: {}}\n",
			`my.yaml:5:12: steps[0].wait: expected a duration such as 72h or 30m, got "soon"` + "\n" +
				`my.yaml:6:6: steps[1].waitt: unknown key "waitt" (did you mean "wait"?)`},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), "my.yaml")
		if err == nil {
			t.Errorf("expected an error for:\n%s", c.yaml)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("error\n%s\nlacks\n%s", err, c.want)
		}
		if strings.Contains(err.Error(), "scenarios.") || strings.Contains(err.Error(), "struct") {
			t.Errorf("error names a Go type: %s", err)
		}
	}
}

func TestMatchRecordsNamesTheNearestMiss(t *testing.T) {
	expected := []Record{{Event: "rc_renewal_event", Identity: "u", Data: map[string]any{"amount": 9.99}}}
	received := []Received{
		{Account: "A", Region: "eu1", Record: map[string]any{"type": "event", "evtName": "rc_cancellation_event",
			"identity": "u", "evtData": map[string]any{}}},
		{Account: "A", Region: "eu1", Record: map[string]any{"type": "event", "evtName": "rc_renewal_event", "identity": "u",
			"evtData": map[string]any{"amount": 4.99}}},
	}
	problems := MatchRecords(expected, received, "A")
	// the nearest miss is named once, as the nearest miss, not also as unexpected
	if len(problems) != 2 || !strings.Contains(problems[0], "nearest miss") || !strings.Contains(problems[0],
		"evtData.amount: expected 9.99, got 4.99") || !strings.Contains(problems[1],
		"unexpected record eu1/A {\"evtData\":{},\"evtName\":\"rc_cancellation_event\"") {
		t.Fatalf("expected the renewal as nearest miss and the cancellation unexpected, got %q", problems)
	}
	if p := MatchRecords(expected, received[1:2], "B"); len(p) == 0 || !strings.Contains(p[0],
		"account: expected B, got A") {
		t.Fatalf("the account is part of the match: %q", p)
	}
	received[1].Record["evtData"] = map[string]any{"amount": 9.99}
	if p := MatchRecords(expected, received[1:], "A"); len(p) != 0 {
		t.Fatalf("expected a match, got %q", p)
	}
	absent := []Record{{Event: "rc_renewal_event", Identity: "u", Data: map[string]any{"revenue": nil}}}
	received[1].Record["evtData"] = map[string]any{"revenue": "1"}
	if p := MatchRecords(absent, received[1:], "A"); len(p) == 0 || !strings.Contains(p[0], "expected absent") {
		t.Fatalf("null means absent: %q", p)
	}
}

// An expectation that says little must not take the record a stricter one needs, whatever order they arrived in
// (the first-come pairing failed paid-renewals × appsflyer when the renewal's postback arrived first).
func TestMatchRecordsPairsInAnyOrder(t *testing.T) {
	renewal := Received{Account: "A", Region: "eu1", Record: map[string]any{"type": "event", "evtName": "af_subscribe",
		"objectId": "u", "evtData": map[string]any{"revenue": "9.99", "af_renewal": "true"}}}
	first := Received{Account: "A", Region: "eu1", Record: map[string]any{"type": "event", "evtName": "af_subscribe",
		"objectId": "u", "evtData": map[string]any{"revenue": "9.99"}}}
	expected := []Record{
		{Event: "af_subscribe", ObjectID: "u", Data: map[string]any{"revenue": "9.99"}},
		{Event: "af_subscribe", ObjectID: "u", Data: map[string]any{"af_renewal": "true"}},
	}
	for _, order := range [][]Received{{renewal, first}, {first, renewal}} {
		if p := MatchRecords(expected, order, "A"); len(p) != 0 {
			t.Errorf("expected both records paired, got %v", p)
		}
	}
	if p := MatchRecords(expected, []Received{first, first}, "A"); len(p) != 1 ||
		!strings.Contains(p[0], "af_renewal: expected true, missing") {
		t.Errorf("expected the renewal missing with its nearest miss (that record named once), got %v", p)
	}
}

const wellFormed = `name: my-trial
labels: [trial]
user: {app_user_id: u-me, clevertap_id: ct-me}
product: {id: com.example.premium.monthly, period: P1M, price: 9.99, currency: EUR}
offer: {type: free_trial, period: P1W}
steps:
  - purchase
  - renew
expect:
  revenuecat:
    clevertap:
      - event: rc_trial_started_event
        identity: ct-me
        data: {amount: 0}
      - event: rc_trial_converted_event
       identity: ct-me
        data: {amount: 9.99}
`

// A bad indent is reported at its own line (the YAML parser names the line its block began on: 1:1 before), a
// misspelt key alone (not also the key it was meant to be), and a missing file as missing.
func TestYAMLMistakesAreReportedWhereTheyAre(t *testing.T) {
	_, err := Parse([]byte(wellFormed), "bad-indent.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), "bad-indent.yaml:16:8: not valid YAML:") {
		t.Errorf("a bad indent on line 16: expected it reported at 16:8, got %v", err)
	}
	fixed := strings.Replace(wellFormed, "event\n       identity", "event\n        identity", 1)
	if _, err := Parse([]byte(fixed), "good.yaml"); err != nil {
		t.Fatalf("the story itself must be valid once indented: %v", err)
	}
	_, err = Parse([]byte(strings.Replace(fixed, "expect:", "expcet:", 1)), "typo.yaml")
	misspelt := `typo.yaml:9:1: expcet: unknown key "expcet" (did you mean "expect"?)`
	if err == nil || !strings.Contains(err.Error(), misspelt) ||
		strings.Contains(err.Error(), `expected the key "expect"`) || strings.Count(err.Error(), "\n") > 0 {
		t.Errorf("a misspelt key: expected only the misspelling with its did-you-mean, got %v", err)
	}
	_, err = LoadPaths([]string{"no-such-story.yaml"})
	if err == nil || err.Error() != "scenario file no-such-story.yaml not found (expected a .yaml file or a directory "+
		"of them)" {
		t.Errorf("a missing file: got %v", err)
	}
}
