package simulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// TestAPageOnAnotherSiteCanNeitherReadNorChangeTheSimulator plays what a web page the developer opens can send:
// a rebound name (DNS rebinding) reading the admin API, and forms or no-cors fetches changing state.
func TestAPageOnAnotherSiteCanNeitherReadNorChangeTheSimulator(t *testing.T) {
	sim, err := New(Config{}, fake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	upload(t, sim, "https://eu1.api.clevertap.com/1/upload") // something the reset below must not wipe
	rebound := []string{"/_sim/requests", "/_sim/accounts", "/_sim/events", "/_sim/inspector/info",
		"/_sim/inspector/", "/_sim/stream", "/_sim/piano/requests", "/_sim/piano/sites", "/_sim/relay/status",
		"/_sim/scenarios"}
	for _, path := range rebound {
		rec := serve(sim, http.MethodGet, "http://attacker.example:8081"+path, "", nil)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "--allowed-hosts attacker.example") ||
			strings.Contains(rec.Body.String(), "sim-eu1-pass") {
			t.Errorf("GET %s with a rebound Host: expected 403 naming --allowed-hosts, got %d %.200s", path, rec.Code,
				rec.Body)
		}
	}
	crossSite := []struct {
		path, body, contentType string
		header                  map[string]string
	}{
		{"/_sim/faults", `{"action":"respond","status":503}`, "text/plain", nil},
		{"/_sim/accounts", `{"id":"SIM-EU1-0001","passcodes":["owned"],"region":"eu1"}`, "", nil},
		{"/_sim/piano/sites", `{"id":"9","domain":"x.example"}`, "text/plain", nil},
		{"/_sim/scenarios/play", `{"name":"x"}`, "text/plain", nil},
		{"/_sim/reset", "a=b", "application/x-www-form-urlencoded", nil},
		{"/_sim/reset", "", "application/json", map[string]string{"Origin": "https://attacker.example"}},
		{"/_sim/faults", `{"action":"respond","status":503}`, "application/json",
			map[string]string{"Sec-Fetch-Site": "cross-site"}},
	}
	for _, tc := range crossSite {
		h := map[string]string{"Content-Type": tc.contentType}
		for k, v := range tc.header {
			h[k] = v
		}
		rec := serve(sim, http.MethodPost, "http://127.0.0.1:8081"+tc.path, tc.body, h)
		if rec.Code != http.StatusForbidden && rec.Code != http.StatusUnsupportedMediaType {
			t.Errorf("POST %s (%v): expected 403 or 415, got %d %s", tc.path, h, rec.Code, rec.Body)
		}
	}
	if n := len(sim.CleverTap.Requests(clevertap.JournalFilter{})); n != 1 {
		t.Errorf("expected the journal to keep its one request (no reset went through), got %d", n)
	}
	rec := serve(sim, http.MethodGet, "http://127.0.0.1:8081/_sim/faults", "", nil)
	if rec.Body.String() != `{"faults":[]}`+"\n" {
		t.Errorf("expected no fault added, got %s", rec.Body)
	}
	for _, a := range sim.CleverTap.Accounts() {
		if a.ID == "SIM-EU1-0001" && !a.AcceptsPasscode("sim-eu1-pass") {
			t.Error("expected the account's passcode unchanged")
		}
	}
	if rec := serve(sim, http.MethodGet, "http://127.0.0.1:8081/_sim/piano/sites", "", nil); strings.Contains(
		rec.Body.String(), "x.example") {
		t.Errorf("expected no Piano site added, got %s", rec.Body)
	}
	// the CleverTap API answers any host; JSON from a program reaches the admin API
	upload(t, sim, "http://attacker.example/eu1/1/upload")
	rec = serve(sim, http.MethodPost, "http://127.0.0.1:8081/_sim/reset", "", map[string]string{
		"Content-Type": "application/json"})
	if rec.Code != http.StatusOK || len(sim.CleverTap.Requests(clevertap.JournalFilter{})) != 0 {
		t.Fatalf("expected a program's reset to go through, got %d %s", rec.Code, rec.Body)
	}
}

func TestAllowedHostsAdmitNamesTheUserGives(t *testing.T) {
	sim, err := New(Config{}, fake.Options{AllowedHosts: []string{"simulator,.corp.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"simulator:8081", "ci.corp.example", "localhost"} {
		if rec := serve(sim, http.MethodGet, "http://"+host+"/_sim/requests", "", nil); rec.Code != http.StatusOK {
			t.Errorf("Host %s: expected 200, got %d %s", host, rec.Code, rec.Body)
		}
	}
	if _, err := New(Config{}, fake.Options{AllowedHosts: []string{"http://simulator"}}); err == nil ||
		!strings.Contains(err.Error(), "--allowed-hosts") {
		t.Fatalf("expected a bad entry refused naming the flag, got %v", err)
	}
}

func serve(sim *Simulator, method, url, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, url, strings.NewReader(body))
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	return rec
}

func upload(t *testing.T, sim *Simulator, url string) {
	t.Helper()
	rec := serve(sim, http.MethodPost, url,
		`{"d":[{"type":"event","identity":"u","ts":1700000000,"evtName":"e","evtData":{}}]}`,
		map[string]string{"X-CleverTap-Account-Id": "SIM-EU1-0001", "X-CleverTap-Passcode": "sim-eu1-pass",
			"Content-Type": "application/json"})
	if rec.Code != http.StatusOK {
		t.Fatalf("upload to %s: expected 200, got %d %s", url, rec.Code, rec.Body)
	}
}
