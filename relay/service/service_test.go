package service

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/jsonmatch"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/sources/purchasely"
)

// stack is a relay wired in-process to a fake CleverTap and Piano.
type stack struct {
	sim *simulator.Simulator
	ct  *clevertap.Client
	svc *Service
	dir string
	cfg config.Config
	log *bytes.Buffer
}

// testConfig is the default config pointed at the in-process fake, with millisecond backoffs.
func testConfig() config.Config {
	cfg := config.Default()
	cfg.CleverTap.Endpoint = "http://sim.test/{region}"
	cfg.Piano.Endpoint = "http://sim.test/piano"
	cfg.Delivery.MinBackoff = time.Millisecond
	cfg.Delivery.MaxBackoff = 10 * time.Millisecond
	return cfg
}

func newStack(t *testing.T, edit func(*config.Config)) *stack {
	t.Helper()
	sim, err := simulator.New(simulator.Config{}, fake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	s := &stack{sim: sim, ct: sim.Client(), dir: t.TempDir(), cfg: cfg, log: &bytes.Buffer{}}
	s.start(t)
	return s
}

// start opens the relay on the stack's data dir (again, after stop, to test a restart).
func (s *stack) start(t *testing.T) {
	t.Helper()
	svc, err := Open(Options{Config: s.cfg, DataDir: s.dir, Logger: testLogger(s.log),
		Client: &http.Client{Transport: clevertap.InProcessTransport{Handler: s.sim}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.svc = svc
	t.Cleanup(func() { s.stop() })
}

func (s *stack) stop() {
	if s.svc != nil {
		s.svc.Close()
		s.svc = nil
	}
}

// post sends a webhook to the relay and decodes its answer.
func (s *stack) post(t *testing.T, source string, body []byte, header http.Header) (int, answer) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/"+source, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v) // canonical names, as the network would deliver them
		}
	}
	rec := httptest.NewRecorder()
	s.svc.ServeHTTP(rec, req)
	var a answer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer is not JSON: %q", rec.Body.String())
	}
	return rec.Code, a
}

func (s *stack) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	return s.admin(t, http.MethodGet, path)
}

// admin calls a route with the admin token.
func (s *stack) admin(t *testing.T, method, path string) (int, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.svc.AdminToken())
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	s.svc.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func rcHeader() http.Header { return http.Header{"Authorization": {"Bearer sim-revenuecat"}} }

// rcWebhook is a RevenueCat webhook with the fields the mapping reads.
func rcWebhook(id, typ, user string, price float64) []byte {
	return []byte(`{"api_version":"1.0","event":{"id":"` + id + `","type":"` + typ +
		`","app_id":"app1","event_timestamp_ms":1767225600000,` +
		`"app_user_id":"` + user + `","product_id":"premium.monthly","period_type":"NORMAL","environment":"PRODUCTION",` +
		`"currency":"EUR","price":` + strconv.FormatFloat(price, 'f', -1,
		64) + `,"price_in_purchased_currency":` + strconv.FormatFloat(price, 'f', -1, 64) + `,` +
		`"commission_percentage":0.15,"tax_percentage":0.2,"subscriber_attributes":{}}}`)
}

func (s *stack) waitEvents(t *testing.T, req clevertap.WaitRequest) []clevertap.Event {
	t.Helper()
	if req.TimeoutMS == 0 {
		req.TimeoutMS = 5000
	}
	events, err := s.ct.Wait(context.Background(), req)
	if err != nil {
		t.Fatalf("waiting for %+v: %v (got %d events)", req, err, len(events))
	}
	return events
}

// TestVendorSamplesThroughTheRelay feeds every RevenueCat sample webhook through the relay to the fake and
// compares what arrived with the record written by hand next to it (fixtures/relay/revenuecat/).
func TestVendorSamplesThroughTheRelay(t *testing.T) {
	samples, err := filepath.Glob("../../fixtures/vendor-samples/revenuecat/webhooks/*.json")
	if err != nil || len(samples) < 19 {
		t.Fatalf("expected the 19 RevenueCat samples, found %d (%v)", len(samples), err)
	}
	for _, path := range samples {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join("../../fixtures/relay/revenuecat", name))
			if err != nil {
				t.Fatalf("no expectation written for %s: %v", name, err)
			}
			var want struct {
				Account string          `json:"account"`
				Record  json.RawMessage `json:"record"`
				Skip    string          `json:"skip"`
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			s := newStack(t, nil) // sample ids repeat across files, so each gets its own relay
			status, a := s.post(t, "revenuecat", body, rcHeader())
			if status != http.StatusOK {
				t.Fatalf("expected 200, got %d %+v", status, a)
			}
			if want.Skip != "" {
				if a.Status != "skipped" || !strings.Contains(a.Reason, want.Skip) {
					t.Fatalf("expected skipped with %q, got %+v", want.Skip, a)
				}
				if events, _ := s.ct.Events(context.Background(), clevertap.EventFilter{}); len(events) != 0 {
					t.Fatalf("a skipped webhook reached CleverTap: %s", events[0].Record)
				}
				return
			}
			if a.Status != "accepted" || a.Records != 1 {
				t.Fatalf("expected accepted with 1 record, got %+v", a)
			}
			events := s.waitEvents(t, clevertap.WaitRequest{Account: want.Account, Count: 1})
			if err := jsonmatch.Match(want.Record, events[0].Record); err != nil {
				t.Fatalf("record differs from the expectation: %v\nreceived %s", err, events[0].Record)
			}
		})
	}
}

func TestDuplicateEventIDIsAcknowledgedAndNotSentTwice(t *testing.T) {
	s := newStack(t, nil)
	body := rcWebhook("dup-1", "INITIAL_PURCHASE", "u1", 9.99)
	for i, want := range []string{"accepted", "duplicate", "duplicate"} {
		status, a := s.post(t, "revenuecat", body, rcHeader())
		if status != 200 || a.Status != want {
			t.Fatalf("delivery %d: expected 200 %s, got %d %+v", i+1, want, status, a)
		}
	}
	s.waitEvents(t, clevertap.WaitRequest{Identity: "u1", Count: 1})
	// one more event proves delivery moved on; still only one record for u1
	s.post(t, "revenuecat", rcWebhook("dup-2", "RENEWAL", "u2", 9.99), rcHeader())
	s.waitEvents(t, clevertap.WaitRequest{Identity: "u2", Count: 1})
	if events, _ := s.ct.Events(context.Background(), clevertap.EventFilter{Identity: "u1"}); len(events) != 1 {
		t.Fatalf("expected exactly one record for u1, got %d", len(events))
	}
}

func TestIntakeRefusals(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.Intake.MaxBodyBytes = 2048 })
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	pBody := []byte(`{"api_version":3,"event_name":"TRIAL_STARTED","event_id":"e1"}`)
	cases := []struct {
		name, source string
		body         []byte
		header       http.Header
		status       int
		errorHas     string
	}{
		{"no authorization", "revenuecat", rcWebhook("r1", "RENEWAL", "u", 1), nil, 401, "expected the Authorization header"},
		{"wrong authorization", "revenuecat", rcWebhook("r1", "RENEWAL", "u", 1),
			http.Header{"Authorization": {"Bearer nope"}}, 401, "does not match"},
		{"malformed json", "revenuecat", []byte(`{"event":`), rcHeader(), 400, "invalid JSON"},
		{"no event object", "revenuecat", []byte(`{"api_version":"1.0"}`), rcHeader(), 400, `no "event" object`},
		{"event without id", "revenuecat", []byte(`{"event":{"type":"RENEWAL"}}`), rcHeader(), 400,
			`expected "id" and "type"`},
		{"too large", "revenuecat", bytes.Repeat([]byte(" "), 4096), rcHeader(), 413, "larger than 2048 bytes"},
		{"no signature", "purchasely", pBody, http.Header{purchasely.HeaderTimestamp: {ts}}, 401,
			"expected X-PURCHASELY-REQUEST-SIGNATURE"},
		{"bad signature", "purchasely", pBody, http.Header{purchasely.HeaderTimestamp: {ts},
			purchasely.HeaderSignature: {strings.Repeat("0", 64)}}, 401, "does not match"},
		{"stale timestamp", "purchasely", pBody, http.Header{purchasely.HeaderTimestamp: {"1600000000"},
			purchasely.HeaderSignature: {purchasely.Signature("sim-purchasely", "1600000000", pBody)}}, 401, "replay window"},
		{"appsflyer without token", "appsflyer", []byte(`{"event_name":"install"}`), nil, 401,
			"expected the AppsFlyer token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, a := s.post(t, c.source, c.body, c.header)
			if status != c.status || !strings.Contains(a.Error, c.errorHas) {
				t.Fatalf("expected %d with %q, got %d %+v", c.status, c.errorHas, status, a)
			}
		})
	}
	t.Run("wrong content type", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/revenuecat", bytes.NewReader(rcWebhook("r2", "RENEWAL",
			"u", 1)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer sim-revenuecat")
		rec := httptest.NewRecorder()
		s.svc.ServeHTTP(rec, req)
		if rec.Code != 415 || !strings.Contains(rec.Body.String(), "expected Content-Type application/json") {
			t.Fatalf("expected 415 naming the content type, got %d %s", rec.Code, rec.Body)
		}
	})
	counts, err := s.svc.store.Counts()
	if err != nil || counts.Pending != 0 || counts.Seen != 0 {
		t.Fatalf("refused webhooks must store nothing, got %+v %v", counts, err)
	}
}

func TestPurchaselySignedWebhookGoesToCleverTapAndPiano(t *testing.T) {
	s := newStack(t, nil)
	body := []byte(`{"api_version":3,"event_name":"TRIAL_STARTED","event_id":"p-1","event_created_at_ms":1767225600000,` +
		`"user_id":"user_42","store":"APPLE_APP_STORE","product":"PREMIUM","plan":"premium_monthly",` +
		`"offer_type":"FREE_TRIAL",` +
		`"environment":"PRODUCTION","customer_currency":"EUR","plan_price_in_customer_currency":0,` +
		`"integration_clevertap_id":"ct-42","integration_at_internet_id_client":"at-42"}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	status, a := s.post(t, "purchasely", body, http.Header{purchasely.HeaderTimestamp: {ts},
		purchasely.HeaderSignature: {purchasely.Signature("sim-purchasely", ts, body)}})
	if status != 200 || a.Status != "accepted" || a.Records != 2 {
		t.Fatalf("expected accepted with 2 records (CleverTap + Piano), got %d %+v", status, a)
	}
	events := s.waitEvents(t, clevertap.WaitRequest{ObjectID: "ct-42", Count: 1})
	want := `{"type":"event","evtName":"TRIAL_STARTED","objectId":"ct-42","ts":1767225600,` +
		`"evtData":{"user_id":"user_42",` +
		`"store":"APPLE_APP_STORE","product":"PREMIUM","plan":"premium_monthly","offer_type":"FREE_TRIAL",` +
		`"environment":"PRODUCTION","currency":"EUR","price":0}}`
	if err := jsonmatch.Match([]byte(want), events[0].Record); err != nil {
		t.Fatalf("CleverTap record: %v\nreceived %s", err, events[0].Record)
	}
	waitFor(t, func() bool { return len(s.sim.Piano.Hits("100001", false)) == 1 })
	hit := s.sim.Piano.Hits("100001", false)[0]
	if hit.Name != "TRIAL_STARTED" || hit.IDClient != "at-42" || hit.Path != "/event" {
		t.Fatalf("unexpected Piano hit %+v", hit)
	}
}

// waitFor polls a condition (for the fake Piano, which has no blocking wait).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestRestartDeliversWhatTheOutboxHeld(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.Delivery.MaxAttempts = 100000 })
	ctx := context.Background()
	if _, err := s.ct.AddFault(ctx, clevertap.Fault{Action: "respond", Status: 503}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if status, a := s.post(t, "revenuecat", rcWebhook("restart-"+strconv.Itoa(i), "RENEWAL", "restart-user", 4.99),
			rcHeader()); status != 200 || a.Status != "accepted" {
			t.Fatalf("webhook %d: %d %+v", i, status, a)
		}
	}
	waitFor(t, func() bool {
		reqs, _ := s.ct.Requests(ctx, clevertap.JournalFilter{Outcome: clevertap.OutcomeFault})
		return len(reqs) >= 2
	})
	s.stop()
	if err := s.ct.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if events, _ := s.ct.Events(ctx, clevertap.EventFilter{}); len(events) != 0 {
		t.Fatalf("nothing should have been delivered during the outage, got %d", len(events))
	}
	s.start(t)
	s.waitEvents(t, clevertap.WaitRequest{Identity: "restart-user", Count: 50})
	s.stop()
	events, _ := s.ct.Events(ctx, clevertap.EventFilter{Identity: "restart-user"})
	if len(events) != 50 {
		t.Fatalf("expected exactly 50 records after the restart, got %d", len(events))
	}
}

func TestDeadLetterRetryAfterFixingTheConfig(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.Sources.RevenueCat.CleverTap.Passcode = "wrong-pass" })
	s.post(t, "revenuecat", rcWebhook("dl-1", "RENEWAL", "dl-user", 4.99), rcHeader())
	var dead []struct {
		ID     uint64 `json:"id"`
		Status int    `json:"status"`
		Reason string `json:"reason"`
	}
	waitFor(t, func() bool {
		_, body := s.get(t, "/admin/deadletters")
		var out struct {
			DeadLetters json.RawMessage `json:"deadletters"`
		}
		json.Unmarshal(body, &out)
		json.Unmarshal(out.DeadLetters, &dead)
		return len(dead) == 1
	})
	if dead[0].Status != 401 || !strings.Contains(dead[0].Reason,
		"Invalid Credentials") && !strings.Contains(dead[0].Reason, "401") {
		t.Fatalf("expected a 401 dead letter with CleverTap's text, got %+v", dead[0])
	}
	s.stop()
	s.cfg.Sources.RevenueCat.CleverTap.Passcode = "sim-eu1-pass"
	s.start(t)
	if code, body := s.admin(t, http.MethodPost, "/admin/deadletters/"+strconv.FormatUint(dead[0].ID, 10)+
		"/retry"); code != 200 {
		t.Fatalf("retry: %d %s", code, body)
	}
	s.waitEvents(t, clevertap.WaitRequest{Identity: "dl-user", Count: 1})
	if _, body := s.get(t, "/admin/deadletters"); !strings.Contains(string(body), `"deadletters":[]`) {
		t.Fatalf("the retried dead letter should be gone, got %s", body)
	}
	if code, _ := s.admin(t, http.MethodPost, "/admin/deadletters/999/retry"); code != 404 {
		t.Fatalf("unknown dead letter: expected 404, got %d", code)
	}
}

func TestMetricsCountWhatHappened(t *testing.T) {
	s := newStack(t, nil)
	s.post(t, "revenuecat", rcWebhook("m-1", "RENEWAL", "m-user", 4.99), rcHeader())
	s.post(t, "revenuecat", rcWebhook("m-1", "RENEWAL", "m-user", 4.99), rcHeader())
	s.post(t, "revenuecat", rcWebhook("m-2", "TRANSFER", "m-user", 0), rcHeader())
	s.post(t, "revenuecat", rcWebhook("m-3", "RENEWAL", "m-user", 4.99), nil)
	s.waitEvents(t, clevertap.WaitRequest{Identity: "m-user", Count: 1})
	var body []byte
	// the delivered counter, the queue's depth and the upload timing are updated one after the other
	waitFor(t, func() bool {
		_, body = s.get(t, "/metrics")
		return strings.Contains(string(body), `relay_records_delivered_total{destination="revenuecat/clevertap"} 1`) &&
			strings.Contains(string(body), `relay_queue_depth{destination="revenuecat/clevertap"} 0`) &&
			strings.Contains(string(body), `relay_upload_duration_seconds_count{destination="revenuecat/clevertap",`+
				`outcome="success"} 1`)
	})
	for _, want := range []string{
		`relay_webhooks_received_total{outcome="accepted",source="revenuecat"} 1`,
		`relay_webhooks_received_total{outcome="duplicate",source="revenuecat"} 1`,
		`relay_webhooks_received_total{outcome="skipped",source="revenuecat"} 1`,
		`relay_webhooks_received_total{outcome="unauthorized",source="revenuecat"} 1`,
		`relay_queue_depth{destination="revenuecat/clevertap"} 0`,
		`relay_upload_duration_seconds_count{destination="revenuecat/clevertap",outcome="success"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestOutboxWriteFailureAnswers503(t *testing.T) {
	s := newStack(t, nil)
	s.svc.store.Close() // every write now fails, as on a full or vanished disk
	status, a := s.post(t, "revenuecat", rcWebhook("w-1", "RENEWAL", "u", 1), rcHeader())
	if status != 503 || !strings.Contains(a.Error, "could not store the webhook durably") {
		t.Fatalf("expected 503 saying the store failed, got %d %+v", status, a)
	}
	code, body := s.get(t, "/readyz")
	if code != 503 || !strings.Contains(string(body), "could not store the last webhook") {
		t.Fatalf("readyz should say why, got %d %s", code, body)
	}
}

func TestLogsNeverContainSecrets(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.Sources.AppsFlyer.CleverTap.AccountPasscode = "wrong-af-pass" })
	s.post(t, "revenuecat", rcWebhook("s-1", "RENEWAL", "s-user", 4.99), rcHeader())
	s.post(t, "revenuecat", rcWebhook("s-2", "RENEWAL", "s-user", 4.99), http.Header{"Authorization": {"Bearer wrong"}})
	af := []byte(
		`{"event_name":"install","appsflyer_id":"1-2","event_time":"2026-01-01 00:00:00.000","customer_user_id":"c1",` +
			`"media_source":"organic"}`)
	s.post(t, "appsflyer", af, http.Header{"Authorization": {"sim-appsflyer"}})
	s.waitEvents(t, clevertap.WaitRequest{Identity: "s-user", Count: 1})
	waitFor(t, func() bool { dl, _ := s.svc.DeadLetters(); return len(dl) == 1 })
	s.stop()
	logs := s.log.String()
	if !strings.Contains(logs, "dead letter") {
		t.Fatalf("expected the dead letter in the logs, got:\n%s", logs)
	}
	for _, secret := range append(s.cfg.Secrets(), "wrong-af-pass") {
		if strings.Contains(logs, secret) {
			t.Fatalf("the logs contain the secret %q:\n%s", secret, logs)
		}
	}
}

func testLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// A stranger who reaches the webhook port cannot read, retry or list anything admin; the token the relay made is
// in its data dir, readable by its owner only.
func TestAdminRoutesNeedTheToken(t *testing.T) {
	s := newStack(t, nil)
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/admin/deadletters"}, {http.MethodPost, "/admin/deadletters/1/retry"},
		{http.MethodGet, "/admin/status"},
	} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + s.svc.AdminToken() + "x", s.svc.AdminToken()} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(r.method, "http://localhost:8080"+r.path, nil)
			req.Header.Set("Content-Type", "application/json")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			s.svc.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "admin token") {
				t.Errorf("%s %s with %q: expected 401 naming the admin token, got %d %s", r.method, r.path, auth,
					rec.Code, rec.Body)
			}
		}
	}
	if code, _ := s.get(t, "/admin/status"); code != http.StatusOK {
		t.Fatalf("with the token: expected 200, got %d", code)
	}
	fi, err := os.Stat(filepath.Join(s.dir, AdminTokenFile))
	raw, _ := os.ReadFile(filepath.Join(s.dir, AdminTokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 || strings.TrimSpace(string(raw)) != s.svc.AdminToken() {
		t.Fatalf("expected the token in %s with mode 0600, got %v %v", AdminTokenFile, fi, err)
	}
	if code, _ := s.get(t, "/metrics"); code != http.StatusOK {
		t.Fatalf("/metrics stays open for scrapers: got %d", code)
	}
}

// A web page on a name that resolves to the relay (DNS rebinding) gets nothing from the admin routes, even with a
// token it guessed; a name the operator admits does, and vendors' webhooks answer any host.
func TestAdminRoutesAnswerOnlyAdmittedHosts(t *testing.T) {
	s := newStack(t, nil)
	for _, host := range []string{"attacker.example:8080", "relay.attacker.example"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "http://"+host+"/admin/deadletters", nil)
		req.Header.Set("Authorization", "Bearer "+s.svc.AdminToken())
		s.svc.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "--allowed-hosts") {
			t.Errorf("Host %s: expected 403 naming --allowed-hosts, got %d %s", host, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/admin/deadletters/1/retry", nil)
	req.Header.Set("Authorization", "Bearer "+s.svc.AdminToken())
	req.Header.Set("Content-Type", "text/plain")
	s.svc.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("a form's retry: expected 415, got %d %s", rec.Code, rec.Body)
	}
	admitted, err := Open(Options{Config: config.Default(), DataDir: t.TempDir(), AllowedHosts: []string{"relay"}})
	if err != nil {
		t.Fatal(err)
	}
	defer admitted.Close()
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "http://relay:8080/admin/status", nil)
	req.Header.Set("Authorization", "Bearer "+admitted.AdminToken())
	admitted.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("an admitted name: expected 200, got %d %s", rec.Code, rec.Body)
	}
	_, err = Open(Options{Config: config.Default(), DataDir: t.TempDir(), AllowedHosts: []string{"a/b"}})
	if err == nil || !strings.Contains(err.Error(), "--allowed-hosts") {
		t.Errorf("expected a bad entry refused, got %v", err)
	}
	if code, _ := s.post(t, "revenuecat", rcWebhook("any-host", "RENEWAL", "u", 1), rcHeader()); code != 200 {
		t.Errorf("webhooks answer any host: got %d", code)
	}
}

// /admin/pending counts a webhook's jobs until they are delivered: what a scenario run waits for instead of a
// settle window.
func TestPendingCountsAWebhooksJobsUntilDelivered(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.Delivery.MaxAttempts = 100000 })
	ctx := context.Background()
	if _, err := s.ct.AddFault(ctx, clevertap.Fault{Action: "respond", Status: 503}); err != nil {
		t.Fatal(err)
	}
	code, a := s.post(t, "revenuecat", rcWebhook("pend-1", "RENEWAL", "pend-user", 4.99), rcHeader())
	if code != 200 || a.EventID != "pend-1" {
		t.Fatalf("expected the webhook acked with its event id, got %d %+v", code, a)
	}
	pending := func() string {
		_, body := s.admin(t, http.MethodGet, "/admin/pending?source=revenuecat&event_id=pend-1&event_id=other")
		return strings.TrimSpace(string(body))
	}
	if got := pending(); got != `{"pending":1}` {
		t.Fatalf("CleverTap down: expected one job pending, got %s", got)
	}
	if err := s.ct.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return pending() == `{"pending":0}` })
	s.waitEvents(t, clevertap.WaitRequest{Identity: "pend-user", Count: 1})
	if code, body := s.admin(t, http.MethodGet, "/admin/pending?source=revenuecat"); code != 400 ||
		!strings.Contains(string(body), "at least one ?event_id=") {
		t.Fatalf("no event id: expected 400 saying what is needed, got %d %s", code, body)
	}
}
