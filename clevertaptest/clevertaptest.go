// Package clevertaptest gives a Go test a fake CleverTap (and Piano collector) in one call, cleaned up with the
// test, and the harness's scenarios and vendor emitters to drive the test's own webhook service:
//
//	ct := clevertaptest.New(t)
//	svc := httptest.NewServer(myservice.Handler(ct.RegionURL("eu1"), "SIM-EU1-0001", "sim-eu1-pass"))
//	ct.Send(t, "revenuecat", "INITIAL_PURCHASE", svc.URL+"/rc/hook", "Bearer secret", clevertaptest.User("ct-1"))
//	ct.Wait(t, clevertap.WaitRequest{Identity: "ct-1", Count: 1})
//	ct.Play(t, "testdata/scenarios", map[string]string{"revenuecat": svc.URL + "/rc/hook"}, ...)
//
// NewStack adds the reference relay (the whole stack in this process). Nothing here starts a container: importing
// it adds no Docker or testcontainers module to a project's module graph.
package clevertaptest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/scenarios"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
	"github.com/ctharness/ctharness/simulator/sources/vendors"
)

// T is what the package needs of a test: a *testing.T or *testing.B, or Ginkgo's GinkgoT().
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// Fake is a fake CleverTap and Piano collector serving on a loopback port for one test.
type Fake struct {
	// URL is the base URL: <URL>/<region>/1/upload is region's upload, <URL>/_sim/ the admin API, and
	// <URL>/_sim/inspector/ the inspector (t.Log prints it when the test fails).
	URL string
	// Client reads and drives the fake: Events, Wait, Requests, Profiles, AddFault, Reset, Upload.
	Client *clevertap.Client
	// Simulator is the fake itself, for what the client does not reach.
	Simulator *simulator.Simulator
}

// Option changes what New starts.
type Option func(*options)

type options struct {
	cfg  simulator.Config
	opts fake.Options
	err  error
}

// WithAccountsFile loads an accounts file (the format of `simulator serve --accounts`).
func WithAccountsFile(path string) Option {
	return func(o *options) {
		cfg, err := simulator.LoadConfigFile(path)
		if err != nil {
			o.err = err
			return
		}
		o.cfg = cfg
	}
}

// WithOptions sets the fake's options (limits, the read side's delays, …).
func WithOptions(opts fake.Options) Option { return func(o *options) { o.opts = opts } }

// New starts a fake CleverTap for the test; it stops when the test ends. Its accounts are the defaults (one per
// region, SIM-EU1-0001 with passcode sim-eu1-pass, …) unless an option says otherwise.
func New(t T, opts ...Option) *Fake {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.err != nil {
		t.Fatalf("clevertaptest: %v", o.err)
	}
	sim, err := simulator.New(o.cfg, o.opts)
	if err != nil {
		t.Fatalf("clevertaptest: %v", err)
	}
	srv := httptest.NewServer(sim)
	f := &Fake{URL: srv.URL, Client: clevertap.NewClient(srv.URL), Simulator: sim}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("clevertaptest: what the fake received: %s/_sim/requests (inspector: %s/_sim/inspector/, "+
				"gone with the test)", f.URL, f.URL)
		}
		sim.Inspector.Shutdown()
		srv.Close()
	})
	return f
}

// RegionURL is what a service configures as CleverTap's API for a region: <URL>/<region> here, where
// production has https://<region>.api.clevertap.com.
func (f *Fake) RegionURL(region string) string { return f.URL + "/" + region }

// Account is the fake's account for a region (the first one there), to configure a service with.
func (f *Fake) Account(t T, region string) clevertap.Account {
	t.Helper()
	for _, a := range f.Simulator.CleverTap.Accounts() {
		if string(a.Region) == region {
			return a
		}
	}
	t.Fatalf("clevertaptest: the fake has no account in region %q", region)
	return clevertap.Account{}
}

// Transport answers requests to CleverTap's real hostnames (https://eu1.api.clevertap.com/1/upload, …) from the
// fake in this process: a service whose client takes an http.RoundTripper needs no URL change.
func (f *Fake) Transport() http.RoundTripper {
	return clevertap.InProcessTransport{Handler: f.Simulator}
}

// Wait blocks until the fake holds the records the request describes (default timeout 5 s) and returns them;
// it fails the test with the nearest miss otherwise.
func (f *Fake) Wait(t T, req clevertap.WaitRequest) []clevertap.Event {
	t.Helper()
	events, err := f.Client.Wait(context.Background(), req)
	if err != nil {
		t.Fatalf("clevertaptest: %v", err)
	}
	return events
}

// User is a subscriber known to CleverTap by this id (RevenueCat's $clevertapId, Purchasely's and AppsFlyer's
// user ids): what Send puts in the webhook.
func User(clevertapID string) lifecycle.User {
	return lifecycle.User{AppUserID: "app-" + clevertapID, CleverTapID: clevertapID, CustomerUserID: clevertapID,
		ATInternetID: "at-" + clevertapID, Country: "FR"}
}

// Send sends one vendor webhook to url as the vendor does (its format, headers, signature, and its retries on
// a clock that does not wait), signed or authorised with secret (RevenueCat's Authorization value, Purchasely's
// shared secret, AppsFlyer's token). The test fails when the service does not take it.
func (f *Fake) Send(t T, source, eventType, url, secret string, user lifecycle.User) {
	t.Helper()
	e, err := vendors.Lookup(source)
	if err != nil {
		t.Fatalf("clevertaptest: %v", err)
	}
	hook, err := e.Emit(eventType, sources.Single{User: user})
	if err != nil {
		t.Fatalf("clevertaptest: %v", err)
	}
	header, policy := e.Delivery(sources.Credential{Value: secret}, nil)
	hook.Header = header
	d := sources.Deliverer{Clock: lifecycle.NewVirtualClock(time.Now()), SignTime: time.Now}
	if _, err := d.Deliver(context.Background(), url, hook, policy); err != nil {
		t.Fatalf("clevertaptest: %s %s not taken by %s: %v", source, eventType, url, err)
	}
}

// Play plays scenario files (or directories of them) through the test's own service: each source's webhooks go
// to webhooks[source], authorised with secrets[source], and the fake judges what arrived against the files'
// expectations (`own_service: true` in a file says its event names are the service's). Each run is a subtest;
// a failed one reports the expected and received records side by side.
func (f *Fake) Play(t *testing.T, paths []string, webhooks, secrets map[string]string) []scenarios.Result {
	t.Helper()
	list, err := scenarios.LoadPaths(paths)
	if err != nil {
		t.Fatalf("clevertaptest: %v", err)
	}
	creds := map[string]sources.Credential{}
	for src, v := range secrets {
		creds[src] = sources.Credential{Value: v}
	}
	target := scenarios.Target{SimulatorURL: f.URL, Webhooks: webhooks, Credentials: creds}
	return play(t, list, target)
}

func play(t *testing.T, list []*scenarios.Scenario, target scenarios.Target) []scenarios.Result {
	t.Helper()
	var results []scenarios.Result
	for _, s := range list {
		for _, src := range s.Sources {
			t.Run(s.Name+"/"+src, func(t *testing.T) {
				r := scenarios.Play(context.Background(), s, src, target)
				results = append(results, r)
				if !r.Passed {
					var b strings.Builder
					scenarios.ReportFailures(&b, []scenarios.Result{r})
					t.Errorf("%s × %s through %s:\n%s", r.Scenario, r.Source, r.SystemUnderTest, b.String())
				}
			})
		}
	}
	return results
}

// Stack is the whole harness in this process: the fake and the reference relay (default config, quick retries).
type Stack struct {
	*Fake
	// RelayURL takes the vendors' webhooks at /webhooks/<source>; RelayAdminToken opens its /admin routes.
	RelayURL, RelayAdminToken string
}

// NewStack starts the fake and the reference relay for the test; both stop when it ends.
func NewStack(t T) *Stack {
	t.Helper()
	cfg := config.Default()
	harness.QuickRetries(&cfg)
	st, err := harness.StartInProcess(context.Background(), harness.Options{Relay: &cfg, Version: "clevertaptest"})
	if err != nil {
		t.Fatalf("clevertaptest: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &Stack{Fake: &Fake{URL: st.SimulatorURL, Client: clevertap.NewClient(st.SimulatorURL),
		Simulator: st.Simulator}, RelayURL: st.RelayURL, RelayAdminToken: st.RelayAdminToken}
}

// Webhook is where the reference relay takes a source's webhooks, and the secret its default config expects.
func (s *Stack) Webhook(source string) (url, secret string) {
	return s.RelayURL + "/webhooks/" + source, harness.DefaultCredential(source).Value
}

// PlayBuiltIn plays the built-in scenarios (those with one of the labels; all without) through the reference
// relay, each a subtest.
func (s *Stack) PlayBuiltIn(t *testing.T, labels ...string) []scenarios.Result {
	t.Helper()
	all, err := scenarios.LoadBuiltIn()
	if err != nil {
		t.Fatalf("clevertaptest: %v", err)
	}
	var list []*scenarios.Scenario
	for _, sc := range all {
		if len(labels) == 0 || containsAny(sc, labels) {
			list = append(list, sc)
		}
	}
	return play(t, list, scenarios.Target{SimulatorURL: s.URL, RelayURL: s.RelayURL,
		RelayAdminToken: s.RelayAdminToken})
}

func containsAny(s *scenarios.Scenario, labels []string) bool {
	for _, l := range labels {
		if s.HasLabel(l) {
			return true
		}
	}
	return false
}
