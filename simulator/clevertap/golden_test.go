package clevertap

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the current answers")

// goldenCase is one request whose exact response body is frozen in testdata/golden/<name>.json, so any change to
// the wire format shows up as a diff to review.
type goldenCase struct {
	name, method, host, path string
	creds                    Credentials
	body                     string
	status                   int
}

func TestGoldenResponses(t *testing.T) {
	records := `{"type":"event","identity":"u1","ts":1700000000,"evtName":"rc_renewal_event","evtData":{"amount":4.99,` +
		`"currency":"USD"}},` +
		`{"type":"event","identity":"u1","evtData":{}},` +
		`{"type":"event","identity":"u1","ts":1700000000000,"evtName":"x","evtData":{}},` +
		`{"type":"event","identity":"u1","evtName":"App Launched","evtData":{}},` +
		`{"type":"profile","identity":"u1","profileData":{"Email":"nope"}},` +
		`{"type":"profile","identity":"u1","profileData":{"Phone":"+44+441234"}},` +
		`{"type":"profile","identity":"u1","profileData":{"Gender":"X"}},` +
		`{"type":"token","objectId":"__g1","tokenData":{"type":"fcm"}},` +
		`{"evtName":"x","identity":"u1"},` +
		`{"type":"event","evtName":"x","evtData":{}}`
	cases := []goldenCase{
		{"upload-success", "POST", "api.clevertap.com", "/1/upload", eu1Creds, oneEvent, 200},
		{"upload-partial", "POST", "api.clevertap.com", "/1/upload", eu1Creds, `{"d":[` + records + `]}`, 200},
		{"upload-fail", "POST", "api.clevertap.com", "/1/upload", eu1Creds,
			`{"d":[{"type":"event","identity":"u1","ts":0,"evtName":"x","evtData":{}}]}`, 200},
		{"upload-401-unknown-account", "POST", "api.clevertap.com", "/1/upload", Credentials{"NOPE", "x"}, oneEvent, 401},
		{"upload-401-wrong-passcode", "POST", "api.clevertap.com", "/1/upload", Credentials{"SIM-EU1-0001", "x"}, oneEvent,
			401},
		{"upload-400-malformed", "POST", "api.clevertap.com", "/1/upload", eu1Creds, `{"d":`, 400},
		{"upload-400-too-many", "POST", "api.clevertap.com", "/1/upload", eu1Creds,
			`{"d":[` + strings.TrimSuffix(strings.Repeat(`{},`, 1001), ",") + `]}`, 400},
		{"upload-405", "GET", "api.clevertap.com", "/1/upload", eu1Creds, "", 405},
		{"unknown-endpoint-404", "POST", "api.clevertap.com", "/1/nothing", eu1Creds, "", 404},
		{"attribution-success", "GET", "api.clevertap.com",
			"/attribution?partner_name=AppsFlyer&event_type=organic_install&device_identifier=__g1&utm_source=organic&account_token=sim-eu1-token", Credentials{}, "", 200},
		{"attribution-401", "GET", "api.clevertap.com",
			"/attribution?partner_name=AppsFlyer&event_type=x&device_identifier=__g1&utm_source=a", Credentials{}, "", 401},
		{"attribution-400-utm", "GET", "api.clevertap.com",
			"/attribution?partner_name=AppsFlyer&event_type=x&device_identifier=__g1&account_token=sim-eu1-token", Credentials{},
			"", 400},
		{"profile-404", "GET", "api.clevertap.com", "/1/profile.json?identity=nobody", eu1Creds, "", 404},
		{"delete-success", "POST", "api.clevertap.com", "/1/delete/profiles.json", eu1Creds, `{"identity":"u1"}`, 200},
	}
	_, c := newTestServer(t, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), tc.method, c.BaseURL+tc.path, strings.NewReader(tc.body))
			req.Host = tc.host
			if tc.creds.AccountID != "" {
				req.Header.Set("X-CleverTap-Account-Id", tc.creds.AccountID)
				req.Header.Set("X-CleverTap-Passcode", tc.creds.Passcode)
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.status {
				t.Fatalf("expected HTTP %d, got %d %s", tc.status, res.StatusCode, res.Body)
			}
			file := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				if err := os.WriteFile(file, append(res.Body, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("golden file missing (run go test -run TestGoldenResponses -update once, then review it): %v", err)
			}
			if got := string(res.Body) + "\n"; got != string(want) {
				t.Fatalf("response body differs from %s\nexpected: %s\ngot:      %s", file, want, got)
			}
		})
	}
}
