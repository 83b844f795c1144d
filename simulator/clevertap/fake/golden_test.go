package fake

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the current answers")

// goldenCase is one request whose exact response body is frozen in testdata/golden/<name>.json, so any change to
// the wire format shows up as a diff to review.
type goldenCase struct {
	name, method, host, path string
	creds                    clevertap.Credentials
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
		{"upload-401-unknown-account", "POST", "api.clevertap.com", "/1/upload",
			clevertap.Credentials{AccountID: "NOPE", Passcode: "x"}, oneEvent, 401},
		{"upload-401-wrong-passcode", "POST", "api.clevertap.com", "/1/upload",
			clevertap.Credentials{AccountID: "SIM-EU1-0001", Passcode: "x"}, oneEvent, 401},
		{"upload-400-malformed", "POST", "api.clevertap.com", "/1/upload", eu1Creds, `{"d":`, 400},
		{"upload-400-too-many", "POST", "api.clevertap.com", "/1/upload", eu1Creds,
			`{"d":[` + strings.TrimSuffix(strings.Repeat(`{},`, 1001), ",") + `]}`, 400},
		{"upload-405", "GET", "api.clevertap.com", "/1/upload", eu1Creds, "", 405},
		{"unknown-endpoint-404", "POST", "api.clevertap.com", "/1/nothing", eu1Creds, "", 404},
		{"attribution-success", "GET", "api.clevertap.com",
			"/attribution?partner_name=AppsFlyer&event_type=organic_install&device_identifier=__g1" +
				"&utm_source=organic&account_token=sim-eu1-token", clevertap.Credentials{}, "", 200},
		{"attribution-401", "GET", "api.clevertap.com",
			"/attribution?partner_name=AppsFlyer&event_type=x&device_identifier=__g1&utm_source=a",
			clevertap.Credentials{}, "", 401},
		{"attribution-400-utm", "GET", "api.clevertap.com",
			"/attribution?partner_name=AppsFlyer&event_type=x&device_identifier=__g1&account_token=sim-eu1-token",
			clevertap.Credentials{}, "", 400},
		{"profile-404", "GET", "api.clevertap.com", "/1/profile.json?identity=nobody", eu1Creds, "", 404},
		{"delete-success", "POST", "api.clevertap.com", "/1/delete/profiles.json", eu1Creds, `{"identity":"u1"}`, 200},
	}
	_, c := newTestServer(t, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), tc.method, c.BaseURL+tc.path,
				strings.NewReader(tc.body))
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
			checkGolden(t, tc.name, res.Body)
		})
	}
}

// volatile are the parts of an answer that differ on every run (random cursors and req_ids); the golden files
// hold placeholders for them.
var volatile = []struct {
	pattern     *regexp.Regexp
	placeholder string
}{
	{regexp.MustCompile(`"(cursor|next_cursor|previous_cursor)":"[^"]*"`), `"$1":"<cursor>"`},
	{regexp.MustCompile(`"req_id":[0-9]+`), `"req_id":<req_id>`},
}

// checkGolden compares an answer with testdata/golden/<name>.json (rewriting it first with -update).
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	for _, v := range volatile {
		body = v.pattern.ReplaceAll(body, []byte(v.placeholder))
	}
	file := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(file, append(body, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("golden file missing (run go test -run TestGolden -update once, then review it): %v", err)
	}
	if got := string(body) + "\n"; got != string(want) {
		t.Fatalf("response body differs from %s\nexpected: %s\ngot:      %s", file, want, got)
	}
}

// TestGoldenReadResponses freezes the read side and the other write endpoints, step by step as a client goes.
func TestGoldenReadResponses(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 12, 3, 9, 0, 0, 0, time.UTC)}
	_, c := newTestServer(t, Options{Now: clock.Now})
	renewals(t, c)
	uploadRaw(t, c, "eu1", eu1Creds,
		`{"type":"profile","identity":"u1","objectId":"__g1a2b3","profileData":{"Email":"u1@example.com",`+
			`"Score":{"$incr":3},"Tags":["a","b"]}}`,
		`{"type":"token","objectId":"__g1a2b3","tokenData":{"id":"fcm-token","type":"fcm"}}`)
	step := func(name, method, path, body string, status int) *clevertap.APIResult {
		t.Helper()
		res := send(t, c, method, path, eu1Creds, body)
		if res.StatusCode != status {
			t.Fatalf("%s: expected HTTP %d, got %d %s", name, status, res.StatusCode, res.Body)
		}
		t.Run(name, func(t *testing.T) { checkGolden(t, name, res.Body) })
		return res
	}
	query := `{"event_name":"Renewal","from":20251202,"to":20251202}`
	first := decodePage(t, step("events-cursor", "POST", "/eu1/1/events.json?batch_size=20", query, 200))
	next := decodePage(t, step("events-page", "GET", "/eu1/1/events.json?cursor="+first.Cursor, "", 200))
	step("events-end", "GET", "/eu1/1/events.json?cursor="+*next.NextCursor, "", 200)
	step("events-fail-unknown-event", "POST", "/eu1/1/events.json",
		`{"event_name":"Nope","from":20251202,"to":20251202}`, 200)
	step("events-fail-date", "POST", "/eu1/1/events.json", `{"event_name":"Renewal","from":2025,"to":20251202}`, 200)
	step("events-fail-cursor", "GET", "/eu1/1/events.json?cursor=bm9wZQ%3D%3D", "", 200)
	profiles := decodePage(t, step("profiles-cursor", "POST", "/eu1/1/profiles.json?batch_size=23", query, 200))
	step("profiles-page", "GET", "/eu1/1/profiles.json?cursor="+profiles.Cursor, "", 200)
	step("profile-success", "GET", "/eu1/1/profile.json?identity=u1", "", 200)

	counts := []struct{ name, path, body string }{
		{"counts-events", "/eu1/1/counts/events.json", query},
		{"counts-profiles", "/eu1/1/counts/profiles.json", query},
		{"counts-top", "/eu1/1/counts/top.json", `{"event_name":"Renewal","from":20251202,"to":20251202,` +
			`"groups":{"n":{"property_type":"event_properties","name":"n"},` +
			`"tags":{"property_type":"profile_fields","name":"Tags"}}}`},
		{"counts-trends", "/eu1/1/counts/trends.json", `{"event_name":"Renewal","from":20251201,"to":20251203,` +
			`"groups":{"d":{"trend_type":"daily"},"w":{"trend_type":"weekly"},"m":{"trend_type":"monthly"}}}`},
	}
	for _, cnt := range counts {
		partial := step(cnt.name+"-partial", "POST", cnt.path, cnt.body, 200)
		id := partialShape.FindStringSubmatch(string(partial.Body))[1]
		step(cnt.name+"-success", "GET", cnt.path+"?req_id="+id, "", 200)
	}
	step("counts-fail-req-id", "GET", "/eu1/1/counts/events.json?req_id=1", "", 200)
	step("now-success", "POST", "/eu1/1/now.json", `{"user_type":true,"session_source":true,"browser":true,`+
		`"os":true,"device":true,"new":true}`, 200)
	step("disassociate-success", "POST", "/eu1/1/disassociate", `{"d":[{"type":"phone","value":"+14155550100"}]}`,
		200)
	step("subscribe-success", "POST", "/eu1/1/subscribe",
		`{"d":[{"type":"email","value":"u1@example.com","status":"Unsubscribe"}]}`, 200)
	step("demerge-success", "POST", "/eu1/1/demerge/profiles.json", `{"identities":"u1"}`, 200)
	ids := strings.Repeat(`"x",`, 100) + `"y"`
	step("delete-400-max", "POST", "/eu1/1/delete/profiles.json", `{"identity":[`+ids+`]}`, 400)
}
