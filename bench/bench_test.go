package bench

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPrintShowsRatioAndWhetherTheGoalIsMet(t *testing.T) {
	var out bytes.Buffer
	Print(&out, []Figure{
		{Name: "relay saturation", Unit: "webhooks/s", Measured: 15000, Baseline: 30000, BaselineName: "no-op",
			Goal: "≥ 10000/s", Met: true, BaselineRuns: []float64{32000, 28000}},
		{Name: "ack p99", Unit: "ms", Measured: 25.5, Baseline: 1.5, BaselineName: "no-op", Goal: "< 20 ms", Met: false},
		{Name: "no baseline", Unit: "s", Measured: 1.234, Goal: "-", Met: true},
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("expected a header and 3 lines, got %d:\n%s", len(lines), out.String())
	}
	for i, want := range [][]string{
		{"relay saturation (webhooks/s)", "15000", "30000", "0.50", "≥ 10000/s (met) [baseline 32000 before, 28000 after]"},
		{"ack p99 (ms)", "25.5", "1.50", "17.00", "< 20 ms (MISSED)"},
		{"no baseline (s)", "1.23", "0.00", "0.00", "- (met)"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %d: expected %q in %q", i+1, w, lines[i+1])
			}
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[float64]string{1_000_000: "1M", 100_000: "100k", 30_000: "30k", 1234: "1234", 12: "12"} {
		if got := count(n); got != want {
			t.Errorf("count(%g): expected %s, got %s", n, want, got)
		}
	}
}

func TestBaselines(t *testing.T) {
	ingest := IngestBaseline()
	rec := httptest.NewRecorder()
	ingest.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/eu1/1/upload",
		strings.NewReader(`{"d":[{"type":"event"}]}`)))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"success"`) {
		t.Fatalf("ingest baseline: expected 200 with a success answer, got %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	ingest.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/eu1/1/upload", strings.NewReader(`{"d":[`)))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("ingest baseline: expected 400 for a truncated body (it must decode what it answers), got %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	NoOpWebhook().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks/revenuecat",
		strings.NewReader(`not even JSON`)))
	if rec.Code != http.StatusOK {
		t.Fatalf("no-op webhook: expected 200 whatever the body, got %d", rec.Code)
	}
}

func TestUploadBodyHoldsDistinctRecords(t *testing.T) {
	var body struct {
		D []struct {
			Type     string `json:"type"`
			Identity string `json:"identity"`
			EvtName  string `json:"evtName"`
		} `json:"d"`
	}
	if err := json.Unmarshal(UploadBody(1000), &body); err != nil {
		t.Fatalf("expected valid JSON, got %v", err)
	}
	if len(body.D) != 1000 {
		t.Fatalf("expected 1000 records, got %d", len(body.D))
	}
	seen := map[string]bool{}
	for _, r := range body.D {
		if r.Type != "event" || r.EvtName != "rc_renewal_event" || seen[r.Identity] {
			t.Fatalf("expected distinct rc_renewal_event records, got %+v", r)
		}
		seen[r.Identity] = true
	}
}
