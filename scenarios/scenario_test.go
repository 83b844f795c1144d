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
// the valid choices.
func TestMistakesAreRejectedWithFileLineAndChoices(t *testing.T) {
	head := "name: x\nuser: {app_user_id: u, clevertap_id: c}\nproduct: {id: p, period: P1M, price: 1, currency: EUR}\n"
	cases := []struct{ yaml, want []string }{
		{[]string{head + "steps: [purchase, renw]\nexpect:\n  revenuecat:\n    clevertap: []\n"},
			[]string{"my.yaml: line 4: unknown step \"renw\"; expected one of purchase, renew, cancel"}},
		{[]string{head +
			"steps: [purchase]\nexpect:\n  revenuecat:\n    clevertap:\n      - {event: rc_trial_start, identity: c}\n"},
			[]string{"my.yaml: line 8: expect.revenuecat.clevertap: unknown event name \"rc_trial_start\"; expected one of",
				"rc_trial_started_event"}},
		{[]string{head +
			"sources: [revenuecat]\nsteps: [purchase]\nexpect:\n  revenuecat: {clevertap: []}\n  appsflyer:\n    clevertap: " +
			"[]\n"},
			[]string{
				"my.yaml: line 9: expect.appsflyer: an expectation for a source the scenario does not use (sources: revenuecat)"}},
		{[]string{head + "steps: [purchase]\nexpect:\n  revenucat: {clevertap: []}\n"},
			[]string{"expect.revenucat: no such source; expected one of revenuecat, purchasely, appsflyer"}},
		{[]string{head + "stepz: [purchase]\nsteps: [purchase]\nexpect: {revenuecat: {}}\n"},
			[]string{"line 4: field stepz not found"}},
		{[]string{head + "steps:\n  - fault: {action: explode}\nexpect: {revenuecat: {}}\n"},
			[]string{"line 5: fault.action: expected respond, delay, reset or malformed, got \"explode\""}},
		{[]string{head +
			"steps: [purchase]\nrelay:\n  sources:\n    revenuecat: {clevertap: {region: eu9, account_id: A, passcode: " +
			"p}}\nexpect: {revenuecat: {}}\n"},
			[]string{"line 6: relay: sources.revenuecat.clevertap.region: expected one of eu1"}},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml[0]), "my.yaml")
		if err == nil {
			t.Errorf("expected an error for:\n%s", c.yaml[0])
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
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
	if len(problems) != 3 || !strings.Contains(problems[0], "nearest miss") || !strings.Contains(problems[0],
		"evtData.amount: expected 9.99, got 4.99") {
		t.Fatalf("expected the renewal as nearest miss and two unexpected records, got %q", problems)
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
	if p := MatchRecords(expected, []Received{first, first}, "A"); len(p) != 2 ||
		!strings.Contains(p[0], "af_renewal: expected true, missing") || !strings.HasPrefix(p[1], "unexpected record") {
		t.Errorf("expected the renewal missing with its nearest miss and one record unexpected, got %v", p)
	}
}
