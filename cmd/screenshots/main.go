// Command screenshots draws the README's pictures of the inspector (`make screenshots`): it starts the stack in
// process, gives it a morning's traffic (scenarios through the three sources, a refused record, a dead letter, a
// fault), and photographs each view in the headless Chromium the inspector's browser tests drive.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/browser"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/scenarios"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/inspector"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		if errors.Is(err, browser.ErrNoBrowser) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

// shot is one picture: a view of the inspector, the element that says it is drawn, and the window's width.
type shot struct {
	name, query, ready string
	width, height      int
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("screenshots", flag.ContinueOnError)
	dir := fs.String("out", "docs", "directory for the PNG files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, user, partial, err := stackWithTraffic(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	bctx, stop, err := browser.Start(ctx, 1280, 800)
	if err != nil {
		return err
	}
	defer stop()
	rows := `document.querySelectorAll('[data-testid=request-row]').length > 5`
	shots := []shot{
		{"requests", "", rows, 1280, 800},
		{"request", "?view=request&seq=" + fmt.Sprint(partial), `document.querySelectorAll('.record').length > 1`,
			1280, 900},
		{"user", "?view=user&identity=" + url.QueryEscape(user), `document.querySelector('[data-testid=user-event]')`,
			1280, 900},
		{"piano", "?view=piano", `document.querySelector('[data-testid=piano-site] tr')`, 1280, 800},
		{"faults", "?view=faults", `document.querySelector('[data-testid=fault-row]')`, 1280, 800},
		{"relay", "?view=relay", `document.querySelector('[data-testid=deadletter-row]')`, 1280, 800},
		{"scenarios", "?view=scenarios", `document.querySelectorAll('[data-testid=run-row]').length > 2`, 1280, 900},
		{"narrow", "", rows, 420, 860},
	}
	for _, s := range shots {
		path := filepath.Join(*dir, "inspector-"+s.name+".png")
		if err := photograph(bctx, st.SimulatorURL+inspector.Prefix+s.query, s, path); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintln(stdout, path)
	}
	return nil
}

func photograph(bctx context.Context, pageURL string, s shot, path string) error {
	tab, closeTab := chromedp.NewContext(bctx)
	defer closeTab()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(s.width), int64(s.height)),
		chromedp.Navigate(pageURL)); err != nil {
		return err
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`!!(`+s.ready+`)`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		return fmt.Errorf("the view was not drawn (%s): %w", s.ready, err)
	}
	// the fresh rows' highlight fades in 1.5 s: take the page as it rests
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`!document.querySelector('.fresh') || `+
		`document.getAnimations().length === 0`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		return err
	}
	return browser.Screenshot(tab, path)
}

// stackWithTraffic starts the stack of `simulator up` on free ports and sends it what a QA morning brings: it
// returns the stack, the identity of a user seen through the three sources, and a partial upload's journal seq.
func stackWithTraffic(ctx context.Context) (st *harness.Stack, user string, partial uint64, err error) {
	cfg := config.Default()
	harness.QuickRetries(&cfg)
	st, err = harness.StartInProcess(ctx, harness.Options{AdminToken: harness.DevAdminToken, Relay: &cfg,
		Version: "dev"})
	if err != nil {
		return nil, "", 0, err
	}
	defer func() {
		if err != nil {
			_ = st.Close()
		}
	}()
	all, err := scenarios.LoadBuiltIn()
	if err != nil {
		return nil, "", 0, err
	}
	player := scenarios.Player{Target: scenarios.Target{SimulatorURL: st.SimulatorURL, RelayURL: st.RelayURL,
		RelayAdminToken: st.RelayAdminToken}, List: all}
	st.Simulator.Inspector.SetPlayer(player)
	for _, p := range [][2]string{{"trial-converts", "revenuecat"}, {"trial-converts", "purchasely"},
		{"trial-converts", "appsflyer"}, {"refund-negative-revenue", "revenuecat"},
		{"piano-ignores-undeclared-events", "purchasely"}} {
		run, err := player.Play(ctx, p[0], p[1])
		if err != nil {
			return nil, "", 0, err
		}
		st.Simulator.Inspector.Record(run)
		if user == "" {
			user = "ct-trial-conv_" + run.RunID // the scenario's user, in this run's namespace
		}
	}
	ct := clevertap.NewClient(st.SimulatorURL)
	// a refused record: the request view marks it in place
	eu := clevertap.Credentials{AccountID: "SIM-EU1-0001", Passcode: "sim-eu1-pass"}
	now := time.Now().Unix()
	if _, _, err := ct.Upload(ctx, "eu1", eu,
		map[string]any{"type": "event", "identity": user, "ts": now, "evtName": "rc_renewal_event",
			"evtData": map[string]any{"amount": 9.99, "currency": "EUR"}},
		map[string]any{"type": "event", "identity": user, "ts": now, "evtData": map[string]any{}},
		map[string]any{"type": "profile", "identity": user, "ts": now,
			"profileData": map[string]any{"Gender": "female"}}); err != nil {
		return nil, "", 0, err
	}
	entries, err := ct.Requests(ctx, clevertap.JournalFilter{Outcome: clevertap.OutcomePartial})
	if err != nil || len(entries) == 0 {
		return nil, "", 0, fmt.Errorf("the partial upload is not in the journal (%v)", err)
	}
	partial = entries[len(entries)-1].Seq
	// a dead letter and a failed run: CleverTap refuses the relay's first upload with a 400, which the relay does
	// not retry, so the scenario misses its first record
	if _, err := ct.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultRespond, Status: 400, Times: 1,
		Endpoint: "upload"}); err != nil {
		return nil, "", 0, err
	}
	impatient := player
	impatient.Target.Timeout = 3 * time.Second // the missing record never comes: no need to wait 15 s for it
	run, err := impatient.Play(ctx, "paid-renewals", "revenuecat")
	if err != nil {
		return nil, "", 0, err
	}
	if run.Passed {
		return nil, "", 0, errors.New("paid-renewals passed though CleverTap refused its first upload")
	}
	st.Simulator.Inspector.Record(run)
	if err := waitForDeadLetter(ctx, st); err != nil {
		return nil, "", 0, err
	}
	// an active fault for the faults view
	if _, err := ct.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultRespond, Status: 503, Times: 3,
		Endpoint: "upload", Account: "SIM-US1-0001"}); err != nil {
		return nil, "", 0, err
	}
	return st, user, partial, nil
}

func waitForDeadLetter(ctx context.Context, st *harness.Stack) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		letters, err := adminclient.New(st.RelayURL, st.RelayAdminToken).DeadLetters(ctx, "")
		if err != nil {
			return err
		}
		if len(letters) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the relay did not dead-letter the refused upload within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
