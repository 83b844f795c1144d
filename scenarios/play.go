package scenarios

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctharness/ctharness/fixtures"
	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/redact"
	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
	"github.com/ctharness/ctharness/simulator/sources/vendors"
)

// Target is the stack a story plays against.
type Target struct {
	// SimulatorURL is the fake CleverTap and Piano (e.g. http://127.0.0.1:8081).
	SimulatorURL string
	// RelayURL is a relay running the default config; stories with their own relay config start one in this
	// process, pointed at SimulatorURL.
	RelayURL string
	// RelayAdminToken opens the relay's admin routes (its dead letters); empty for a relay that has none.
	RelayAdminToken string
	// HTTP is the client for everything (default http.DefaultClient).
	HTTP *http.Client
	// Settle is how long to watch for records beyond the expected ones when the relay cannot say that it has
	// delivered everything of the run (a relay without /admin/pending; default 300ms).
	Settle time.Duration
	// Timeout bounds the wait for expected records (default 15s).
	Timeout time.Duration
	// FixtureRoot is where webhook files are read from (default: the current directory).
	FixtureRoot string
	// Webhooks sends a source's webhooks to this URL instead of the relay's /webhooks/<source>: the user's own
	// service is then the system under test, and the fake alone judges (there is no relay to ask what is pending
	// or dead-lettered; the settle window applies).
	Webhooks map[string]string
	// Credentials are what those endpoints expect from each vendor, in the vendor's form (RevenueCat's
	// Authorization value, Purchasely's shared secret, AppsFlyer's token); default: the default relay config's.
	Credentials map[string]sources.Credential
}

// SystemUnderTest says in words where a source's webhooks go: the user's service or the reference relay.
func (t Target) SystemUnderTest(source string) string {
	if u := t.Webhooks[source]; u != "" {
		return "your service at " + redact.URL(u) // it lands in reports, JUnit and annotations
	}
	return "the reference relay at " + strings.TrimSuffix(t.RelayURL, "/") + "/webhooks/" + source
}

// Row is one line of a run's records: an expectation and the record it met, or one of them alone.
type Row struct {
	Kind string `json:"kind"` // clevertap or piano
	// Expected is the expectation as the scenario writes it, Received the record as the fake holds it: objects
	Expected any `json:"expected,omitempty"`
	Received any `json:"received,omitempty"`
	// what the text report prints of them
	expectedText, receivedText string
}

// Result is one scenario × source.
type Result struct {
	Scenario string `json:"scenario"`
	Source   string `json:"source"`
	// File and Line are where the scenario says what failed: the step that could not be played, else the
	// source's expectations.
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Run      string   `json:"run"`
	Passed   bool     `json:"passed"`
	Problems []string `json:"problems,omitempty"`
	Webhooks int      `json:"webhooks"`
	Expected []string `json:"expected"`
	Received []string `json:"received"`
	// Rows are the records side by side as the matching paired them, CleverTap's and Piano's apart
	Rows []Row         `json:"rows,omitempty"`
	Took time.Duration `json:"took"`
	// SettledByRelay says the run ended when the relay said it had delivered everything of it (/admin/pending),
	// not after the settle window.
	SettledByRelay bool `json:"settled_by_relay"`
	// SystemUnderTest is where the webhooks went ("your service at …" or "the reference relay at …");
	// Expectations whose they are: "yours" (a file you gave) or "built-in".
	SystemUnderTest string `json:"system_under_test"`
	Expectations    string `json:"expectations"`
}

func (r *Result) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// run is one play's state.
type run struct {
	s       *Scenario
	source  string
	emitter sources.Emitter
	target  Target
	ns      map[string]string
	cfg     config.Config
	// relaySource is the relay's source for the run's vendor with the story's config (nil when not served).
	relaySource relay.Source
	// relay is the relay's URL, relayToken its admin token; hook is where the webhooks go (the relay's
	// /webhooks/<source>, or the user's service: then ownService is set and no relay is asked anything).
	relay, relayToken, hook string
	ownService              bool
	ct                      *clevertap.Client
	clock                   *lifecycle.VirtualClock
	sub                     *lifecycle.Subscription
	user                    lifecycle.User
	sent                    []sources.Webhook
	// eventIDs are the relay's event ids of the webhooks it took, for /admin/pending; unknown is set when an
	// answer did not say (then the run ends after the settle window instead)
	eventIDs []string
	unknown  bool
	// settled says the relay has confirmed that nothing of the run is left to deliver
	settled bool
	// observed, when set, receives what arrived instead of a comparison (--write-expect)
	observed *Observed
	queued   int // rendered webhooks already sent
	faults   []string
	skipped  string
	res      *Result
}

// Play runs one scenario through one source and compares what arrived with what the scenario expects.
func Play(ctx context.Context, s *Scenario, source string, t Target) Result {
	return play(ctx, s, source, t, nil)
}

// play runs the story; with observed it records what arrived instead of comparing.
func play(ctx context.Context, s *Scenario, source string, t Target, observed *Observed) Result {
	start := time.Now()
	res := Result{Scenario: s.Name, Source: source, Run: runID(), File: s.File, Line: s.Expect[source].line,
		SystemUnderTest: t.SystemUnderTest(source), Expectations: "yours"}
	if s.BuiltIn {
		res.Expectations = "built-in"
	}
	if t.HTTP == nil {
		t.HTTP = http.DefaultClient
	}
	if t.Settle == 0 {
		t.Settle = 300 * time.Millisecond
	}
	if t.Timeout == 0 {
		t.Timeout = 15 * time.Second
	}
	r := &run{s: s, source: source, target: t, res: &res, clock: lifecycle.NewVirtualClock(s.Start),
		ct: clevertap.NewClient(t.SimulatorURL), observed: observed}
	r.ct.HTTP = t.HTTP
	var err error
	if r.emitter, err = vendors.Lookup(source); err != nil {
		res.problem("%v", err)
	} else if err := r.play(ctx); err != nil {
		res.problem("%v", err)
	}
	res.Passed = len(res.Problems) == 0
	res.Took = time.Since(start)
	res.SettledByRelay = r.settled
	return res
}

func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// namespace makes the story's user and account ids unique to this run, so runs share a stack safely.
func (r *run) namespace() {
	r.ns = map[string]string{}
	users := []User{r.s.User}
	for _, st := range r.s.Steps {
		if st.Kind == "transfer" {
			users = append(users, st.To)
		}
	}
	for _, u := range users {
		for _, id := range []string{u.AppUserID, u.CleverTapID, u.ATInternetID, u.CustomerUserID} {
			if id != "" {
				r.ns[id] = id + "_" + r.res.Run // CleverTap ids allow letters, digits, - and _
			}
		}
	}
	u := r.s.User
	for _, a := range r.s.Accounts {
		r.ns[a.ID] = a.ID + "-" + strings.ToUpper(r.res.Run)
	}
	r.user = lifecycle.User{AppUserID: r.id(u.AppUserID), CleverTapID: r.id(u.CleverTapID),
		ATInternetID:   r.id(u.ATInternetID),
		CustomerUserID: r.id(u.CustomerUserID), Email: u.Email, Country: u.Country}
	if r.user.Country == "" {
		r.user.Country = "FR"
	}
}

// id is the run's version of an id from the scenario.
func (r *run) id(v string) string {
	if n, ok := r.ns[v]; ok {
		return n
	}
	return v
}

func (r *run) play(ctx context.Context) error {
	r.namespace()
	for _, a := range r.s.Accounts {
		acct := clevertap.Account{ID: r.id(a.ID), Region: clevertap.Region(a.Region), Passcodes: []string{a.Passcode},
			Token: a.Token, DiscardedEvents: a.DiscardedEvents}
		if err := r.ct.PutAccount(ctx, acct); err != nil {
			return fmt.Errorf("creating account %s at the fake: %w", acct.ID, err)
		}
	}
	cfg, err := r.s.RelayConfig()
	if err != nil {
		return err
	}
	r.cfg = cfg
	r.relay, r.relayToken = r.target.RelayURL, r.target.RelayAdminToken
	if r.s.OwnService && r.target.Webhooks[r.source] == "" {
		return fmt.Errorf("the scenario describes your own service (own_service: true), and no URL was given for "+
			"its %s webhooks: give --webhook %s=URL (Target.Webhooks)", r.source, r.source)
	}
	if u := r.target.Webhooks[r.source]; u != "" {
		if r.s.Relay.Custom() {
			return fmt.Errorf("the scenario configures its own relay (relay:), which describes the reference relay, "+
				"not your service at %s: leave it out of this run (--label, --source) or drop its relay section", u)
		}
		r.hook, r.ownService, r.unknown = u, true, true
	} else if r.s.Relay.Custom() {
		stop, err := r.startRelay(ctx)
		if err != nil {
			return fmt.Errorf("starting the story's relay: %w", err)
		}
		defer stop()
	}
	built, err := r.cfg.Build()
	if err != nil {
		return err
	}
	r.relaySource = built.Source(r.source)
	if r.hook == "" {
		r.hook = strings.TrimSuffix(r.relay, "/") + "/webhooks/" + r.source
	}
	defer r.removeFaults()
	for _, st := range r.s.Steps {
		if err := r.step(ctx, st); err != nil {
			r.res.Line = st.Line
			return fmt.Errorf("step %s (line %d): %w", st.Kind, st.Line, err)
		}
	}
	if err := r.flush(ctx); err != nil {
		return err
	}
	r.res.Webhooks = len(r.sent)
	if r.observed != nil {
		return r.observe(ctx, r.observed)
	}
	if r.s.Reviewed != nil && !*r.s.Reviewed {
		r.res.problem("the expectations were written by simulator run --write-expect and nobody has reviewed " +
			"them: read the diff, then remove \"reviewed: false\" from the file")
	}
	return r.check(ctx)
}

// startRelay runs the story's relay config in this process, pointed at the simulator, with quick retries.
func (r *run) startRelay(ctx context.Context) (func(), error) {
	cfg, err := r.s.relayConfig(r.ns)
	if err != nil {
		return nil, err
	}
	harness.QuickRetries(&cfg)
	relay, err := harness.StartRelay(ctx, harness.RelayOptions{Config: cfg, SimulatorURL: r.target.SimulatorURL,
		Client: r.target.HTTP})
	if err != nil {
		return nil, err
	}
	r.cfg = cfg
	r.relay, r.relayToken = relay.URL, relay.Service.AdminToken()
	return func() { _ = relay.Close() }, nil
}

// renameScalars returns a copy of the node with scalar values renamed.
func renameScalars(n *yaml.Node, names map[string]string) *yaml.Node {
	c := *n
	if c.Kind == yaml.ScalarNode {
		if v, ok := names[c.Value]; ok {
			c.Value = v
		}
		return &c
	}
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = renameScalars(child, names)
	}
	return &c
}

func (r *run) product(p Product) lifecycle.Product {
	return lifecycle.Product{ID: p.ID, Group: p.Group, Plan: p.Plan, Period: p.Period, Price: p.Price,
		Currency: p.Currency, Entitlement: "premium"}
}

// step applies one step; lifecycle moves record facts, the others deliver what is pending first.
func (r *run) step(ctx context.Context, st Step) error {
	if st.Kind != "purchase" && st.Kind != "wait" && r.sub == nil && isLifecycle(st.Kind) {
		return errors.New("the story has no subscription yet: start with a purchase step")
	}
	switch st.Kind {
	case "purchase":
		if r.sub != nil {
			return errors.New("already purchased: use resubscribe after an expiry")
		}
		sub, err := lifecycle.Start(r.clock, lifecycle.Purchase{User: r.user, Store: r.s.Store, Environment: r.s.Environment,
			Product: r.product(r.s.Product), Offer: lifecycle.Offer{Type: r.s.Offer.Type, Period: r.s.Offer.Period,
				Price: r.s.Offer.Price, Code: r.s.Offer.Code}})
		r.sub = sub
		return err
	case "renew", "expire":
		return r.sub.AdvanceToPeriodEnd(ctx)
	case "cancel":
		return r.sub.DisableAutoRenew()
	case "uncancel":
		return r.sub.EnableAutoRenew()
	case "billing_issue":
		return r.sub.FailRenewal(ctx, st.Grace)
	case "recover":
		return r.sub.RecoverBilling()
	case "billing_expire":
		return r.sub.ExpireBilling(ctx)
	case "refund":
		return r.sub.Refund()
	case "change_product":
		return r.sub.ChangeProduct(r.product(st.Product), st.Immediate)
	case "pause":
		return r.sub.SchedulePause("")
	case "resume":
		return r.sub.ResumeFromPause(ctx)
	case "resubscribe":
		return r.sub.Resubscribe()
	case "transfer":
		to := lifecycle.User{AppUserID: r.id(st.To.AppUserID), CleverTapID: r.id(st.To.CleverTapID),
			ATInternetID:   r.id(st.To.ATInternetID),
			CustomerUserID: r.id(st.To.CustomerUserID), Country: r.user.Country}
		return r.sub.TransferTo(to)
	case "wait":
		if r.sub != nil {
			return r.sub.Wait(ctx, st.Wait)
		}
		return r.clock.Advance(ctx, st.Wait)
	case "duplicate", "fault", "clear_faults", "webhook":
		// what the harness does between the vendor's webhooks: what is pending is delivered first
		if err := r.flush(ctx); err != nil {
			return err
		}
		return r.harnessStep(ctx, st)
	}
	return fmt.Errorf("unknown step %q", st.Kind)
}

// harnessStep plays a step of the harness's own: a resend of every webhook so far, a fault, or a raw webhook.
func (r *run) harnessStep(ctx context.Context, st Step) error {
	switch st.Kind {
	case "duplicate":
		for _, w := range append([]sources.Webhook(nil), r.sent...) {
			if err := r.deliver(ctx, w); err != nil {
				return err
			}
		}
		return nil
	case "fault":
		return r.addFault(ctx, st.Fault)
	case "clear_faults":
		r.removeFaults()
		return nil
	case "webhook":
		if st.Webhook.Source != r.source {
			return nil // a raw webhook plays only in its source's run
		}
		w, err := r.rawWebhook(st.Webhook)
		if err != nil {
			return err
		}
		return r.deliver(ctx, w)
	}
	return fmt.Errorf("unknown step %q", st.Kind)
}

func isLifecycle(kind string) bool {
	switch kind {
	case "duplicate", "fault", "clear_faults", "webhook":
		return false
	}
	return true
}

// flush renders the facts so far for the source and delivers the webhooks not sent yet.
func (r *run) flush(ctx context.Context) error {
	if r.sub == nil {
		return nil
	}
	hooks, err := r.render(r.sub.Facts())
	if err != nil {
		var skipped sources.Skipped
		if errors.As(err, &skipped) {
			r.skipped = skipped.Reason
			return nil
		}
		return err
	}
	for _, w := range hooks[r.queued:] {
		if err := r.deliver(ctx, w); err != nil {
			return err
		}
		r.queued++
	}
	return nil
}

func (r *run) render(facts []lifecycle.Fact) ([]sources.Webhook, error) {
	af := r.s.AppsFlyer
	return r.emitter.Render(facts, sources.Story{MediaSource: af.MediaSource, Campaign: af.Campaign,
		SendInstalls: af.SendInstalls})
}

// deliver sends a webhook as its vendor does (headers, signature, success rule, retries on the story clock).
func (r *run) deliver(ctx context.Context, w sources.Webhook) error {
	var policy sources.Policy
	cred, own := r.target.Credentials[r.source]
	if !own {
		cred = harness.Credential(r.relaySource)
	}
	w.Header, policy = r.emitter.Delivery(cred, nil)
	d := sources.Deliverer{Client: r.target.HTTP, Clock: r.clock, SignTime: time.Now}
	res, err := d.Deliver(ctx, r.hook, w, policy)
	r.sent = append(r.sent, w)
	if n := len(res.Attempts); n > 0 {
		var answer struct {
			Status, Reason string
			EventID        string `json:"event_id"`
		}
		_ = json.Unmarshal([]byte(res.Attempts[n-1].Response), &answer)
		if answer.Status == "skipped" {
			r.skipped += answer.Reason + "; "
		}
		if answer.EventID != "" {
			r.eventIDs = append(r.eventIDs, answer.EventID)
		} else if answer.Status != "skipped" {
			r.unknown = true // not the reference relay's answer: the settle window instead of /admin/pending
		}
	}
	if err != nil {
		last := ""
		if n := len(res.Attempts); n > 0 {
			last = res.Attempts[n-1].Response
		}
		who := "the relay"
		if r.ownService {
			who = "your service at " + redact.URL(r.hook)
		}
		return fmt.Errorf("%s %s not accepted by %s: %v %s", r.source, w.EventType, who, err, last)
	}
	return nil
}

// rawWebhook reads a vendor file, renames the story's ids in it, and applies the assignments.
func (r *run) rawWebhook(raw RawWebhook) (sources.Webhook, error) {
	body := []byte(raw.Body)
	if raw.File != "" {
		var err error
		if body, err = r.readFixture(raw.File); err != nil {
			return sources.Webhook{}, err
		}
	}
	var assign []string
	for _, k := range sortedKeys(raw.Set) {
		assign = append(assign, k+"="+r.id(raw.Set[k]))
	}
	if len(assign) > 0 {
		var err error
		if body, err = sources.Set(body, assign); err != nil {
			return sources.Webhook{}, err
		}
	}
	w := sources.Webhook{Source: raw.Source, EventType: "raw", Method: http.MethodPost, Body: body}
	return w, nil
}

// account is the account a source's CleverTap records go to with the story's relay config.
func (r *run) account() string {
	if r.relaySource == nil {
		return ""
	}
	return r.relaySource.Account(r.s.Environment == lifecycle.Sandbox)
}

func (r *run) addFault(ctx context.Context, f Fault) error {
	account := r.id(f.Account)
	if account == "" {
		account = r.account()
	}
	out, err := r.ct.AddFault(ctx, clevertap.Fault{Action: f.Action, Status: f.Status, DelayMS: f.DelayMS, Times: f.Times,
		Account: account, Region: clevertap.Region(f.Region)})
	if err != nil {
		return err
	}
	r.faults = append(r.faults, out.ID)
	return nil
}

func (r *run) removeFaults() {
	for _, id := range r.faults {
		_ = r.ct.DeleteFault(context.Background(), id) // best effort: a fault left behind runs out of its times
	}
	r.faults = nil
}

// relayAdmin is the relay's admin API, through the run's HTTP client.
func (r *run) relayAdmin() *adminclient.Client {
	return &adminclient.Client{URL: strings.TrimSuffix(r.relay, "/"), Token: r.relayToken, HTTP: r.target.HTTP}
}

// readFixture reads a scenario's webhook file: under the fixture root when one is given, else next to the
// scenario file, else in the current directory; a vendor sample (fixtures/vendor-samples/...) is also read from
// the copy built into the binary, so built-in scenarios play from anywhere.
func (r *run) readFixture(file string) ([]byte, error) {
	var tried []string
	dirs := []string{r.target.FixtureRoot}
	if r.target.FixtureRoot == "" {
		dirs = []string{filepath.Dir(r.s.File), "."}
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, file)
		if data, err := os.ReadFile(path); err == nil {
			return data, nil
		}
		tried = append(tried, path)
	}
	if rest, ok := strings.CutPrefix(filepath.ToSlash(file), "fixtures/"); ok {
		if data, err := fs.ReadFile(fixtures.VendorSamples, rest); err == nil {
			return data, nil
		}
	}
	return nil, fmt.Errorf("webhook file %s: not found (looked at %s); --fixtures names the directory it is "+
		"relative to", file, strings.Join(tried, ", "))
}
