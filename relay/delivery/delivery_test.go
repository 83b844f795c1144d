package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/syncbuf"
	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// counter is an Observer that counts.
type counter struct {
	mu                       sync.Mutex
	delivered, retried, dead int
	requests                 map[string]int
}

func (c *counter) Delivered(_ string, n int) { c.mu.Lock(); c.delivered += n; c.mu.Unlock() }
func (c *counter) Retried(_ string, n int)   { c.mu.Lock(); c.retried += n; c.mu.Unlock() }
func (c *counter) DeadLettered(_ string, n int) {
	c.mu.Lock()
	c.dead += n
	c.mu.Unlock()
}
func (c *counter) Request(_, outcome string, _ time.Duration) {
	c.mu.Lock()
	c.requests[outcome]++
	c.mu.Unlock()
}

func (c *counter) snapshot() (int, int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.delivered, c.retried, c.dead
}

type rig struct {
	sim   *simulator.Simulator
	ct    *clevertap.Client
	store *outbox.Store
	d     *Dispatcher
	obs   *counter
}

func newRig(t *testing.T, edit func(*Settings)) *rig { t.Helper(); return newRigOn(t, edit, nil) }

// newRigOn is newRig with the dispatcher on the outbox as wrap returns it (nil: the store itself).
func newRigOn(t *testing.T, edit func(*Settings), wrap func(outbox.Outbox) outbox.Outbox) *rig {
	t.Helper()
	return newRigVia(t, edit, wrap, nil)
}

// newRigVia is newRigOn with the fake reached as serve says: its base URL and the dispatcher's client (nil: in
// process, with no network).
func newRigVia(t *testing.T, edit func(*Settings), wrap func(outbox.Outbox) outbox.Outbox,
	serve func(*simulator.Simulator) (base string, client *http.Client)) *rig {
	t.Helper()
	sim, err := simulator.New(simulator.Config{}, fake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base, client := "http://sim.test", &http.Client{Transport: clevertap.InProcessTransport{Handler: sim}}
	if serve != nil {
		base, client = serve(sim)
	}
	s := Settings{CleverTapEndpoint: base + "/{region}", PianoEndpoint: base + "/piano",
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	if edit != nil {
		edit(&s)
	}
	endpoints := map[string]relay.Endpoint{
		"eu": relay.CleverTapAccount{Region: "eu1", AccountID: "SIM-EU1-0001", Passcode: "sim-eu1-pass"}.Endpoint(),
	}
	obs := &counter{requests: map[string]int{}}
	var box outbox.Outbox = store
	if wrap != nil {
		box = wrap(store)
	}
	d := New(s, box, endpoints, client, slog.New(slog.DiscardHandler), obs)
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); d.Wait(); store.Close() })
	return &rig{sim: sim, ct: sim.Client(), store: store, d: d, obs: obs}
}

// accept stores n event records for identity and then hands them to the dispatcher together.
func (r *rig) accept(t *testing.T, identity, name string, n int) {
	t.Helper()
	all := make([]outbox.Job, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { // concurrent accepts share commits, as webhooks do
			job := outbox.Job{Source: "test", EventID: fmt.Sprintf("%s-%s-%d", identity, name, i),
				Message: relay.Message{Destination: "eu", Kind: relay.KindUpload,
					Payload: relay.Record(map[string]any{"type": "event", "evtName": name, "identity": identity, "ts": 1767225600 + i,
						"evtData": map[string]any{"n": i}})}}
			jobs := []outbox.Job{job}
			if _, err := r.store.Accept("test", job.EventID, jobs); err != nil {
				errs <- err
			}
			all[i] = jobs[0]
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	r.d.Enqueue(all...)
}

func (r *rig) wait(t *testing.T, identity string, count int) {
	t.Helper()
	if _, err := r.ct.Wait(context.Background(), clevertap.WaitRequest{Identity: identity, Count: count,
		TimeoutMS: 10000}); err != nil {
		t.Fatalf("waiting for %d records of %s: %v", count, identity, err)
	}
}

func (r *rig) exactly(t *testing.T, identity string, count int) {
	t.Helper()
	events, err := r.ct.Events(context.Background(), clevertap.EventFilter{Identity: identity})
	if err != nil || len(events) != count {
		t.Fatalf("expected exactly %d records of %s, got %d (%v)", count, identity, len(events), err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		if seen[string(e.Record)] {
			t.Fatalf("a record arrived twice: %s", e.Record)
		}
		seen[string(e.Record)] = true
	}
}

func (r *rig) fault(t *testing.T, f clevertap.Fault) {
	t.Helper()
	if _, err := r.ct.AddFault(context.Background(), f); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBatchesUpTo1000RecordsPerUpload(t *testing.T) {
	r := newRig(t, func(s *Settings) { s.MaxConcurrentPerAccount = 1 })
	r.fault(t, clevertap.Fault{Action: "delay", DelayMS: 50, Times: 1}) // hold the first upload so the rest queue up
	r.accept(t, "batch", "e", 2500)
	r.wait(t, "batch", 2500)
	r.exactly(t, "batch", 2500)
	reqs, _ := r.ct.Requests(context.Background(), clevertap.JournalFilter{Outcome: clevertap.OutcomeAccepted})
	biggest := 0
	for _, q := range reqs {
		if q.Records != nil {
			biggest = max(biggest, q.Records.Total)
		}
	}
	if biggest != 1000 || len(reqs) > 10 {
		t.Fatalf("expected full batches of 1000 (few requests), got %d requests, the biggest with %d records", len(reqs),
			biggest)
	}
}

// gate holds the first upload until released and counts the records of every upload that reaches it, in the
// order they arrive.
type gate struct {
	mu      sync.Mutex
	sizes   []int
	held    chan struct{} // closed when the first upload is held
	release chan struct{}
}

func newGatedRig(t *testing.T, edit func(*Settings)) (*rig, *gate) {
	t.Helper()
	g := &gate{held: make(chan struct{}), release: make(chan struct{})}
	r := newRigVia(t, edit, nil, func(sim *simulator.Simulator) (string, *http.Client) {
		gated := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, err := io.ReadAll(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var upload struct{ D []json.RawMessage }
			if err := json.Unmarshal(body, &upload); err != nil {
				t.Errorf("an upload that is not {\"d\":[...]}: %v", err)
			}
			g.mu.Lock()
			g.sizes = append(g.sizes, len(upload.D))
			first := len(g.sizes) == 1
			g.mu.Unlock()
			if first {
				close(g.held)
				<-g.release
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			sim.ServeHTTP(w, req)
		})
		return "http://sim.test", &http.Client{Transport: clevertap.InProcessTransport{Handler: gated}}
	})
	// after the rig's own cleanup is registered, so it runs first: the dispatcher's stop waits for the held upload
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	return r, g
}

func (g *gate) uploads() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sizes)
}

// While a partial upload is out, the jobs that arrive wait for it and leave together (max_partial_uploads 1, the
// default): at saturation that made uploads of about 400 records instead of 57, and took a quarter off the fake's
// CPU a webhook. Ten jobs and then twenty arrive while a one-record upload is held: they leave as one upload of 30.
func TestPartialUploadsWaitForTheOneInFlight(t *testing.T) {
	r, g := newGatedRig(t, nil)
	r.accept(t, "first", "e", 1)
	<-g.held
	r.accept(t, "ten", "e", 10)
	r.accept(t, "twenty", "e", 20)
	close(g.release)
	r.wait(t, "twenty", 20)
	r.exactly(t, "ten", 10)
	if got := g.uploads(); !slices.Equal(got, []int{1, 30}) {
		t.Fatalf("expected an upload of 1 record and then one of 30, got uploads of %v records", got)
	}
}

// A full batch does not wait for a partial upload in flight (only partial ones do), and max_partial_uploads above
// 1 lets partial uploads go together.
func TestFullBatchesAndAllowedPartialsGoWhileAPartialIsOut(t *testing.T) {
	t.Run("full batches", func(t *testing.T) {
		r, g := newGatedRig(t, func(s *Settings) { s.MaxBatch = 5 })
		r.accept(t, "first", "e", 1)
		<-g.held
		r.accept(t, "twelve", "e", 12)
		waitUntil(t, "two full uploads while the first is held", func() bool { return len(g.uploads()) >= 3 })
		close(g.release)
		r.wait(t, "twelve", 12)
		if got := g.uploads(); !slices.Equal(got, []int{1, 5, 5, 2}) {
			t.Fatalf("expected uploads of 1, 5, 5 and then 2 records, got %v", got)
		}
	})
	t.Run("two partial uploads allowed", func(t *testing.T) {
		r, g := newGatedRig(t, func(s *Settings) { s.MaxPartialUploads = 2 })
		r.accept(t, "first", "e", 1)
		<-g.held
		r.accept(t, "ten", "e", 10)
		waitUntil(t, "a second partial upload while the first is held", func() bool { return len(g.uploads()) >= 2 })
		close(g.release)
		r.wait(t, "ten", 10)
		if got := g.uploads(); !slices.Equal(got, []int{1, 10}) {
			t.Fatalf("expected uploads of 1 and 10 records, got %v", got)
		}
	})
}

func TestRetriesAfter503And429AndResetsThenDeliversOnce(t *testing.T) {
	for _, f := range []clevertap.Fault{
		{Action: "respond", Status: 503, Times: 4},
		{Action: "respond", Status: 429, Times: 3},
		{Action: "respond", Status: 408, Times: 2},
		{Action: "reset", Times: 3},
		{Action: "malformed", Times: 2},
	} {
		t.Run(fmt.Sprintf("%s %d", f.Action, f.Status), func(t *testing.T) {
			r := newRig(t, nil)
			r.fault(t, f)
			r.accept(t, "retry", "e", 20)
			r.wait(t, "retry", 20)
			r.exactly(t, "retry", 20)
			waitUntil(t, "delivered counted", func() bool { d, _, _ := r.obs.snapshot(); return d == 20 })
			if _, retried, dead := r.obs.snapshot(); retried == 0 || dead != 0 {
				t.Fatalf("expected retries and no dead letters, got retried=%d dead=%d", retried, dead)
			}
		})
	}
}

func TestPartialAnswerDeadLettersOnlyTheRefusedRecords(t *testing.T) {
	r := newRig(t, func(s *Settings) { s.MaxConcurrentPerAccount = 1 })
	acct := clevertap.DefaultAccounts()[0]
	acct.DiscardedEvents = []string{"discarded_event"}
	if err := r.ct.PutAccount(context.Background(), acct); err != nil {
		t.Fatal(err)
	}
	r.fault(t, clevertap.Fault{Action: "delay", DelayMS: 30, Times: 1})
	r.accept(t, "mixed", "kept_event", 5)
	r.accept(t, "mixed", "discarded_event", 2)
	r.accept(t, "mixed", "kept_event_2", 3)
	waitUntil(t, "two dead letters", func() bool { _, _, dead := r.obs.snapshot(); return dead == 2 })
	r.wait(t, "mixed", 8)
	r.exactly(t, "mixed", 8)
	dead, err := r.store.DeadLetters()
	if err != nil || len(dead) != 2 {
		t.Fatalf("expected 2 dead letters, got %d %v", len(dead), err)
	}
	for _, d := range dead {
		if d.Code != clevertap.CodeDiscardedEvent || !strings.Contains(d.Reason,
			"528") || !strings.Contains(string(d.Payload), "discarded_event") {
			t.Fatalf("expected the discarded records with code 528 and CleverTap's text, got %+v", d)
		}
	}
	pending, _ := r.store.Pending()
	if len(pending) != 0 {
		t.Fatalf("processed records must leave the outbox, %d remain", len(pending))
	}
}

func TestUnauthorizedGoesToDeadLettersWithoutRetry(t *testing.T) {
	r := newRig(t, nil)
	r.d.endpoints["eu"] = relay.CleverTapAccount{Region: "eu1", AccountID: "SIM-EU1-0001", Passcode: "wrong"}.Endpoint()
	r.accept(t, "auth", "e", 3)
	waitUntil(t, "three dead letters", func() bool { _, _, dead := r.obs.snapshot(); return dead == 3 })
	dead, _ := r.store.DeadLetters()
	if len(dead) != 3 || dead[0].Status != 401 || !strings.Contains(dead[0].Reason, "HTTP 401") {
		t.Fatalf("expected 401 dead letters, got %+v", dead)
	}
	if _, retried, _ := r.obs.snapshot(); retried != 0 {
		t.Fatalf("a 401 must not be retried, got %d retries", retried)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	r := newRig(t, func(s *Settings) { s.MaxAttempts = 3 })
	r.fault(t, clevertap.Fault{Action: "respond", Status: 500})
	r.accept(t, "doomed", "e", 1)
	waitUntil(t, "a dead letter", func() bool { _, _, dead := r.obs.snapshot(); return dead == 1 })
	dead, _ := r.store.DeadLetters()
	if len(dead) != 1 || dead[0].Attempts != 3 || !strings.Contains(dead[0].Reason,
		"gave up after 3 attempts; last: HTTP 500") {
		t.Fatalf("unexpected dead letter %+v", dead)
	}
}

func TestBackoffDoublesWithJitterAndIsCapped(t *testing.T) {
	d := New(Settings{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}, nil, nil, nil, nil, nil)
	for failures, upper := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for range 50 {
			if got := d.backoff(failures); got < upper/2 || got > upper {
				t.Fatalf("failure %d: backoff %s outside [%s, %s]", failures, got, upper/2, upper)
			}
		}
	}
}

func TestConcurrencyPerAccountStaysBelowTheCap(t *testing.T) {
	r := newRig(t, func(s *Settings) { s.MaxConcurrentPerAccount = 2; s.MaxBatch = 1 })
	acct := clevertap.DefaultAccounts()[0]
	acct.MaxConcurrentUploads = 2
	if err := r.ct.PutAccount(context.Background(), acct); err != nil {
		t.Fatal(err)
	}
	r.fault(t, clevertap.Fault{Action: "delay", DelayMS: 2})
	r.accept(t, "conc", "e", 60)
	r.wait(t, "conc", 60)
	reqs, _ := r.ct.Requests(context.Background(), clevertap.JournalFilter{Outcome: clevertap.OutcomeRateLimited})
	if len(reqs) != 0 {
		t.Fatalf("the relay exceeded the account's concurrency: %d answers 429", len(reqs))
	}
}

// The window bounds memory whatever the backlog: through an outage the jobs wait on disk, delivery holds at most
// Window of them, and every one is delivered once the outage ends.
func TestABacklogWaitsOnDiskNotInMemory(t *testing.T) {
	r := newRig(t, func(s *Settings) { s.MaxBatch, s.Window, s.MaxAttempts = 100, 250, 1000 })
	r.fault(t, clevertap.Fault{Action: "respond", Status: 503}) // until deleted
	r.accept(t, "backlog", "e", 3000)
	most := 0
	waitUntil(t, "the outage tried", func() bool {
		r.d.mu.Lock()
		defer r.d.mu.Unlock()
		for _, q := range r.d.queues {
			most = max(most, len(q.held), len(q.jobs))
		}
		_, retried, _ := r.obs.snapshot()
		return retried > 0
	})
	if most > 250 {
		t.Fatalf("expected at most the window (250) of jobs in memory, got %d", most)
	}
	if got := r.store.PendingCount(); got != 3000 {
		t.Fatalf("expected the 3000 jobs in the outbox, got %d", got)
	}
	if err := r.ct.ClearFaults(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "backlog", 3000)
	r.exactly(t, "backlog", 3000)
	waitUntil(t, "the outbox drained", func() bool { return r.store.PendingCount() == 0 })
}

// Requests that fail together count as one backoff step: after the wait one probe goes first, and its success
// restores full speed (ten concurrent 503s used to make ten steps, minutes of waiting).
func TestFailuresTogetherAreOneBackoffStep(t *testing.T) {
	r := newRig(t, func(s *Settings) {
		s.MaxBatch, s.MaxConcurrentPerAccount = 10, 10
		s.MinBackoff, s.MaxBackoff = 40*time.Millisecond, 10*time.Second
	})
	// the first ten uploads, in flight together, are each answered 503 after 100 ms
	r.fault(t, clevertap.Fault{Action: "respond", Status: 503, DelayMS: 100, Times: 10})
	r.accept(t, "together", "e", 100)
	most, failures := 0, 0
	waitUntil(t, "everything delivered", func() bool {
		r.d.mu.Lock()
		if q := r.d.queues["eu"]; q != nil {
			failures = q.failures
			most = max(most, failures)
		}
		r.d.mu.Unlock()
		delivered, _, _ := r.obs.snapshot()
		return delivered == 100
	})
	r.exactly(t, "together", 100)
	_, retried, _ := r.obs.snapshot()
	if most != 1 || failures != 0 || retried == 0 {
		t.Fatalf("expected ten failures together to be one backoff step that a success ended, got at most %d "+
			"steps (%d at the end), %d jobs retried", most, failures, retried)
	}
}

// A redirect is never followed: the 3xx goes to the dead letters with its Location, and the target never sees
// the passcode; a Location that echoes credentials (the passcode, a token, a password) is redacted in the dead
// letter and the log.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var followed bool
	var logs syncbuf.Buffer
	target := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed = true })
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "elsewhere.test" {
			target(w, r)
			return
		}
		http.Redirect(w, r, "http://bob:PW-1@elsewhere.test/steal?"+r.URL.RawQuery+"&token=TOK-1&account_passcode="+
			r.Header.Get("X-CleverTap-Passcode"), http.StatusTemporaryRedirect)
	})
	store, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	endpoints := map[string]relay.Endpoint{
		"eu": relay.CleverTapAccount{Region: "eu1", AccountID: "SIM-EU1-0001", Passcode: "sim-eu1-pass"}.Endpoint(),
	}
	d := New(Settings{CleverTapEndpoint: "http://sim.test/{region}"}, store, endpoints,
		&http.Client{Transport: clevertap.InProcessTransport{Handler: redirect}}, slog.New(slog.NewTextHandler(&logs,
			&slog.HandlerOptions{Level: slog.LevelDebug})), &counter{requests: map[string]int{}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); d.Wait(); store.Close() })
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	jobs := []outbox.Job{{Source: "test", EventID: "r1", Message: relay.Message{Destination: "eu",
		Kind: relay.KindUpload, Payload: []byte(`{"type":"event","evtName":"e","identity":"u"}`)}}}
	if _, err := store.Accept("test", "r1", jobs); err != nil {
		t.Fatal(err)
	}
	d.Enqueue(jobs...)
	var dead []outbox.DeadLetter
	waitUntil(t, "the redirect dead-lettered", func() bool { dead, _ = store.DeadLetters(); return len(dead) == 1 })
	if followed || dead[0].Status != http.StatusTemporaryRedirect ||
		!strings.Contains(dead[0].Reason, `"http://bob:REDACTED@elsewhere.test/steal?`) {
		t.Fatalf("expected a 307 dead letter naming the Location and nothing sent there, got followed=%v %+v",
			followed, dead[0])
	}
	for _, secret := range []string{"PW-1", "TOK-1", "sim-eu1-pass"} {
		if strings.Contains(dead[0].Reason, secret) || strings.Contains(logs.String(), secret) {
			t.Errorf("expected %q redacted, got the dead letter %q and the log:\n%s", secret, dead[0].Reason,
				logs.String())
		}
	}
}

// failing is an outbox whose writes of one kind fail while fails > 0 (one less per failed call), as a database
// that is briefly unreachable would.
type failing struct {
	outbox.Outbox
	mu                              sync.Mutex
	markFails, doneFails, killFails int
}

func (f *failing) fail(n *int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *n > 0 {
		*n--
		return true
	}
	return false
}

var errUnreachable = fmt.Errorf("outbox unreachable (test)")

func (f *failing) MarkSending(ids []uint64) error {
	if f.fail(&f.markFails) {
		return errUnreachable
	}
	return f.Outbox.MarkSending(ids)
}

func (f *failing) Done(jobs []outbox.Job) error {
	if len(jobs) > 0 && f.fail(&f.doneFails) {
		return errUnreachable
	}
	return f.Outbox.Done(jobs)
}

func (f *failing) Kill(dead []outbox.DeadLetter) error {
	if len(dead) > 0 && f.fail(&f.killFails) {
		return errUnreachable
	}
	return f.Outbox.Kill(dead)
}

// An outbox that cannot record an upload as sending means nothing was sent: no attempt is spent (with one
// attempt allowed, a spent one would be a dead letter) and nothing is sent twice once it can.
func TestAnUnrecordedMarkSpendsNoAttempt(t *testing.T) {
	f := &failing{markFails: 3}
	r := newRigOn(t, func(s *Settings) { s.MaxAttempts = 1 }, func(o outbox.Outbox) outbox.Outbox {
		f.Outbox = o
		return f
	})
	r.accept(t, "marked", "e", 5)
	r.wait(t, "marked", 5)
	r.exactly(t, "marked", 5)
	waitUntil(t, "the outbox drained", func() bool { return r.store.PendingCount() == 0 })
	if dead, _ := r.store.DeadLetters(); len(dead) != 0 {
		t.Fatalf("expected no dead letters, got %+v", dead)
	}
	if _, retried, _ := r.obs.snapshot(); retried != 0 {
		t.Fatalf("expected no retries counted (nothing was sent), got %d", retried)
	}
	if f.fail(&f.markFails) {
		t.Fatal("the failing marks were never tried")
	}
}

// Delivered jobs whose removal the outbox did not take at first are removed once it does: nothing stays pending
// behind them, nothing is sent again.
func TestARemovalTheOutboxRefusedIsTriedUntilTaken(t *testing.T) {
	f := &failing{doneFails: 2}
	r := newRigOn(t, nil, func(o outbox.Outbox) outbox.Outbox { f.Outbox = o; return f })
	r.accept(t, "done", "e", 3)
	r.wait(t, "done", 3)
	waitUntil(t, "the delivered jobs removed", func() bool { return r.store.PendingCount() == 0 })
	r.exactly(t, "done", 3)
	if f.fail(&f.doneFails) {
		t.Fatal("the failing removals were never tried")
	}
}

// Dead letters the outbox did not take at first are written once it does, not left pending and held.
func TestDeadLettersTheOutboxRefusedAreTriedUntilTaken(t *testing.T) {
	f := &failing{killFails: 2}
	r := newRigOn(t, nil, func(o outbox.Outbox) outbox.Outbox { f.Outbox = o; return f })
	r.d.endpoints["eu"] = relay.CleverTapAccount{Region: "eu1", AccountID: "SIM-EU1-0001", Passcode: "wrong"}.Endpoint()
	r.accept(t, "refused", "e", 2)
	waitUntil(t, "two dead letters written", func() bool { dead, _ := r.store.DeadLetters(); return len(dead) == 2 })
	waitUntil(t, "nothing pending", func() bool { return r.store.PendingCount() == 0 })
	if f.fail(&f.killFails) {
		t.Fatal("the failing dead letters were never tried")
	}
}

// leasedAway is a shared outbox whose destination another replica takes over at the first upload this one tries:
// that mark's commit is lost (an error, as when the connection is cut), and from then on the holder is another.
type leasedAway struct {
	outbox.Outbox
	mu       sync.Mutex
	lost     bool
	unmarked map[uint64]bool
}

func (l *leasedAway) Shared() bool { return true }

func (l *leasedAway) Next(destination string, held func(uint64) bool, limit int) ([]outbox.Job, bool, error) {
	l.mu.Lock()
	lost := l.lost
	l.mu.Unlock()
	if lost {
		return nil, true, outbox.ErrLeased
	}
	return l.Outbox.Next(destination, held, limit)
}

func (l *leasedAway) MarkSending(ids []uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost {
		return outbox.ErrLeased
	}
	l.lost = true
	return errUnreachable
}

func (l *leasedAway) Unmark(ids []uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.unmarked[id] = true
	}
	return nil
}

// A window read under a lease since lost goes to the new holder (this replica's possible marks on it cleared) as
// soon as a read finds the destination held elsewhere: kept, the holder would wait on those marks for good, and
// this queue would read the outbox again and again instead of sending.
func TestAWindowReadUnderALostLeaseIsLeftToTheHolder(t *testing.T) {
	l := &leasedAway{unmarked: map[uint64]bool{}}
	r := newRigOn(t, nil, func(o outbox.Outbox) outbox.Outbox { l.Outbox = o; return l })
	// the window's 3 jobs in one commit (one webhook), so that the first read finds them all: webhooks accepted
	// concurrently may each commit alone, and a job this queue never read has no mark of its own to clear
	window := make([]outbox.Job, 3)
	for i := range window {
		window[i] = outbox.Job{Source: "test", EventID: "window-e", Message: relay.Message{Destination: "eu",
			Kind: relay.KindUpload, Payload: relay.Record(map[string]any{"type": "event", "evtName": "e",
				"identity": "window", "ts": 1767225600 + i, "evtData": map[string]any{"n": i}})}}
	}
	if _, err := r.store.Accept("test", "window-e", window); err != nil {
		t.Fatal(err)
	}
	r.d.Enqueue(window...)
	waitUntil(t, "the first upload tried", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.lost })
	r.accept(t, "later", "e", 1) // a webhook accepted meanwhile: the queue reads the outbox again
	pending, err := r.store.Pending()
	if err != nil || len(pending) != 4 {
		t.Fatalf("expected the 4 jobs pending, got %d (%v)", len(pending), err)
	}
	waitUntil(t, "the window's jobs unmarked", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, j := range pending[:3] {
			if !l.unmarked[j.ID] {
				return false
			}
		}
		return true
	})
	r.exactly(t, "window", 0)
}

// Concurrent uploads to one account reuse their connections: dialling again for each would be a TLS handshake
// against CleverTap every time.
func TestConcurrentUploadsReuseTheirConnections(t *testing.T) {
	const uploadsAtOnce, batch = 10, 5
	var dials atomic.Int64
	r := newRigVia(t, func(s *Settings) { s.MaxBatch, s.MaxConcurrentPerAccount = batch, uploadsAtOnce }, nil,
		func(sim *simulator.Simulator) (string, *http.Client) {
			srv := httptest.NewUnstartedServer(sim)
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					dials.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			return srv.URL, &http.Client{} // no Transport: the dispatcher's own
		})
	const users, each = 40, 25
	for u := range users {
		r.accept(t, fmt.Sprintf("user-%d", u), "Renewal", each)
	}
	for u := range users {
		r.wait(t, fmt.Sprintf("user-%d", u), each)
	}
	if n := dials.Load(); n > uploadsAtOnce {
		t.Fatalf("expected at most %d connections for %d uploads at most %d at once, got %d", uploadsAtOnce,
			users*each/batch, uploadsAtOnce, n)
	}
}
