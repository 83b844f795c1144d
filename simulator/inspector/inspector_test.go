package inspector_test

// The inspector's HTTP side without a browser: the live stream, the relay panel's proxy, the scenario panel's
// errors and which requests for / lead to the page.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/inspector"
)

func newSimulator(t *testing.T) (*simulator.Simulator, *httptest.Server) {
	t.Helper()
	sim, err := simulator.New(simulator.Config{}, fake.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

// sseEvent is one Server-Sent Event as a reader sees it.
type sseEvent struct{ name, id, data string }

// openStream connects to /_sim/stream with a query and returns its events as they come; the hello event is read.
func openStream(t *testing.T, base, query string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_sim/stream"+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /_sim/stream%s: %d %s, want 200 text/event-stream", query, resp.StatusCode,
			resp.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.name != "" {
					events <- e
				}
				e = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				e.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				e.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				e.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	if hello := next(t, events); hello.name != "hello" || !strings.Contains(hello.data, `"version":"test"`) {
		t.Fatalf("the stream's first event is %+v, want hello with the version", hello)
	}
	return events
}

func next(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case e, open := <-events:
		if !open {
			t.Fatal("the stream ended")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no stream event within 10 s")
	}
	return sseEvent{}
}

func postUpload(t *testing.T, base, account, passcode, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/1/upload", strings.NewReader(body))
	req.Header.Set("X-CleverTap-Account-Id", account)
	req.Header.Set("X-CleverTap-Passcode", passcode)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

const oneEvent = `{"d":[{"type":"event","identity":"alice","ts":1764000000,"evtName":"rc_renewal_event",` +
	`"evtData":{"amount":9.99}}]}`

func TestTheStreamCarriesEachUploadWithItsRecordsAndRedactsThePasscode(t *testing.T) {
	_, srv := newSimulator(t)
	events := openStream(t, srv.URL, "")
	postUpload(t, srv.URL, "SIM-EU1-0001", "sim-eu1-pass", oneEvent)
	e := next(t, events)
	if e.name != "clevertap" || !strings.HasSuffix(e.id, ".1") {
		t.Fatalf("event %q id %q, want clevertap id <instance>.1 (the journal's seq)", e.name, e.id)
	}
	var entry struct {
		Account        string            `json:"account"`
		Outcome        string            `json:"outcome"`
		Status         int               `json:"status"`
		RequestHeaders map[string]string `json:"request_headers"`
		RequestBody    string            `json:"request_body"`
	}
	if err := json.Unmarshal([]byte(e.data), &entry); err != nil {
		t.Fatalf("the event's data %s: %v", e.data, err)
	}
	if entry.Account != "SIM-EU1-0001" || entry.Outcome != "accepted" || entry.Status != 200 {
		t.Errorf("the entry is account %q outcome %q status %d, want SIM-EU1-0001 accepted 200", entry.Account,
			entry.Outcome, entry.Status)
	}
	if !strings.Contains(entry.RequestBody, "rc_renewal_event") {
		t.Errorf("the request body %q does not hold the upload", entry.RequestBody)
	}
	if strings.Contains(e.data, "sim-eu1-pass") {
		t.Errorf("the stream shows the passcode: %s", e.data)
	}
	if got := entry.RequestHeaders["X-Clevertap-Passcode"]; got != "REDACTED" {
		t.Errorf("the passcode header reads %q, want REDACTED", got)
	}
}

func TestTheStreamFiltersByAccountAndOutcome(t *testing.T) {
	_, srv := newSimulator(t)
	events := openStream(t, srv.URL, "?account=SIM-EU1-0001&outcome=unauthorized")
	postUpload(t, srv.URL, "SIM-EU1-0001", "sim-eu1-pass", oneEvent)   // accepted: not shown
	postUpload(t, srv.URL, "SIM-US1-0001", "wrong", oneEvent)          // another account: not shown
	postUpload(t, srv.URL, "SIM-EU1-0001", "wrong-passcode", oneEvent) // the one the filter wants
	e := next(t, events)
	if e.name != "clevertap" || !strings.HasSuffix(e.id, ".3") {
		t.Fatalf("the first event through the filter is %q id %q (%s), want clevertap id <instance>.3", e.name, e.id,
			e.data)
	}
	if !strings.Contains(e.data, `"outcome":"unauthorized"`) {
		t.Errorf("the event is not the unauthorized upload: %s", e.data)
	}
}

func TestTheStreamCarriesPianoCallsUnlessOnlyCleverTapIsAsked(t *testing.T) {
	_, srv := newSimulator(t)
	both := openStream(t, srv.URL, "")
	onlyCT := openStream(t, srv.URL, "?kinds=clevertap")
	resp, err := http.Post(srv.URL+"/piano/event?s=100001&idclient=v", "application/json",
		strings.NewReader(`{"events":[{"name":"TRIAL_STARTED","data":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if e := next(t, both); e.name != "piano" || !strings.Contains(e.data, "TRIAL_STARTED") {
		t.Fatalf("the stream's event is %q %s, want the piano call", e.name, e.data)
	}
	postUpload(t, srv.URL, "SIM-EU1-0001", "sim-eu1-pass", oneEvent)
	if e := next(t, onlyCT); e.name != "clevertap" {
		t.Fatalf("?kinds=clevertap gave a %q event first, want the clevertap upload (the piano call left out)", e.name)
	}
}

func TestAReconnectingReaderGetsWhatItMissedOnceAndANewSimulatorsFromTheStart(t *testing.T) {
	_, srv := newSimulator(t)
	first := openStream(t, srv.URL, "")
	postUpload(t, srv.URL, "SIM-EU1-0001", "sim-eu1-pass", oneEvent)
	left := next(t, first).id // the reader goes away after seq 1
	postUpload(t, srv.URL, "SIM-EU1-0001", "wrong", oneEvent)
	postUpload(t, srv.URL, "SIM-EU1-0001", "sim-eu1-pass", oneEvent)
	again := openStream(t, srv.URL, "?since="+left)
	instance, _, _ := strings.Cut(left, ".")
	for _, want := range []string{instance + ".2", instance + ".3"} {
		if e := next(t, again); e.name != "clevertap" || e.id != want {
			t.Fatalf("after reconnecting: %q id %q, want the missed entry %s", e.name, e.id, want)
		}
	}
	postUpload(t, srv.URL, "SIM-EU1-0001", "sim-eu1-pass", oneEvent)
	if e := next(t, again); e.id != instance+".4" {
		t.Fatalf("then the live entry: id %q, want %s.4 (no entry twice)", e.id, instance)
	}

	// a reader that left another simulator (restarted since) gets this one's journal from its first entry
	other := openStream(t, srv.URL, "?since=0123abcd.3")
	if e := next(t, other); e.id != instance+".1" {
		t.Fatalf("a reader of another instance: first id %q, want %s.1", e.id, instance)
	}
}

func TestTheStreamRefusesAnUnknownParameter(t *testing.T) {
	_, srv := newSimulator(t)
	resp, err := http.Get(srv.URL + "/_sim/stream?acount=x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "acount") {
		t.Fatalf("GET /_sim/stream?acount=x: %d %s, want 400 naming the parameter", resp.StatusCode, body)
	}
}

func TestTheRelayPanelPassesTheCallersTokenAndNoneOfItsOwn(t *testing.T) {
	sim, srv := newSimulator(t)
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/_sim/relay/status", "t"); code != http.StatusNotFound || !strings.Contains(body, "--relay") {
		t.Fatalf("no relay linked: %d %s, want 404 saying how to link one", code, body)
	}
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/metrics":
			_, _ = io.WriteString(w, "# TYPE relay_webhooks_received_total counter\n"+
				`relay_webhooks_received_total{outcome="accepted",source="revenuecat"} 3`+"\n"+
				`relay_webhooks_received_total{outcome="rejected",source="appsflyer"} 1`+"\n")
		case r.Header.Get("Authorization") != "Bearer secret":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"unauthorized"}`)
		default:
			_, _ = io.WriteString(w, `{"path":"`+r.URL.Path+`"}`)
		}
	}))
	t.Cleanup(relay.Close)
	sim.Inspector.SetRelay(&inspector.Relay{URL: relay.URL})
	if code, _ := get("/_sim/relay/status", ""); code != http.StatusUnauthorized {
		t.Errorf("without a token the relay's status answers %d, want the relay's own 401", code)
	}
	if code, body := get("/_sim/relay/deadletters", "secret"); code != 200 || body != `{"path":"/admin/deadletters"}` {
		t.Errorf("with the token: %d %s, want the relay's /admin/deadletters answer", code, body)
	}
	code, body := get("/_sim/relay/webhooks", "")
	var got struct {
		Webhooks map[string]map[string]float64 `json:"webhooks"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("webhooks: %d %s (%v)", code, body, err)
	}
	if got.Webhooks["revenuecat"]["accepted"] != 3 || got.Webhooks["appsflyer"]["rejected"] != 1 {
		t.Errorf("webhooks per source %v, want revenuecat accepted 3 and appsflyer rejected 1", got.Webhooks)
	}
}

func TestPlayingWithoutScenariosOrAnUnknownOneSaysWhy(t *testing.T) {
	sim, srv := newSimulator(t)
	play := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/_sim/scenarios/play", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := play(`{"scenario":"x","source":"revenuecat"}`); code != http.StatusNotFound ||
		!strings.Contains(body, "simulator up") {
		t.Errorf("no player: %d %s, want 404 pointing at simulator up", code, body)
	}
	sim.Inspector.SetPlayer(refusingPlayer{})
	if code, body := play(`{"scenario":"nope","source":"revenuecat"}`); code != http.StatusBadRequest ||
		!strings.Contains(body, `no scenario \"nope\"`) {
		t.Errorf("unknown scenario: %d %s, want 400 with the player's reason", code, body)
	}
	if code, body := play(`{"scenario":`); code != http.StatusBadRequest || !strings.Contains(body, "play:") {
		t.Errorf("a broken body: %d %s, want 400", code, body)
	}
}

type refusingPlayer struct{}

func (refusingPlayer) Scenarios() []inspector.Scenario { return nil }
func (refusingPlayer) Play(_ context.Context, name, _ string) (inspector.Run, error) {
	return inspector.Run{}, fmt.Errorf("no scenario %q", name)
}

func TestOnlyABrowserAtTheRootOfANonCleverTapHostIsLedToThePage(t *testing.T) {
	cases := []struct {
		host, accept string
		want         bool
	}{
		{"127.0.0.1:8081", "text/html,application/xhtml+xml", true},
		{"localhost", "text/html", true},
		{"eu1.api.clevertap.com", "text/html", false},
		{"api.clevertap.com:443", "text/html", false},
		{"127.0.0.1:8081", "application/json", false},
		{"127.0.0.1:8081", "", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = c.host
		r.Header.Set("Accept", c.accept)
		if got := inspector.WantsPage(r); got != c.want {
			t.Errorf("GET / Host %s Accept %q: WantsPage %v, want %v", c.host, c.accept, got, c.want)
		}
	}
	_, srv := newSimulator(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != inspector.Prefix {
		t.Errorf("a browser at /: %d Location %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"),
			inspector.Prefix)
	}
	req.Host = "eu1.api.clevertap.com"
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a browser at / of a CleverTap host: %d, want CleverTap's 404", resp.StatusCode)
	}
}

// TestThePageCannotBeFramedSniffedOrGivenScripts: the page and its files say so in their headers.
func TestThePageCannotBeFramedSniffedOrGivenScripts(t *testing.T) {
	_, srv := newSimulator(t)
	for _, path := range []string{inspector.Prefix, inspector.Prefix + "app.js", inspector.Prefix + "app.css"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != http.StatusOK || !strings.Contains(csp, "frame-ancestors 'none'") ||
			!strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: expected 200 with a CSP (frame-ancestors 'none', script-src 'self'), nosniff and "+
				"X-Frame-Options DENY, got %d %v", path, resp.StatusCode, resp.Header)
		}
	}
}

// The page's outcome filter offers every outcome the journal can hold, in the journal's order: a new outcome that
// the page did not list could not be filtered on.
func TestThePageOffersEveryOutcome(t *testing.T) {
	js, err := os.ReadFile(filepath.Join("assets", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	list := regexp.MustCompile(`(?s)const OUTCOMES = \[(.*?)\];`).FindSubmatch(js)
	if list == nil {
		t.Fatal("app.js has no OUTCOMES list")
	}
	var page []string
	for _, m := range regexp.MustCompile(`"([a-z_]+)"`).FindAllSubmatch(list[1], -1) {
		page = append(page, string(m[1]))
	}
	var journal []string
	for _, o := range clevertap.Outcomes() {
		journal = append(journal, string(o))
	}
	if strings.Join(page, ",") != strings.Join(journal, ",") {
		t.Fatalf("expected the page's outcomes to be the journal's,\n%v\ngot\n%v", journal, page)
	}
}
