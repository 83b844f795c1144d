package inspector_test

// The inspector in a real headless Chromium (chromedp): what QA sees is what these tests check. Without a
// browser each test is skipped, saying what to install. A failing test leaves a screenshot in reports/.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ctharness/ctharness/clevertaptest"
	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/browser"
	"github.com/ctharness/ctharness/internal/pgtest"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/scenarios"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/proxy"
)

var shared struct {
	once sync.Once
	ctx  context.Context
	stop func()
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	os.Exit(code)
}

// sharedBrowser is one browser for the package's tests (each test opens its own tab); no browser skips.
func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	shared.once.Do(func() { shared.ctx, shared.stop, shared.err = browser.Start(context.Background(), 1280, 900) })
	if errors.Is(shared.err, browser.ErrNoBrowser) {
		t.Skipf("skipped: %v", shared.err)
	}
	if shared.err != nil {
		t.Fatalf("the browser did not start: %v", shared.err)
	}
	return shared.ctx
}

// page is one browser tab on a stack's inspector.
type page struct {
	t    *testing.T
	tab  context.Context
	base string
}

const stepTimeout = 20 * time.Second

func openTab(t *testing.T, simulatorURL string) *page {
	t.Helper()
	tab, closeTab := chromedp.NewContext(sharedBrowser(t))
	if err := chromedp.Do(tab); err != nil {
		closeTab()
		t.Fatalf("open a tab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			root, err := harness.RepoRoot()
			if err == nil {
				path := filepath.Join(root, "reports", "inspector-"+browser.FileName(t.Name())+".png")
				if err := browser.Screenshot(tab, path); err == nil {
					t.Logf("screenshot of the page: %s", path)
				}
			}
		}
		closeTab()
	})
	return &page{t: t, tab: tab, base: simulatorURL + "/_sim/inspector/"}
}

func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// waitFor waits until a JavaScript expression is true in the page.
func (p *page) waitFor(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		p.t.Fatalf("waiting until %s (%s): %v", what, expr, err)
	}
}

func evaluate[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open loads the inspector at a view (a query string such as "?view=faults") and waits until it is drawn.
func (p *page) open(query string) {
	p.t.Helper()
	p.do("open the inspector", chromedp.Navigate(p.base+query))
	p.waitFor("the page is drawn", `document.readyState === "complete" && document.getElementById("main") !== null`)
}

// liveRows waits for the requests view to follow the stream.
func (p *page) waitLive() {
	p.t.Helper()
	p.waitFor("the page follows the live stream", `document.getElementById("live").classList.contains("on")`)
}

func rowTexts(p *page) []string {
	return evaluate[[]string](p, `[...document.querySelectorAll('[data-testid=request-row]')].map(r => r.innerText)`)
}

// stack is an in-process simulator and relay (the development token, so the relay panel works as under
// `simulator up`) with the built-in scenarios linked to the scenario panel.
func stack(t *testing.T) *harness.Stack {
	t.Helper()
	cfg := config.Default()
	harness.QuickRetries(&cfg)
	st, err := harness.StartInProcess(context.Background(), harness.Options{AdminToken: harness.DevAdminToken,
		Relay: &cfg, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	all, err := scenarios.LoadBuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	st.Simulator.Inspector.SetPlayer(scenarios.Player{Target: scenarios.Target{SimulatorURL: st.SimulatorURL,
		RelayURL: st.RelayURL, RelayAdminToken: st.RelayAdminToken}, List: all})
	return st
}

var eu = clevertap.Credentials{AccountID: "SIM-EU1-0001", Passcode: "sim-eu1-pass"}

func upload(t *testing.T, st *harness.Stack, records ...any) *clevertap.APIResult {
	t.Helper()
	_, res, err := clevertap.NewClient(st.SimulatorURL).Upload(context.Background(), "eu1", eu, records...)
	if err != nil && res == nil {
		t.Fatal(err)
	}
	return res
}

func event(identity, name string) map[string]any {
	return map[string]any{"type": "event", "identity": identity, "ts": time.Now().Unix(), "evtName": name,
		"evtData": map[string]any{"amount": 9.99, "currency": "USD"}}
}

func TestARecordShowsWithoutReload(t *testing.T) {
	st := stack(t)
	p := openTab(t, st.SimulatorURL)
	p.open("")
	p.waitLive()
	if n := len(rowTexts(p)); n != 0 {
		t.Fatalf("a fresh simulator's page shows %d request rows, want none", n)
	}
	upload(t, st, event("alice", "rc_trial_started_event"))
	p.waitFor("the upload's row appears", `document.querySelectorAll('[data-testid=request-row]').length === 1`)
	row := rowTexts(p)[0]
	for _, want := range []string{"eu1", "SIM-EU1-0001", "upload", "200", "accepted", "1/1"} {
		if !strings.Contains(row, want) {
			t.Errorf("the row %q does not show %q", row, want)
		}
	}
	if nav := evaluate[int](p, `performance.getEntriesByType("navigation").length`); nav != 1 {
		t.Errorf("the page was loaded %d times, want once (the row must come without a reload)", nav)
	}
}

// TestStreamDelay measures, in the browser, the time from an upload's start to its row on screen.
func TestStreamDelay(t *testing.T) {
	st := stack(t)
	p := openTab(t, st.SimulatorURL)
	p.open("")
	p.waitLive()
	p.do("watch rows arrive", chromedp.Evaluate[chromedp.Void](`window.rowTimes = [];
		new MutationObserver(() => { window.rowTimes.push(performance.timeOrigin + performance.now()); })
			.observe(document.getElementById("rows"), {childList: true});`))
	const uploads = 30
	var delays []time.Duration
	for i := range uploads {
		start := time.Now()
		upload(t, st, event(fmt.Sprintf("delay-%d", i), "rc_trial_started_event"))
		p.waitFor("the upload's row appears", fmt.Sprintf(`window.rowTimes.length === %d`, i+1))
		at := evaluate[float64](p, fmt.Sprintf(`window.rowTimes[%d]`, i))
		delays = append(delays, time.UnixMicro(int64(at*1000)).Sub(start))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("upload → row on screen over %d uploads: min %s, median %s, p90 %s, max %s", uploads,
		delays[0].Round(10*time.Microsecond), delays[uploads/2].Round(10*time.Microsecond),
		delays[uploads*9/10].Round(10*time.Microsecond), delays[uploads-1].Round(10*time.Microsecond))
	if rows := rowTexts(p); len(rows) != uploads {
		t.Errorf("%d rows on screen, want %d:\n%s", len(rows), uploads, strings.Join(rows, "\n"))
	}
}

func TestARefusedRecordShowsItsCodeInPlace(t *testing.T) {
	st := stack(t)
	p := openTab(t, st.SimulatorURL)
	p.open("")
	p.waitLive()
	noName := map[string]any{"type": "event", "identity": "bob", "ts": time.Now().Unix(), "evtData": map[string]any{}}
	millis := event("bob", "rc_renewal_event")
	millis["ts"] = time.Now().UnixMilli() // refused (525) and warned: the warning shows once, beside the record
	upload(t, st, event("bob", "rc_initial_purchase_event"), noName, millis)
	p.waitFor("the upload's row appears", `document.querySelectorAll('[data-testid=request-row]').length === 1`)
	row := rowTexts(p)[0]
	if !strings.Contains(row, "partial") || !strings.Contains(row, "1/3") {
		t.Errorf("the row %q does not show a partial upload of 1 of 3 records", row)
	}
	// the list says what the request carried, as simulator tail does, and why part of it was refused
	if carried := evaluate[string](p, `document.querySelector('[data-testid=carried]').innerText`); carried !=
		"rc_initial_purchase_event, (no evtName), rc_renewal_event · bob" {
		t.Errorf("the row says it carried %q", carried)
	}
	if diag := evaluate[string](p, `document.querySelector('[data-testid=request-row] td.diag').innerText`); diag == "" {
		t.Error("a partial upload's row shows no diagnosis")
	}
	p.do("open the request", chromedp.Click(chromedp.CSS(`[data-testid=request-row]`)))
	p.waitFor("the request's records are shown", `document.querySelectorAll('.record').length === 3`)
	marked := evaluate[[]string](p,
		`[...document.querySelectorAll('.record')].map(r => r.dataset.testid + ": " + r.querySelector("header").innerText)`)
	want := []string{
		"record: record 1",
		"refused-record: record 2 — code 509: Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. " +
			"Skipped record number : 2",
		"refused-record: record 3 — code 525: Timestamp should be present in the Unix Epoch format. " +
			"Skipped record number : 3",
	}
	// the milliseconds warning: once, beside record 3, not again in the request's notes
	page := evaluate[string](p, `document.getElementById("main").innerText`)
	if n := strings.Count(page, "looks like milliseconds"); n != 1 {
		t.Errorf("the milliseconds warning shows %d times, want once beside its record", n)
	}
	if fmt.Sprint(marked) != fmt.Sprint(want) {
		t.Errorf("records shown as\n%q\nwant\n%q", marked, want)
	}
	beside := evaluate[string](p, `document.querySelector('[data-testid=refused-record] [data-testid=record-diagnosis]')`+
		`.innerText`)
	if want := "simulator: the event has no evtName (or an empty one): an event record needs its name"; beside != want {
		t.Errorf("the simulator's diagnosis beside the refused record reads %q, want %q", beside, want)
	}
	resp := evaluate[string](p, `document.querySelector('[data-testid=response]').innerText`)
	var body map[string]any
	if err := json.Unmarshal([]byte(resp), &body); err != nil || body["status"] != "partial" {
		t.Errorf("the exact response is not shown: %q (%v)", resp, err)
	}
	passcode := evaluate[string](p, `[...document.querySelectorAll("dt")].find(dt => dt.innerText === `+
		`"X-Clevertap-Passcode").nextElementSibling.innerText`)
	if passcode != "REDACTED" || strings.Contains(evaluate[string](p, `document.body.innerText`), "sim-eu1-pass") {
		t.Errorf("the passcode header shows %q, want REDACTED and the passcode nowhere on the page", passcode)
	}
}

// An address with a view the inspector does not have says so, instead of showing the requests as if asked.
func TestAnUnknownViewSaysSo(t *testing.T) {
	st := stack(t)
	p := openTab(t, st.SimulatorURL)
	p.open("?view=nope")
	p.waitFor("an error is shown", `document.querySelector('[role=alert]') !== null`)
	text := evaluate[string](p, `document.querySelector('[role=alert]').innerText`)
	if !strings.Contains(text, `no view "nope"`) || !strings.Contains(text, "requests") {
		t.Errorf("the page says %q", text)
	}
}

func TestAFilterNarrowsAndSurvivesAReload(t *testing.T) {
	st := stack(t)
	upload(t, st, event("alice", "rc_trial_started_event"))
	upload(t, st, event("bob", "rc_trial_started_event"))
	upload(t, st, event("carol", "rc_trial_started_event"))
	p := openTab(t, st.SimulatorURL)
	p.open("")
	p.waitFor("three rows", `document.querySelectorAll('[data-testid=request-row]').length === 3`)
	p.do("filter on bob", chromedp.SendKeys(chromedp.CSS(`[data-testid=filter-q]`), "bob"),
		chromedp.Click(chromedp.CSS(`[data-testid=filter-apply]`)))
	p.waitFor("one row", `document.querySelectorAll('[data-testid=request-row]').length === 1`)
	loc := evaluate[string](p, `location.search`)
	if !strings.Contains(loc, "q=bob") {
		t.Fatalf("the address %q does not hold the filter", loc)
	}
	p.do("reload", chromedp.Reload())
	p.waitFor("one row after the reload", `document.querySelectorAll('[data-testid=request-row]').length === 1 && `+
		`document.querySelector('[data-testid=filter-q]').value === "bob"`)
	p.waitLive() // the reloaded page follows the stream before the next uploads (a loaded run sent them sooner)
	upload(t, st, event("dave", "rc_trial_started_event"))
	upload(t, st, event("bob", "rc_renewal_event"))
	p.waitFor("the live row of bob, and not dave's", `document.querySelectorAll('[data-testid=request-row]').length === 2`)
}

func TestAFaultAddedThroughTheFormAnswersTheNextUpload(t *testing.T) {
	st := stack(t)
	p := openTab(t, st.SimulatorURL)
	p.open("?view=faults")
	p.waitFor("the form", `document.querySelector('[data-testid=fault-form]') !== null`)
	p.do("fill in a 503 once", chromedp.SetValue(chromedp.CSS(`[name=status]`), "503"),
		chromedp.SetValue(chromedp.CSS(`[name=times]`), "1"),
		chromedp.SetValue(chromedp.CSS(`select[name=endpoint]`), "upload"),
		chromedp.Click(chromedp.CSS(`[data-testid=fault-add]`)))
	p.waitFor("the fault is listed", `document.querySelectorAll('[data-testid=fault-row]').length === 1`)
	if res := upload(t, st, event("erin", "rc_trial_started_event")); res.StatusCode != 503 {
		t.Fatalf("the upload after the fault got HTTP %d, want 503", res.StatusCode)
	}
	if res := upload(t, st, event("erin", "rc_trial_started_event")); res.StatusCode != 200 {
		t.Fatalf("the upload after the fault's one time got HTTP %d, want 200", res.StatusCode)
	}
}

func TestADeadLetterRetriedFromThePageReachesTheFake(t *testing.T) {
	st := stack(t)
	ct := clevertap.NewClient(st.SimulatorURL)
	ctx := context.Background()
	if _, err := ct.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultRespond, Status: 400, Times: 1,
		Endpoint: "upload"}); err != nil {
		t.Fatal(err)
	}
	identity := sendRevenueCatPurchase(t, st)
	deadLetters := func() int {
		letters, err := adminclient.New(st.RelayURL, st.RelayAdminToken).DeadLetters(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(letters)
	}
	waitUntil(t, "the relay dead-letters the refused upload", func() bool { return deadLetters() == 1 })
	p := openTab(t, st.SimulatorURL)
	p.open("?view=relay")
	p.waitFor("the dead letter is listed", `document.querySelectorAll('[data-testid=deadletter-row]').length === 1`)
	p.do("retry it", chromedp.Click(chromedp.CSS(`[data-testid=deadletter-row] [data-testid=retry]`)))
	events, err := ct.Wait(ctx, clevertap.WaitRequest{Identity: identity, Count: 1, TimeoutMS: 15000})
	if err != nil {
		t.Fatalf("the retried dead letter did not reach the fake: %v", err)
	}
	if !strings.Contains(string(events[0].Record), `"evtName":"rc_initial_purchase_event"`) {
		t.Errorf("the fake holds %s, want the purchase", events[0].Record)
	}
	p.waitFor("the list is empty after the retry",
		`document.querySelectorAll('[data-testid=deadletter-row]').length === 0`)
}

// With the outbox in PostgreSQL the relay view names the replica that answered and, for each destination, the
// replica sending it now.
func TestTheRelayViewSaysWhichReplicaSendsWhat(t *testing.T) {
	sharedBrowser(t) // skips without a browser before a database is started
	if _, err := pgtest.Find(); err != nil {
		t.Skipf("skipped: %v", err)
	}
	ctx := context.Background()
	cluster, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	cfg := config.Default()
	harness.QuickRetries(&cfg)
	cfg.Outbox.Driver, cfg.Outbox.DSN = "postgres", cluster.DSN
	st, err := harness.StartInProcess(ctx, harness.Options{AdminToken: harness.DevAdminToken, Relay: &cfg,
		Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sendRevenueCatPurchase(t, st)
	admin := adminclient.New(st.RelayURL, st.RelayAdminToken)
	var replica string
	waitUntil(t, "the relay holds the RevenueCat destination's lease", func() bool {
		status, err := admin.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		replica = status.Store.Replica
		return replica != "" && status.Store.Leases["revenuecat/clevertap"].Holder == replica
	})
	p := openTab(t, st.SimulatorURL)
	p.open("?view=relay")
	p.waitFor("the outbox line names this replica", fmt.Sprintf(
		`(document.querySelector('[data-testid=outbox]') || {innerText: ""}).innerText.includes(%q)`,
		"this replica "+replica))
	p.waitFor("the destination's row names the replica sending it", fmt.Sprintf(
		`[...document.querySelectorAll('tr')].some(r => r.innerText.startsWith("revenuecat/clevertap") &&
			(r.querySelector('[data-testid=lease]') || {}).innerText === %q)`, replica))
}

func TestAScenarioReplayedFromThePageShowsPass(t *testing.T) {
	st := stack(t)
	p := openTab(t, st.SimulatorURL)
	p.open("?view=scenarios")
	p.waitFor("the play form", `document.querySelector('[data-testid=play-form] select') !== null`)
	p.do("pick trial-converts through RevenueCat",
		chromedp.SetValue(chromedp.CSS(`[data-testid=play-form] select`), "trial-converts × revenuecat"),
		chromedp.Click(chromedp.CSS(`[data-testid=play]`)))
	p.waitFor("the run is reported", `document.querySelectorAll('[data-testid=run-row]').length === 1`)
	row := evaluate[string](p, `document.querySelector('[data-testid=run-row]').innerText`)
	if !strings.Contains(row, "pass") || !strings.Contains(row, "trial-converts × revenuecat") {
		t.Errorf("the run row reads %q, want a pass of trial-converts × revenuecat", row)
	}
}

// TestTheFirstPageOf100000Requests measures how long the page takes to show the newest requests of a journal
// holding 100,000 (the server pages; the page asks for one page), and how much the page weighs on first load.
func TestTheFirstPageOf100000Requests(t *testing.T) {
	const entries = 100_000
	sim, err := harness.StartSimulator(simulator.Config{}, fake.Options{JournalLimit: entries,
		EventLimit: entries}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	// straight into the handler: the journal is what is measured, not 100,000 loopback round trips
	for i := range entries {
		body := fmt.Sprintf(`{"d":[{"type":"event","identity":"user-%d","evtName":"rc_renewal_event","evtData":{}}]}`, i)
		req := httptest.NewRequest(http.MethodPost, "/eu1/1/upload", strings.NewReader(body))
		req.Header.Set("X-CleverTap-Account-Id", eu.AccountID)
		req.Header.Set("X-CleverTap-Passcode", eu.Passcode)
		sim.Simulator.ServeHTTP(httptest.NewRecorder(), req)
	}
	p := openTab(t, sim.URL)
	p.open("")
	ctx, cancel := context.WithTimeout(p.tab, stepTimeout)
	defer cancel()
	shown, err := chromedp.Run(ctx, chromedp.Poll[float64](
		`document.querySelectorAll('[data-testid=request-row]').length === 100 && performance.now()`,
		chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		t.Fatalf("waiting for the first page of requests: %v", err)
	}
	first := evaluate[string](p, `document.querySelector('[data-testid=request-row]').dataset.seq`)
	if first != fmt.Sprint(entries) {
		t.Errorf("the first row is request %s, want the newest, %d", first, entries)
	}
	weight := evaluate[float64](p, `performance.getEntriesByType("navigation")[0].transferSize + `+
		`performance.getEntriesByType("resource").filter((r) => !r.name.includes("/_sim/requests") && `+
		`!r.name.includes("/_sim/stream") && !r.name.includes("/_sim/piano")).reduce((n, r) => n + r.transferSize, 0)`)
	data := evaluate[float64](p, `performance.getEntriesByType("resource").filter((r) => `+
		`r.name.includes("/_sim/requests")).reduce((n, r) => n + r.transferSize, 0)`)
	t.Logf("%d requests in the journal: the first page of 100 shown %.0f ms after navigation began; the page "+
		"weighs %.1f KiB on first load (HTML, CSS, JavaScript, info), its first page of requests %.1f KiB",
		entries, shown, weight/1024, data/1024)
	if weight == 0 {
		t.Errorf("the page's transfer size reads 0: the measure is broken")
	}
}

// sendRevenueCatPurchase sends RevenueCat's INITIAL_PURCHASE to the relay as RevenueCat does; it returns the
// identity the relay files it under.
// sendRevenueCatPurchase sends RevenueCat's INITIAL_PURCHASE to the stack's relay and returns the user's id.
func sendRevenueCatPurchase(t *testing.T, st *harness.Stack) string {
	t.Helper()
	user := clevertaptest.User("ct-dead-letter")
	var sender clevertaptest.Fake // Send needs no running fake: it plays the vendor
	sender.Send(t, "revenuecat", "INITIAL_PURCHASE", st.RelayURL+"/webhooks/revenuecat",
		harness.DefaultCredential("revenuecat").Value, user)
	return user.CleverTapID
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s until %s", stepTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTheKeyboardMovesOpensAndGoesBack(t *testing.T) {
	st := stack(t)
	upload(t, st, event("kim", "rc_trial_started_event"))
	upload(t, st, event("lee", "rc_renewal_event"))
	p := openTab(t, st.SimulatorURL)
	p.open("")
	p.waitFor("two rows", `document.querySelectorAll('[data-testid=request-row]').length === 2`)
	p.do("j, j: the second row", chromedp.KeyEvent("j"), chromedp.KeyEvent("j"))
	p.waitFor("the second row is picked", `document.querySelectorAll('[data-testid=request-row]')[1].`+
		`classList.contains("picked")`)
	p.do("Enter opens it", chromedp.KeyEvent(kb.Enter))
	p.waitFor("the request's view", `new URLSearchParams(location.search).get("view") === "request" && `+
		`document.querySelectorAll('.record').length === 1`)
	if body := evaluate[string](p, `document.getElementById("main").innerText`); !strings.Contains(body, "kim") {
		t.Errorf("Enter on the second row (the older upload) opened a request without kim's record:\n%s", body)
	}
	p.do("Esc goes back", chromedp.KeyEvent(kb.Escape))
	p.waitFor("the requests again", `document.querySelectorAll('[data-testid=request-row]').length === 2`)
	p.do("4: the faults view", chromedp.KeyEvent("4"))
	p.waitFor("the faults view", `document.querySelector('[data-testid=fault-form]') !== null`)
}

// An exchange through the lint proxy shows as the real CleverTap's answer, its drift marked in the list and
// explained in the detail: here the upstream discards an event the proxy's view accepts (the fake too lenient).
func TestADriftThroughTheProxyIsMarkedInPlace(t *testing.T) {
	accounts := clevertap.DefaultAccounts()
	for i := range accounts {
		accounts[i].DiscardedEvents = []string{"Gone"}
	}
	upstream, err := harness.StartSimulator(simulator.Config{Accounts: accounts}, fake.Options{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = upstream.Close() })
	lint, err := harness.StartProxy(upstream.URL+"/{region}", proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lint.Close() })
	p := openTab(t, lint.URL)
	p.open("")
	p.waitLive()
	_, res, err := clevertap.NewClient(lint.URL).Upload(context.Background(), "eu1", eu, event("carol", "Gone"))
	if err != nil && res == nil {
		t.Fatal(err)
	}
	p.waitFor("the exchange's row appears", `document.querySelectorAll('[data-testid=request-row]').length === 1`)
	if drift := evaluate[string](p, `document.querySelector('[data-testid=drift]').innerText`); drift !=
		"drift: too_lenient" {
		t.Errorf("the row's drift mark reads %q, want drift: too_lenient", drift)
	}
	if via := evaluate[string](p, `document.querySelector('[data-testid=proxied]').innerText`); via !=
		"real CleverTap, via the proxy" {
		t.Errorf("the row says %q about where the answer came from", via)
	}
	p.do("open the exchange", chromedp.Click(chromedp.CSS(`[data-testid=request-row]`)))
	p.waitFor("the exchange's notes are shown", `document.querySelector('[data-testid=diagnosis]') !== null`)
	page := evaluate[string](p, `document.getElementById("main").innerText`)
	for _, want := range []string{"the real CleverTap's, through the lint proxy", "drift: too_lenient",
		"drift (too_lenient): record 0: CleverTap refused it (528"} {
		if !strings.Contains(page, want) {
			t.Errorf("the exchange's page does not say %q:\n%s", want, page)
		}
	}
}
