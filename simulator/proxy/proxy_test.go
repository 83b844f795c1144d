package proxy

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// upstream is the "real" CleverTap of these tests: a second fake over TLS, configured to differ from the proxy's
// view (it discards an event the view accepts, refuses more than 3 records a request, words a wrong passcode
// otherwise, and serves no account in mec1).
func upstream(t *testing.T) (*fake.Server, *httptest.Server) {
	t.Helper()
	var accounts []clevertap.Account
	for _, a := range clevertap.DefaultAccounts() {
		if a.ID == "SIM-EU1-0001" {
			a.DiscardedEvents = []string{"Discarded Upstream"}
		}
		if a.Region != "mec1" { // a region the upstream does not serve (no account there)
			accounts = append(accounts, a)
		}
	}
	real, err := fake.New(fake.Options{Accounts: accounts, MaxRecords: 3, WrongPasscodeError: "Bad credentials"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamHits.Add(1)
		real.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return real, srv
}

// upstreamHits counts the requests the upstreams received (the tests that read it do not run in parallel).
var upstreamHits atomic.Int64

// view is the proxy's idea of CleverTap: the defaults, plus an event it discards that the upstream accepts.
func view(t *testing.T) *simulator.Simulator {
	t.Helper()
	accounts := clevertap.DefaultAccounts()
	for i := range accounts {
		if accounts[i].ID == "SIM-EU1-0001" {
			accounts[i].DiscardedEvents = []string{"Discarded In The View"}
		}
	}
	v, err := simulator.New(simulator.Config{Accounts: accounts}, fake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newProxy(t *testing.T, up *httptest.Server, opts Options) (*Proxy, *httptest.Server) {
	t.Helper()
	if opts.Upstream == "" {
		opts.Upstream = up.URL + "/{region}"
	}
	if opts.View == nil {
		opts.View = view(t)
	}
	if opts.Transport == nil {
		opts.Transport = NewTransport([]*x509.Certificate{up.Certificate()}, time.Minute)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		srv.Close()
		p.Close()
	})
	return p, srv
}

func event(name string, ts int64, identity string) string {
	return `{"type":"event","identity":"` + identity + `","ts":` + jsonInt(ts) + `,"evtName":"` + name +
		`","evtData":{"plan":"gold"}}`
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func post(t *testing.T, url, path, passcode, body string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CleverTap-Account-Id", "SIM-EU1-0001")
	req.Header.Set("X-CleverTap-Passcode", passcode)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// Each exchange comes back as the upstream answered it, byte for byte, and is judged: refused records flagged with
// their index and code, drift in both directions, a changed text, a stricter limit, a duplicate.
func TestTheProxyForwardsUnchangedAndJudgesEachExchange(t *testing.T) {
	real, up := upstream(t)
	direct := httptest.NewServer(real) // the same upstream without the proxy, for the byte-for-byte comparison
	defer direct.Close()
	p, srv := newProxy(t, up, Options{})
	cases := []struct {
		name, passcode, body string
		status               int
		drift                string
		lint                 []string // rule:index of each finding
	}{
		{"accepted", "sim-eu1-pass", `{"d":[` + event("Charged", 1700000000, "u1") + `]}`, 200, DriftAgree, nil},
		{"a millisecond ts refused by both", "sim-eu1-pass", `{"d":[` + event("Charged", 1700000000, "u2") + `,` +
			event("Charged", 1700000000000, "u2") + `]}`, 200, DriftAgree, []string{"refused:1"}},
		{"discarded upstream only: the fake is too lenient", "sim-eu1-pass", `{"d":[` +
			event("Discarded Upstream", 1700000001, "u3") + `]}`, 200, DriftTooLenient, []string{"refused:0"}},
		{"discarded in the view only: the fake is too strict", "sim-eu1-pass", `{"d":[` +
			event("Discarded In The View", 1700000002, "u4") + `]}`, 200, DriftTooStrict, nil},
		{"a stricter record limit upstream", "sim-eu1-pass", `{"d":[` + event("A", 1700000003, "u5") + `,` +
			event("B", 1700000003, "u5") + `,` + event("C", 1700000003, "u5") + `,` + event("D", 1700000003, "u5") +
			`]}`, 400, DriftTooLenient, []string{"refused:-1"}},
		{"a wrong passcode worded otherwise", "nope", `{"d":[` + event("E", 1700000004, "u6") + `]}`, 401,
			DriftDifferent, []string{"refused:-1"}},
		{"the first record again", "sim-eu1-pass", `{"d":[` + event("Charged", 1700000000, "u1") + `]}`, 200,
			DriftAgree, []string{"duplicate:0"}},
	}
	for i, tc := range cases {
		status, header, body := post(t, srv.URL, "/eu1/1/upload", tc.passcode, tc.body)
		dStatus, _, dBody := post(t, direct.URL, "/eu1/1/upload", tc.passcode, tc.body)
		if status != tc.status || status != dStatus || !bytes.Equal(body, dBody) {
			t.Fatalf("%s: expected %d and the upstream's own answer %d %s, got %d %s", tc.name, tc.status, dStatus,
				dBody, status, body)
		}
		if header.Get("X-Simulator-Request-Id") == "" && header.Get("Content-Type") == "" {
			t.Errorf("%s: the upstream's headers did not come back: %v", tc.name, header)
		}
		items := p.Report().Items
		if tc.drift == DriftAgree && tc.lint == nil {
			continue
		}
		got := items[len(items)-1]
		var rules []string
		for _, f := range got.Lint {
			if f.Rule != "check" {
				rules = append(rules, f.Rule+":"+jsonInt(int64(f.Index)))
			}
		}
		if got.Drift.Kind != tc.drift || strings.Join(rules, ",") != strings.Join(tc.lint, ",") {
			t.Errorf("%s (exchange %d): expected drift %s and lint %v, got %s %v and %v", tc.name, i, tc.drift,
				tc.lint, got.Drift.Kind, got.Drift.Details, rules)
		}
	}
	r := p.Report()
	if r.Exchanges != len(cases) || r.RefusedRecords != 2 || r.RefusedRequests != 2 || r.Drift[DriftTooLenient] != 2 ||
		r.Drift[DriftTooStrict] != 1 || r.Drift[DriftDifferent] != 1 || r.Lint["duplicate"] != 1 {
		t.Fatalf("expected 7 exchanges, 2 refused records, 2 refused requests, drift 2 too lenient, 1 too strict, "+
			"1 different, 1 duplicate; got %+v", r)
	}
	if f := r.Failures([]string{"refused", "drift", "lint"}); len(f) != 3 {
		t.Fatalf("expected the report to fail on refused, drift and lint, got %v", f)
	}
}

// The journal the inspector and tail read holds every proxied exchange, with the drift and lint in its diagnosis
// and never the passcode.
func TestProxiedExchangesAreJournaled(t *testing.T) {
	_, up := upstream(t)
	v := view(t)
	p, srv := newProxy(t, up, Options{View: v})
	post(t, srv.URL, "/eu1/1/upload", "sim-eu1-pass", `{"d":[`+event("Discarded Upstream", 1700000001, "u3")+`]}`)
	p.Close() // judged and journaled
	entries := v.CleverTap.Requests(clevertap.JournalFilter{})
	if len(entries) != 1 {
		t.Fatalf("expected one journaled exchange, got %d", len(entries))
	}
	e := entries[0]
	text := strings.Join(e.Diagnosis, "\n")
	if !strings.HasPrefix(e.RequestID, "proxy-") || e.Outcome != clevertap.OutcomeRejected ||
		!strings.Contains(text, "drift (too_lenient): record 0: CleverTap refused it (528") ||
		!strings.Contains(text, "lint refused: CleverTap refused record 0") {
		t.Fatalf("expected a proxy entry, rejected, with the drift and the lint, got %s %s:\n%s", e.RequestID,
			e.Outcome, text)
	}
	raw, _ := json.Marshal(e)
	if strings.Contains(string(raw), "sim-eu1-pass") {
		t.Fatalf("the journal holds the passcode: %s", raw)
	}
}

// An upstream that cannot be reached gets 502, one too slow 504, each with the reason in X-Simulator-Diagnosis;
// neither is retried, and a body over the limit is not forwarded at all.
func TestTheProxyAnswersWhatItCannotForward(t *testing.T) {
	real, up := upstream(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	_, unreachable := newProxy(t, up, Options{Upstream: "https://" + closed + "/{region}"})
	status, header, body := post(t, unreachable.URL, "/eu1/1/upload", "sim-eu1-pass", `{"d":[]}`)
	if status != 502 || string(body) != `{"status":"fail","error":"Bad Gateway","code":502}` ||
		!strings.Contains(header.Get("X-Simulator-Diagnosis"), "could not be reached") {
		t.Fatalf("expected 502 saying the upstream could not be reached, got %d %s %q", status, body,
			header.Get("X-Simulator-Diagnosis"))
	}
	before := upstreamHits.Load()
	// the deadline leaves a loaded machine time to reach the upstream (the count below wants one request there)
	if _, err := real.AddFault(clevertap.Fault{Action: clevertap.FaultDelay, DelayMS: 60000}); err != nil {
		t.Fatal(err)
	}
	_, slow := newProxy(t, up, Options{Timeout: time.Second,
		Transport: NewTransport([]*x509.Certificate{up.Certificate()}, time.Second)})
	status, header, _ = post(t, slow.URL, "/eu1/1/upload", "sim-eu1-pass", `{"d":[`+event("X", 1700000000, "u")+`]}`)
	if status != 504 || !strings.Contains(header.Get("X-Simulator-Diagnosis"), "did not answer within 1s") {
		t.Fatalf("expected 504 saying the upstream was too slow, got %d %q", status, header.Get("X-Simulator-Diagnosis"))
	}
	if n := upstreamHits.Load() - before; n != 1 {
		t.Fatalf("expected the slow upload sent once (never retried), the upstream saw %d", n)
	}
	p, small := newProxy(t, up, Options{MaxBodyBytes: 100})
	status, _, _ = post(t, small.URL, "/eu1/1/upload", "sim-eu1-pass", `{"d":[`+strings.Repeat(" ", 200)+`]}`)
	if status != 413 || upstreamHits.Load()-before != 1 || p.Report().Lint["upstream"] != 1 {
		t.Fatalf("expected 413 without forwarding, got %d (upstream saw %d)", status, upstreamHits.Load()-before)
	}
}

// net/http may hand back an answer that raced the deadline: what an upstream says once the proxy hung up (the fake
// answers a bare 200 when its delay is cut short) is a timeout, not the upstream's answer.
func TestAnAnswerAfterTheDeadlineIsATimeout(t *testing.T) {
	_, up := upstream(t)
	afterHangingUp := roundTripper(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	_, srv := newProxy(t, up, Options{Timeout: 50 * time.Millisecond, Transport: afterHangingUp})
	status, header, body := post(t, srv.URL, "/eu1/1/upload", "sim-eu1-pass", `{"d":[]}`)
	if status != 504 || string(body) != `{"status":"fail","error":"Gateway Timeout","code":504}` ||
		!strings.Contains(header.Get("X-Simulator-Diagnosis"), "did not answer within 50ms") {
		t.Fatalf("expected 504 saying the upstream did not answer in time, got %d %s %q", status, body,
			header.Get("X-Simulator-Diagnosis"))
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The report answers only the hosts the admin guard admits, and GET alone.
func TestTheReportIsGuarded(t *testing.T) {
	_, up := upstream(t)
	_, srv := newProxy(t, up, Options{})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+ReportPath, nil)
	req.Host = "attacker.example"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("expected a foreign Host refused, got %d", res.StatusCode)
	}
	res, err = http.Get(srv.URL + ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	err = json.NewDecoder(res.Body).Decode(&r)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || r.Exchanges != 0 {
		t.Fatalf("expected an empty report, got %d %+v %v", res.StatusCode, r, err)
	}
}

// A region the upstream does not serve for the account: CleverTap's 401 where the fake would accept.
func TestARegionTheUpstreamDoesNotServeIsDrift(t *testing.T) {
	_, up := upstream(t)
	p, srv := newProxy(t, up, Options{})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mec1/1/upload", strings.NewReader(`{"d":[`+
		event("Charged", 1700000000, "u1")+`]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CleverTap-Account-Id", "SIM-MEC1-0001")
	req.Header.Set("X-CleverTap-Passcode", "sim-mec1-pass")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	r := p.Report()
	if res.StatusCode != http.StatusUnauthorized || r.Drift[DriftTooLenient] != 1 || r.RefusedRequests != 1 {
		t.Fatalf("expected the upstream's 401 passed on, drift too lenient and a refused request, got %d %+v",
			res.StatusCode, r)
	}
}

// Read calls pass through and are compared by shape: pages of a size the fake's page rule would not give are
// shape drift, a cursor answer agrees.
func TestReadCallsAreComparedByShape(t *testing.T) {
	real, err := fake.New(fake.Options{PageMultiple: 1}) // pages of batch_size, unlike the fake's default of 23s
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewTLSServer(real)
	defer up.Close()
	p, srv := newProxy(t, up, Options{})
	var records []string
	for i := range 12 {
		records = append(records, event("Charged", 1700000000+int64(i), "reader"))
	}
	post(t, srv.URL, "/eu1/1/upload", "sim-eu1-pass", `{"d":[`+strings.Join(records, ",")+`]}`)
	_, _, body := post(t, srv.URL, "/eu1/1/events.json?batch_size=5", "sim-eu1-pass",
		`{"event_name":"Charged","from":20231114,"to":20231114}`)
	var first struct {
		Cursor string `json:"cursor"`
	}
	if err := json.Unmarshal(body, &first); err != nil || first.Cursor == "" {
		t.Fatalf("expected a cursor through the proxy, got %s", body)
	}
	status, _, page := post(t, srv.URL, "/eu1/1/events.json?cursor="+first.Cursor, "sim-eu1-pass", "")
	if status != 200 || !strings.Contains(string(page), `"next_cursor"`) {
		t.Fatalf("expected a first page with a next cursor, got %d %s", status, page)
	}
	r := p.Report()
	if r.Drift[DriftAgree] != 2 || r.Drift[DriftShape] != 1 {
		t.Fatalf("expected the upload and the cursor to agree and the page of 5 to be shape drift, got %v (%+v)",
			r.Drift, r.Items)
	}
	last := r.Items[len(r.Items)-1]
	if !strings.Contains(strings.Join(last.Drift.Details, "\n"), "a page of 5 records with a next page") {
		t.Fatalf("expected the page size named, got %v", last.Drift.Details)
	}
}
