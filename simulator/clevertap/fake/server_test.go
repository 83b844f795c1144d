package fake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/gorilla/mux"
)

var (
	eu1Creds = clevertap.Credentials{AccountID: "SIM-EU1-0001", Passcode: "sim-eu1-pass"}
	in1Creds = clevertap.Credentials{AccountID: "SIM-IN1-0001", Passcode: "sim-in1-pass"}
)

func newTestServer(t *testing.T, opts Options) (*Server, *clevertap.Client) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, s.Client()
}

func event(identity, name string) map[string]any {
	return map[string]any{"type": "event", "identity": identity, "ts": 1700000000, "evtName": name,
		"evtData": map[string]any{"amount": 1}}
}

func post(t *testing.T, c *clevertap.Client, host, path string, creds clevertap.Credentials,
	body string) *clevertap.APIResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.BaseURL+path, strings.NewReader(body))
	req.Host = host
	if creds.AccountID != "" {
		req.Header.Set("X-CleverTap-Account-Id", creds.AccountID)
	}
	if creds.Passcode != "" {
		req.Header.Set("X-CleverTap-Passcode", creds.Passcode)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

const oneEvent = `{"d":[{"type":"event","identity":"u1","ts":1700000000,"evtName":"e","evtData":{}}]}`

func TestAuth(t *testing.T) {
	_, c := newTestServer(t, Options{})
	cases := []struct {
		name, host, path string
		creds            clevertap.Credentials
		status           int
		body, diagnosis  string
	}{
		{"right account and region", "api.clevertap.com", "/1/upload", eu1Creds, 200,
			`{"status":"success","processed":1,"unprocessed":[]}`, ""},
		{"second EU spelling", "eu1.api.clevertap.com", "/1/upload", eu1Creds, 200,
			`{"status":"success","processed":1,"unprocessed":[]}`, ""},
		{"path prefix", "127.0.0.1:8081", "/in1/1/upload", in1Creds, 200,
			`{"status":"success","processed":1,"unprocessed":[]}`, ""},
		{"wrong region host", "api.clevertap.com", "/1/upload", in1Creds, 401,
			`{"status":"fail","error":"Account ID is not valid","code":401}`,
			"account SIM-IN1-0001 lives in in1; this request went to eu1"},
		{"wrong region prefix", "127.0.0.1:8081", "/us1/1/upload", in1Creds, 401,
			`{"status":"fail","error":"Account ID is not valid","code":401}`, "lives in in1; this request went to us1"},
		{"unknown account", "api.clevertap.com", "/1/upload",
			clevertap.Credentials{AccountID: "NOPE-000-0000", Passcode: "x"}, 401,
			`{"status":"fail","error":"Account ID is not valid","code":401}`, `no account "NOPE-000-0000"`},
		{"no account header", "api.clevertap.com", "/1/upload", clevertap.Credentials{Passcode: "x"}, 401,
			`{"status":"fail","error":"Account ID is not valid","code":401}`, "missing header X-CleverTap-Account-Id"},
		{"wrong passcode", "api.clevertap.com", "/1/upload",
			clevertap.Credentials{AccountID: "SIM-EU1-0001", Passcode: "guess"}, 401,
			`{"status":"fail","error":"Invalid Credentials","code":401}`, "wrong X-CleverTap-Passcode"},
		{"no passcode", "api.clevertap.com", "/1/upload", clevertap.Credentials{AccountID: "SIM-EU1-0001"}, 401,
			`{"status":"fail","error":"Invalid Credentials","code":401}`, "missing header X-CleverTap-Passcode"},
		{"host naming no region", "zz9.api.clevertap.com", "/1/upload", eu1Creds, 404,
			`{"status":"fail","error":"Resource not found","code":404}`, "names no CleverTap region"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := post(t, c, tc.host, tc.path, tc.creds, oneEvent)
			if res.StatusCode != tc.status || string(res.Body) != tc.body {
				t.Fatalf("expected %d %s, got %d %s", tc.status, tc.body, res.StatusCode, res.Body)
			}
			if !strings.Contains(res.Diagnosis, tc.diagnosis) {
				t.Fatalf("expected X-Simulator-Diagnosis to contain %q, got %q", tc.diagnosis, res.Diagnosis)
			}
		})
	}
}

func TestSeveralPasscodesAreAccepted(t *testing.T) {
	_, c := newTestServer(t, Options{Accounts: []clevertap.Account{{ID: "A-1", Passcodes: []string{"one", "two"},
		Region: "us1"}}})
	for _, p := range []string{"one", "two"} {
		creds := clevertap.Credentials{AccountID: "A-1", Passcode: p}
		if res := post(t, c, "us1.api.clevertap.com", "/1/upload", creds, oneEvent); res.StatusCode != 200 {
			t.Fatalf("passcode %s: expected 200, got %d %s", p, res.StatusCode, res.Body)
		}
	}
}

func TestUploadStoresRecordsForTheAdminAPI(t *testing.T) {
	_, c := newTestServer(t, Options{})
	ctx := context.Background()
	resp, _, err := c.Upload(ctx, "eu1", eu1Creds, event("alice", "rc_renewal_event"), event("bob", "rc_renewal_event"),
		map[string]any{"type": "profile", "identity": "alice", "profileData": map[string]any{"Email": "alice@example.com",
			"plan": "gold"}})
	if err != nil || resp.Status != "success" || resp.Processed != 3 {
		t.Fatalf("expected success with 3 processed, got %+v %v", resp, err)
	}
	events, err := c.Events(ctx, clevertap.EventFilter{Account: "SIM-EU1-0001", Identity: "alice",
		Type: clevertap.TypeEvent})
	if err != nil || len(events) != 1 {
		t.Fatalf("expected alice's one event, got %d %v", len(events), err)
	}
	var rec map[string]any
	_ = json.Unmarshal(events[0].Record, &rec)
	if rec["evtName"] != "rc_renewal_event" || events[0].Region != "eu1" || events[0].RequestID == "" {
		t.Fatalf("unexpected stored event %+v %s", events[0], events[0].Record)
	}
	profiles, err := c.Profiles(ctx, "SIM-EU1-0001", "alice")
	if err != nil || len(profiles) != 1 || profiles[0].ProfileData["plan"] != "gold" ||
		profiles[0].Events["rc_renewal_event"].Count != 1 {
		t.Fatalf("expected alice's profile with plan gold and one renewal, got %+v %v", profiles, err)
	}
	res := get(t, c, "/eu1/1/profile.json?email=alice@example.com", eu1Creds)
	if res.StatusCode != 200 || !strings.Contains(string(res.Body),
		`"identity":"alice"`) || !strings.Contains(string(res.Body), `"status":"success"`) {
		t.Fatalf("expected alice's profile by email, got %d %s", res.StatusCode, res.Body)
	}
}

func get(t *testing.T, c *clevertap.Client, path string, creds clevertap.Credentials) *clevertap.APIResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.BaseURL+path, nil)
	req.Header.Set("X-CleverTap-Account-Id", creds.AccountID)
	req.Header.Set("X-CleverTap-Passcode", creds.Passcode)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDryRunValidatesButStoresNothing(t *testing.T) {
	s, c := newTestServer(t, Options{})
	res, err := c.UploadRaw(context.Background(), "eu1", eu1Creds, []byte(oneEvent), "dryRun=1")
	if err != nil || res.StatusCode != 200 || string(res.Body) != `{"status":"success","processed":1,"unprocessed":[]}` {
		t.Fatalf("expected the normal success body, got %v %s", err, res.Body)
	}
	if n := len(s.Events(clevertap.EventFilter{})); n != 0 {
		t.Fatalf("dryRun stored %d records", n)
	}
	if j := s.Requests(clevertap.JournalFilter{}); len(j) != 1 || !j[0].DryRun {
		t.Fatalf("expected the journal to mark the dry run, got %+v", j)
	}
}

func TestBodyLimitAndMethod(t *testing.T) {
	_, c := newTestServer(t, Options{MaxBodyBytes: 100})
	res := post(t, c, "api.clevertap.com", "/1/upload", eu1Creds, `{"d":[`+strings.Repeat(" ", 200)+`]}`)
	if res.StatusCode != 413 ||
		string(res.Body) != `{"status":"fail","error":"Request body too large. Maximum allowed size is 100 bytes",`+
			`"code":413}` {
		t.Fatalf("expected 413, got %d %s", res.StatusCode, res.Body)
	}
	res = get(t, c, "/eu1/1/upload", eu1Creds)
	if res.StatusCode != 405 || !strings.Contains(res.Diagnosis, "expected POST") {
		t.Fatalf("expected 405 naming POST, got %d %s %q", res.StatusCode, res.Body, res.Diagnosis)
	}
}

func TestConcurrencyLimitAnswers429(t *testing.T) {
	s, c := newTestServer(t, Options{MaxConcurrentUploads: 2})
	ctx := context.Background()
	// two slow uploads hold both slots; the delay fault applies to exactly those two
	if _, err := c.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultDelay, DelayMS: 60000, Times: 2,
		Account: "SIM-EU1-0001"}); err != nil {
		t.Fatal(err)
	}
	slowCtx, cancelSlow := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.UploadRaw(slowCtx, "eu1", eu1Creds, []byte(oneEvent), "")
		}()
	}
	waitUntil(t, func() bool { return inFlight(s, "SIM-EU1-0001") == 2 })
	res, _ := c.UploadRaw(ctx, "eu1", eu1Creds, []byte(oneEvent), "")
	if res.StatusCode != 429 || string(res.Body) != `{"status":"fail","error":"Too many concurrent requests","code":429}` {
		t.Fatalf("expected 429, got %d %s", res.StatusCode, res.Body)
	}
	// another account is not limited by SIM-EU1-0001's uploads
	if res, _ := c.UploadRaw(ctx, "in1", in1Creds, []byte(oneEvent), ""); res.StatusCode != 200 {
		t.Fatalf("expected in1 upload to pass, got %d", res.StatusCode)
	}
	cancelSlow()
	wg.Wait()
	waitUntil(t, func() bool { return inFlight(s, "SIM-EU1-0001") == 0 })
	if res, _ := c.UploadRaw(ctx, "eu1", eu1Creds, []byte(oneEvent), ""); res.StatusCode != 200 {
		t.Fatalf("expected the slots to be free again, got %d", res.StatusCode)
	}
}

func inFlight(s *Server, account string) int32 {
	v, ok := s.uploadsInFlight.Load(account)
	if !ok {
		return 0
	}
	return v.(interface{ Load() int32 }).Load()
}

// waitUntil polls a condition; it is the wait-for-condition tests use instead of sleeping.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("respond N times then normal", func(t *testing.T) {
		s, c := newTestServer(t, Options{})
		_, _ = c.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultRespond, Status: 503, Times: 2})
		var got []int
		for i := 0; i < 3; i++ {
			res, _ := c.UploadRaw(ctx, "eu1", eu1Creds, []byte(oneEvent), "")
			got = append(got, res.StatusCode)
			if i == 0 && string(res.Body) != `{"status":"fail","error":"Service Unavailable. Please retry later","code":503}` {
				t.Fatalf("unexpected 503 body %s", res.Body)
			}
		}
		if fmt.Sprint(got) != "[503 503 200]" {
			t.Fatalf("expected [503 503 200], got %v", got)
		}
		if n := len(s.Events(clevertap.EventFilter{})); n != 1 {
			t.Fatalf("faulted requests must not store records: expected 1, got %d", n)
		}
		if f := s.Requests(clevertap.JournalFilter{Outcome: clevertap.OutcomeFault}); len(f) != 2 {
			t.Fatalf("expected 2 fault entries in the journal, got %d", len(f))
		}
	})
	t.Run("scoped to an account and region", func(t *testing.T) {
		_, c := newTestServer(t, Options{})
		_, _ = c.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultRespond, Status: 500, Region: "in1"})
		if res, _ := c.UploadRaw(ctx, "eu1", eu1Creds, []byte(oneEvent), ""); res.StatusCode != 200 {
			t.Fatalf("eu1 must not be faulted, got %d", res.StatusCode)
		}
		if res, _ := c.UploadRaw(ctx, "in1", in1Creds, []byte(oneEvent), ""); res.StatusCode != 500 {
			t.Fatalf("in1 must be faulted, got %d", res.StatusCode)
		}
	})
	t.Run("reset drops the connection", func(t *testing.T) {
		s, c := newTestServer(t, Options{})
		_, _ = c.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultReset, Times: 1})
		_, err := c.UploadRaw(ctx, "eu1", eu1Creds, []byte(oneEvent), "")
		if err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Fatalf("expected a connection reset, got %v", err)
		}
		if n := len(s.Events(clevertap.EventFilter{})); n != 0 {
			t.Fatalf("a reset before processing stores nothing, got %d", n)
		}
	})
	t.Run("reset after processing stores but never answers", func(t *testing.T) {
		s, c := newTestServer(t, Options{})
		_, _ = c.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultReset, Times: 1, AfterProcessing: true})
		if _, err := c.UploadRaw(ctx, "eu1", eu1Creds, []byte(oneEvent), ""); err == nil {
			t.Fatal("expected a connection error")
		}
		if n := len(s.Events(clevertap.EventFilter{})); n != 1 {
			t.Fatalf("expected the record stored, got %d", n)
		}
	})
	t.Run("malformed answers a truncated body", func(t *testing.T) {
		_, c := newTestServer(t, Options{})
		_, _ = c.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultMalformed, Times: 1})
		res, err := c.UploadRaw(ctx, "eu1", eu1Creds, []byte(oneEvent), "")
		if err != nil || res.StatusCode != 200 || json.Valid(res.Body) {
			t.Fatalf("expected 200 with invalid JSON, got %v %d %s", err, res.StatusCode, res.Body)
		}
	})
	t.Run("probability 1 always applies, and the fault stays until deleted", func(t *testing.T) {
		s, c := newTestServer(t, Options{})
		f, _ := c.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultRespond, Status: 502, Probability: 1})
		for i := 0; i < 3; i++ {
			if res, _ := c.UploadRaw(ctx, "eu1", eu1Creds, []byte(oneEvent), ""); res.StatusCode != 502 {
				t.Fatalf("expected 502, got %d", res.StatusCode)
			}
		}
		if !s.faults.remove(f.ID) {
			t.Fatal("expected the fault to still be there")
		}
	})
	t.Run("invalid faults are refused with what was expected", func(t *testing.T) {
		_, c := newTestServer(t, Options{})
		for _, tc := range []struct {
			f    clevertap.Fault
			want string
		}{
			{clevertap.Fault{Action: "explode"}, `action: expected one of respond, delay, reset, malformed, got "explode"`},
			{clevertap.Fault{Action: clevertap.FaultRespond}, "status: expected an HTTP status from 100 to 599"},
			{clevertap.Fault{Action: clevertap.FaultDelay}, "delay_ms: expected a positive number"},
			{clevertap.Fault{Action: clevertap.FaultReset, Probability: 2}, "probability: expected a number from 0 to 1, got 2"},
			{clevertap.Fault{Action: clevertap.FaultReset, Region: "eu"}, "region: expected one of"},
		} {
			if _, err := c.AddFault(ctx, tc.f); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("expected an error containing %q, got %v", tc.want, err)
			}
		}
	})
}

func TestWaitBlocksUntilRecordsArrive(t *testing.T) {
	_, c := newTestServer(t, Options{})
	ctx := context.Background()
	done := make(chan []clevertap.Event)
	go func() {
		events, _ := c.Wait(ctx, clevertap.WaitRequest{Account: "SIM-EU1-0001", Name: "late", Count: 2, TimeoutMS: 10000})
		done <- events
	}()
	for i := 0; i < 2; i++ {
		if _, _, err := c.Upload(ctx, "eu1", eu1Creds, event("u", "late")); err != nil {
			t.Fatal(err)
		}
	}
	if events := <-done; len(events) != 2 {
		t.Fatalf("expected 2 events, got %d", len(events))
	}
	events, err := c.Wait(ctx, clevertap.WaitRequest{Name: "never", Count: 1, TimeoutMS: 20})
	if !errors.Is(err, clevertap.ErrWaitTimeout) || len(events) != 0 {
		t.Fatalf("expected a timeout with no events, got %v %d", err, len(events))
	}
}

func TestStoresAreBounded(t *testing.T) {
	s, c := newTestServer(t, Options{EventLimit: 5, JournalLimit: 3})
	for i := 0; i < 10; i++ {
		_, _, _ = c.Upload(context.Background(), "eu1", eu1Creds, event(fmt.Sprintf("u%d", i), "e"))
	}
	events := s.Events(clevertap.EventFilter{})
	if len(events) != 5 || events[0].Seq != 6 {
		t.Fatalf("expected the newest 5 events (seq 6..10), got %d starting at %d", len(events), events[0].Seq)
	}
	if j := s.Requests(clevertap.JournalFilter{}); len(j) != 3 {
		t.Fatalf("expected 3 journal entries, got %d", len(j))
	}
	if p := s.store.FindProfiles(clevertap.ProfileQuery{}); len(p) != 5 {
		t.Fatalf("expected 5 profiles, got %d", len(p))
	}
}

func TestResetKeepsAccounts(t *testing.T) {
	s, c := newTestServer(t, Options{})
	ctx := context.Background()
	_ = c.PutAccount(ctx, clevertap.Account{ID: "NEW-1", Passcodes: []string{"p"}, Region: "sk1"})
	_, _, _ = c.Upload(ctx, "sk1", clevertap.Credentials{AccountID: "NEW-1", Passcode: "p"}, event("u", "e"))
	_, _ = c.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultReset})
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if len(s.Events(clevertap.EventFilter{})) != 0 || len(s.Requests(clevertap.JournalFilter{})) != 0 ||
		len(s.faults.list()) != 0 {
		t.Fatal("reset must clear events, journal and faults")
	}
	if _, ok := s.accounts.get("NEW-1"); !ok {
		t.Fatal("reset must keep accounts")
	}
}

func TestDeleteProfiles(t *testing.T) {
	s, c := newTestServer(t, Options{})
	ctx := context.Background()
	_, _, _ = c.Upload(ctx, "eu1", eu1Creds, event("a", "e"), event("b", "e"))
	res := post(t, c, "api.clevertap.com", "/1/delete/profiles.json", eu1Creds, `{"identity":["a"]}`)
	if res.StatusCode != 200 || string(res.Body) != `{"status":"success"}` {
		t.Fatalf("expected success, got %d %s", res.StatusCode, res.Body)
	}
	if p := s.store.FindProfiles(clevertap.ProfileQuery{Account: "SIM-EU1-0001"}); len(p) != 1 || p[0].Identity != "b" {
		t.Fatalf("expected only b's profile left, got %+v", p)
	}
	res = post(t, c, "api.clevertap.com", "/1/delete/profiles.json", eu1Creds, `{"identity":"a","guid":"x"}`)
	if res.StatusCode != 400 {
		t.Fatalf("both identity and guid: expected 400, got %d", res.StatusCode)
	}
	if res := get(t, c, "/eu1/1/profile.json?identity=a", eu1Creds); res.StatusCode != 404 {
		t.Fatalf("deleted profile: expected 404, got %d %s", res.StatusCode, res.Body)
	}
}

func TestAttribution(t *testing.T) {
	s, c := newTestServer(t, Options{})
	base := "partner_name=AppsFlyer&event_type=af_subscribe&device_identifier=__g123&utm_source=facebook" +
		"&platform=iOS&timestamp=1700000000&af_revenue=9.99"
	cases := []struct {
		name, host, query string
		status            int
		body              string
	}{
		{"token and id", "api.clevertap.com", base + "&account_id=SIM-EU1-0001&account_token=sim-eu1-token", 200,
			`{"status":"success"}`},
		{"token only", "api.clevertap.com", base + "&account_token=sim-eu1-token", 200, `{"status":"success"}`},
		{"id and passcode", "api.clevertap.com", base + "&account_id=SIM-EU1-0001&account_passcode=sim-eu1-pass", 200,
			`{"status":"success"}`},
		{"no credentials", "api.clevertap.com", base, 401, `{"status":"fail","error":"Invalid Account Info","code":401}`},
		{"wrong token", "api.clevertap.com", base + "&account_id=SIM-EU1-0001&account_token=nope", 401,
			`{"status":"fail","error":"Invalid Account Info","code":401}`},
		{"wrong region", "in1.api.clevertap.com", base + "&account_token=sim-eu1-token", 401,
			`{"status":"fail","error":"Invalid Account Info","code":401}`},
		{"partner not whitelisted", "api.clevertap.com", strings.Replace(base, "AppsFlyer", "Acme",
			1) + "&account_token=sim-eu1-token", 400, `{"status":"fail","error":"partner_name is not whitelisted","code":400}`},
		{"no utm", "api.clevertap.com", strings.Replace(base, "utm_source=facebook&", "", 1) + "&account_token=sim-eu1-token",
			400, `{"status":"fail","error":"utm_source is missing","code":400}`},
		{"no event_type", "api.clevertap.com", strings.Replace(base, "event_type=af_subscribe&", "",
			1) + "&account_token=sim-eu1-token", 400, `{"status":"fail","error":"event_type is missing","code":400}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, c.BaseURL+"/attribution?"+tc.query, nil)
			req.Host = tc.host
			res, err := c.Do(req)
			if err != nil || res.StatusCode != tc.status || string(res.Body) != tc.body {
				t.Fatalf("expected %d %s, got %v %d %s (%s)", tc.status, tc.body, err, res.StatusCode, res.Body, res.Diagnosis)
			}
		})
	}
	events := s.Events(clevertap.EventFilter{Account: "SIM-EU1-0001", Name: "af_subscribe", ObjectID: "__g123"})
	if len(events) != 3 {
		t.Fatalf("expected 3 stored attribution events, got %d", len(events))
	}
	rec := string(events[0].Record)
	for _, secret := range []string{"sim-eu1-token", "sim-eu1-pass"} {
		if strings.Contains(rec, secret) {
			t.Fatalf("credentials must not be stored, found %q in %s", secret, rec)
		}
	}
	if !strings.Contains(rec, `"af_revenue":"9.99"`) || !strings.Contains(rec, `"ts":1700000000`) {
		t.Fatalf("expected af_revenue and ts in the stored record, got %s", rec)
	}
	for _, e := range s.Requests(clevertap.JournalFilter{}) {
		if strings.Contains(e.Query, "sim-eu1-token") || strings.Contains(e.Query, "sim-eu1-pass") {
			t.Fatalf("journal must redact credentials, got %s", e.Query)
		}
	}
}

func TestAdminAccountsValidation(t *testing.T) {
	_, c := newTestServer(t, Options{})
	err := c.PutAccount(context.Background(), clevertap.Account{ID: "X-1", Passcodes: []string{"p"}, Region: "moon1"})
	if err == nil || !strings.Contains(err.Error(),
		`region: expected one of eu1, in1, sg1, us1, aps3, mec1, sk1 for account X-1, got "moon1"`) {
		t.Fatalf("expected a region error, got %v", err)
	}
	req := mustRequest(http.MethodPost, c.BaseURL+"/_sim/faults", `{"action":"respond","status":503,"tims":3}`)
	req.Header.Set("Content-Type", "application/json")
	res, _ := c.Do(req)
	if res.StatusCode != 400 || !strings.Contains(string(res.Body), `unknown field \"tims\"`) {
		t.Fatalf("expected a typo in a fault to be refused, got %d %s", res.StatusCode, res.Body)
	}
}

func mustRequest(method, url, body string) *http.Request {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	return req
}

func TestPanicsBecome500NotCrashes(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	s.router = mux.NewRouter() // a router whose only route panics, to exercise ServeHTTP's recovery
	s.router.HandleFunc("/_sim/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	res, err := s.Client().Do(mustRequest(http.MethodGet, inProcessBase+"/_sim/boom", ""))
	if err != nil || res.StatusCode != 500 {
		t.Fatalf("expected 500, got %v %+v", err, res)
	}
}

// Whoever sees a record (a /_sim/wait that returns) can read the request that brought it in the journal: finish
// journals the request before it stores the records (the other order flaked a test that waited, then read).
func TestFinishJournalsBeforeItStores(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	c := &call{entry: clevertap.JournalEntry{RequestID: "sim-order"}, start: time.Now()}
	journaled := false
	c.store = func() { journaled = len(s.Requests(clevertap.JournalFilter{})) == 1 }
	s.finish(httptest.NewRecorder(), c, clevertap.OutcomeAccepted, http.StatusOK, []byte(`{"status":"success"}`))
	if !journaled {
		t.Fatal("expected the request in the journal when its records are stored")
	}
}

// A client that leaves during a delay gets no answer: returning would let net/http write a bare 200, which a
// client whose deadline races it may read as CleverTap's (the proxy once did). Each delayed route aborts instead,
// journals the request as client_gone, and a read gives its concurrency slot back.
func TestAClientThatLeavesDuringADelayGetsNoAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body string
		fault                    clevertap.Fault
	}{
		{"upload", http.MethodPost, "/eu1/1/upload", oneEvent,
			clevertap.Fault{Action: clevertap.FaultDelay, DelayMS: 60000}},
		{"profile", http.MethodGet, "/eu1/1/profile.json?identity=u1", "",
			clevertap.Fault{Action: clevertap.FaultDelay, DelayMS: 60000}},
		{"read", http.MethodPost, "/eu1/1/counts/events.json", renewalsOfDec2,
			clevertap.Fault{Action: clevertap.FaultDelay, DelayMS: 60000}},
		{"delayed answer", http.MethodPost, "/eu1/1/upload", oneEvent,
			clevertap.Fault{Action: clevertap.FaultRespond, Status: 503, DelayMS: 60000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{MaxConcurrentReads: 1})
			if _, err := s.AddFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // the client is gone before the delay ends
			req := httptest.NewRequestWithContext(ctx, tc.method, "http://simulator.localhost"+tc.path,
				strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-CleverTap-Account-Id", eu1Creds.AccountID)
			req.Header.Set("X-CleverTap-Passcode", eu1Creds.Passcode)
			rec := httptest.NewRecorder()
			aborted := func() (v any) {
				defer func() { v = recover() }()
				s.ServeHTTP(rec, req)
				return nil
			}()
			if aborted != http.ErrAbortHandler || rec.Body.Len() != 0 {
				t.Fatalf("expected the handler aborted with nothing written, got %v, %d %q", aborted, rec.Code,
					rec.Body.String())
			}
			if v, ok := s.readsInFlight.Load(eu1Creds.AccountID); ok && v.(interface{ Load() int32 }).Load() != 0 {
				t.Fatalf("the abandoned request kept a read slot")
			}
			// the journal shows what arrived and that the client left; nothing was stored
			entries := s.Requests(clevertap.JournalFilter{})
			if len(entries) != 1 || entries[0].Outcome != "client_gone" || entries[0].Status != 0 ||
				entries[0].Fault != "fault-1" || !strings.Contains(strings.Join(entries[0].Diagnosis, "; "),
				"the client hung up during the delay") {
				t.Fatalf("expected one journal entry, client_gone with the fault's id, got %+v", entries)
			}
			if n := len(s.Events(clevertap.EventFilter{})); n != 0 {
				t.Fatalf("expected nothing stored, got %d records", n)
			}
		})
	}
}
