package fake

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// TestCheckAnswersWhatTheUploadWouldAndChangesNothing: for each request, Check's status, outcome, answer and
// per-record codes are those the pipeline then gives the same request, and Check itself leaves no trace.
func TestCheckAnswersWhatTheUploadWouldAndChangesNothing(t *testing.T) {
	partial := `{"d":[{"type":"event","identity":"u1","ts":1700000000,"evtName":"e","evtData":{}},` +
		`{"type":"event","identity":"u1","ts":1700000000000,"evtName":"e","evtData":{}}]}`
	cases := []struct {
		name, method, host, path string
		creds                    clevertap.Credentials
		body                     string
		status                   int
		outcome                  clevertap.Outcome
		codes                    []int
	}{
		{"accepted", "POST", "eu1.api.clevertap.com", "/1/upload", eu1Creds, oneEvent, 200, "accepted", nil},
		{"partial: ts in milliseconds", "POST", "api.clevertap.com", "/1/upload", eu1Creds, partial, 200, "partial",
			[]int{525}},
		{"wrong passcode", "POST", "api.clevertap.com", "/1/upload",
			clevertap.Credentials{AccountID: "SIM-EU1-0001", Passcode: "nope"}, oneEvent, 401, "unauthorized", nil},
		{"account of another region", "POST", "eu1.api.clevertap.com", "/1/upload", in1Creds, oneEvent, 401,
			"unauthorized", nil},
		{"not JSON", "POST", "127.0.0.1:8081", "/eu1/1/upload", eu1Creds, `{"d":`, 400, "bad_request", nil},
		{"no such endpoint", "POST", "api.clevertap.com", "/1/uploads", eu1Creds, oneEvent, 404, "not_found", nil},
		{"GET on upload", "GET", "api.clevertap.com", "/1/upload", eu1Creds, "", 405, "bad_request", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			request := func() *http.Request {
				r, _ := http.NewRequest(tc.method, "http://"+tc.host+tc.path, strings.NewReader(tc.body))
				r.Header.Set("X-CleverTap-Account-Id", tc.creds.AccountID)
				r.Header.Set("X-CleverTap-Passcode", tc.creds.Passcode)
				return r
			}
			checked := s.Check(request(), []byte(tc.body))
			if checked.Status != tc.status || checked.Outcome != tc.outcome {
				t.Fatalf("Check: expected %d %s, got %d %s (%v)", tc.status, tc.outcome, checked.Status,
					checked.Outcome, checked.Diagnosis)
			}
			if got := s.Requests(clevertap.JournalFilter{}); len(got) != 0 {
				t.Fatalf("Check journaled %d request(s)", len(got))
			}
			if got := s.Events(clevertap.EventFilter{}); len(got) != 0 {
				t.Fatalf("Check stored %d record(s)", len(got))
			}
			if checked.RequestID != "" {
				t.Fatalf("Check numbered the request %s", checked.RequestID)
			}
			var codes []int
			if checked.Records != nil {
				for _, u := range checked.Records.Unprocessed {
					codes = append(codes, u.Code)
				}
			}
			if len(codes) != len(tc.codes) || len(codes) > 0 && codes[0] != tc.codes[0] {
				t.Fatalf("Check: expected per-record codes %v, got %v", tc.codes, codes)
			}

			res, err := s.Client().HTTP.Transport.RoundTrip(request())
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			served := s.Requests(clevertap.JournalFilter{})
			if len(served) != 1 {
				t.Fatalf("expected the served request journaled once, got %d", len(served))
			}
			got := served[0]
			if got.RequestID != "sim-1" {
				t.Fatalf("Check counted a request: the served one is %s, expected sim-1", got.RequestID)
			}
			if got.Status != checked.Status || got.Outcome != checked.Outcome ||
				string(got.Response) != string(checked.Response) || got.Endpoint != checked.Endpoint ||
				got.Region != checked.Region {
				t.Fatalf("Check said %d %s %s/%s %s, the pipeline %d %s %s/%s %s", checked.Status, checked.Outcome,
					checked.Region, checked.Endpoint, checked.Response, got.Status, got.Outcome, got.Region,
					got.Endpoint, got.Response)
			}
			if strings.Join(got.Diagnosis, "; ") != strings.Join(checked.Diagnosis, "; ") {
				t.Fatalf("diagnoses differ: Check %q, pipeline %q", checked.Diagnosis, got.Diagnosis)
			}
		})
	}
}

func TestCheckSaysWhatItDoesNotJudge(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	r, _ := http.NewRequest("POST", "http://eu1.api.clevertap.com/1/events.json", strings.NewReader(`{}`))
	got := s.Check(r, []byte(`{}`))
	if got.Status != 0 || got.Endpoint != "events" || len(got.Diagnosis) == 0 ||
		!strings.Contains(got.Diagnosis[len(got.Diagnosis)-1], "not judged") {
		t.Fatalf("expected the events endpoint reported as not judged, with no status, got %+v", got)
	}
}
