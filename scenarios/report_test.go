package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
)

// The failure report pairs records as the matching did, Piano beside Piano, each record once, wrapped: before, a
// Piano expectation was printed against a CleverTap record and lines ran past 250 characters.
func TestTheFailureReportPairsAndWraps(t *testing.T) {
	expected := []Record{
		{Event: "rc_trial_started_event", Identity: "u"},
		{Event: "rc_renewal_event", Identity: "u", Data: map[string]any{"amount": 9.99}},
	}
	received := []Received{
		{Account: "A", Region: "eu1", Record: map[string]any{"type": "event", "evtName": "rc_renewal_event",
			"identity": "u", "evtData": map[string]any{"amount": 4.99, "note": strings.Repeat("long words ", 20)}}},
		{Account: "A", Region: "eu1", Record: map[string]any{"type": "event", "evtName": "rc_trial_started_event",
			"identity": "u", "evtData": map[string]any{}}},
	}
	_, _, owner := matchRecords(expected, received, "A")
	rows := pairedRows("clevertap", expected, received, owner)
	if len(rows) != 3 || rows[0].receivedText != received[1].String() || rows[1].Received != nil ||
		rows[2].Expected != nil || rows[2].receivedText != received[0].String() {
		t.Fatalf("expected the trial paired with its record, the renewal alone, the 4.99 renewal alone, got %+v", rows)
	}
	// --json gives the records as objects, not as the text the report prints
	raw, _ := json.Marshal(rows[0])
	want := `{"kind":"clevertap","expected":{"event":"rc_trial_started_event","identity":"u"},"received":` +
		`{"account":"A","region":"eu1","record":{"evtData":{},"evtName":"rc_trial_started_event","identity":"u",` +
		`"type":"event"},"seq":0}}`
	if string(raw) != want {
		t.Errorf("a row in JSON:\n%s\nwant\n%s", raw, want)
	}
	rows = append(rows, Row{Kind: "piano", Expected: PianoEvent{Event: "subscription.started"},
		expectedText: "piano 100001 subscription.started ignored=false"})
	var b strings.Builder
	ReportFailures(&b, []Result{{Scenario: "s", Source: "revenuecat", Rows: rows}})
	out := b.String()
	for _, l := range strings.Split(out, "\n") {
		if len([]rune(l)) > 120 {
			t.Errorf("a line of %d characters: %q", len([]rune(l)), l)
		}
	}
	clevertap, piano, _ := strings.Cut(out, "expected at Piano")
	if !strings.Contains(clevertap, "expected at CleverTap") || strings.Contains(clevertap, "subscription.started") ||
		!strings.Contains(piano, "subscription.started") || strings.Count(out, "rc_trial_started_event") != 2 {
		t.Fatalf("expected CleverTap's rows, then Piano's, each record once:\n%s", out)
	}
}
