// Package load plays a vendor at volume: it sends many distinct webhooks of one source (RevenueCat, Purchasely or
// AppsFlyer, in their real formats, signed as they sign them) to a loopback target at a fixed rate or as fast as
// a number of connections allows, optionally retried on the vendor's schedule, and reports what was acknowledged
// and how fast. It backs `simulator load`, `make bench` and the resilience suite.
package load

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
	"github.com/ctharness/ctharness/simulator/sources/appsflyer"
	"github.com/ctharness/ctharness/simulator/sources/vendors"
)

// Bounds keep a load finite whatever the flags say.
const (
	MaxDuration    = 10 * time.Minute
	MaxCount       = 10_000_000
	MaxConcurrency = 4096
	MaxRate        = 1_000_000
)

// The event ids a load can send (Options.EventIDs).
const (
	IDsOrdered = "ordered"
	IDsUUID    = "uuid"
)

// Options describe one load.
type Options struct {
	// Source is revenuecat, purchasely or appsflyer.
	Source string
	// Target is the webhook URL; only loopback hosts are accepted.
	Target string
	// Rate is webhooks per second on a fixed schedule; 0 sends as fast as Concurrency allows.
	Rate float64
	// Duration bounds the sending time (default 10 s, at most MaxDuration).
	Duration time.Duration
	// Count bounds the number of webhooks (0: Rate × Duration, or no bound but Duration when Rate is 0).
	Count int
	// Users is how many distinct users the webhooks belong to, in turn; 0 gives every webhook its own user.
	Users int
	// Concurrency is the most webhooks in flight (default 64).
	Concurrency int
	// Events are the event types sent in turn (default: the vendor's load mix).
	Events []string
	// Credential is RevenueCat's Authorization value, Purchasely's shared secret or AppsFlyer's token (and its
	// header), as the target relay is configured.
	Credential sources.Credential
	// Retry retries refused webhooks on the vendor's schedule compressed by TimeScale (real seconds per vendor
	// second, default 0.001: RevenueCat's 5 minutes become 0.3 s).
	Retry     bool
	TimeScale float64
	// RunID makes the event ids and user ids of this load unique (default: random), so reruns are not duplicates.
	RunID string
	// EventIDs is ordered (load-<run>-e<seq>, the default) or uuid: ids shaped like RevenueCat's UUIDs, made
	// from the run and the sequence number, which an outbox's dedupe index receives in no order.
	EventIDs string
	// Client sends the requests (default: a lean keep-alive transport, one connection per webhook in flight, see
	// transport.go; net/http's for https targets).
	Client *http.Client
	// OnResult, when set, is called once per webhook with its final outcome (from many goroutines).
	OnResult func(Result)
}

// Result is one webhook's final outcome.
type Result struct {
	Seq      int
	EventID  string
	User     string
	Acked    bool
	Status   int    // last HTTP status (0 when there was no answer)
	Error    string // last network error
	Attempts int
	// Latency is from the webhook's scheduled time to the first attempt's answer.
	Latency time.Duration
}

// Percentiles of the first attempts' answer times.
type Percentiles struct {
	P50 time.Duration `json:"p50"`
	P90 time.Duration `json:"p90"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
}

// Report is what a load did.
type Report struct {
	Source string `json:"source"`
	Target string `json:"target"`
	RunID  string `json:"run_id"`
	// EventIDs is ordered or uuid (Options.EventIDs).
	EventIDs string  `json:"event_ids"`
	Rate     float64 `json:"rate"`
	// Sent webhooks; Acked got the vendor's success answer (maybe after retries); Refused never did.
	Sent    int `json:"sent"`
	Acked   int `json:"acked"`
	Refused int `json:"refused"`
	// Retried webhooks needed more than one attempt; Attempts counts every request.
	Retried  int `json:"retried"`
	Attempts int `json:"attempts"`
	// Statuses counts every attempt's answer by HTTP status ("error" when there was none).
	Statuses map[string]int `json:"statuses"`
	// Late counts webhooks whose first attempt started more than 10 ms after its scheduled time (the target or
	// this generator could not keep the rate).
	Late int `json:"late"`
	// Elapsed is from the first send to the last answer; Throughput is Acked / Elapsed.
	Elapsed    time.Duration `json:"elapsed"`
	Throughput float64       `json:"throughput"`
	Latency    Percentiles   `json:"latency"`
}

// Validate checks the options and fills the defaults.
func (o *Options) Validate() error {
	emitter, err := vendors.Lookup(o.Source)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if err := loopbackOnly(o.Target); err != nil {
		return err
	}
	if o.Duration == 0 {
		o.Duration = 10 * time.Second
	}
	switch {
	case o.Duration < 0 || o.Duration > MaxDuration:
		return fmt.Errorf("duration: expected more than 0 and at most %s, got %s", MaxDuration, o.Duration)
	case o.Rate < 0 || o.Rate > MaxRate:
		return fmt.Errorf("rate: expected 0 (as fast as possible) to %d webhooks/s, got %g", MaxRate, o.Rate)
	case o.Count < 0 || o.Count > MaxCount:
		return fmt.Errorf("count: expected 0 (rate × duration) to %d, got %d", MaxCount, o.Count)
	case o.Users < 0:
		return fmt.Errorf("users: expected 0 (one per webhook) or more, got %d", o.Users)
	case o.Concurrency < 0 || o.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency: expected 1 to %d, got %d", MaxConcurrency, o.Concurrency)
	case o.TimeScale < 0:
		return fmt.Errorf("time scale: expected a positive factor, got %g", o.TimeScale)
	case o.EventIDs != "" && o.EventIDs != IDsOrdered && o.EventIDs != IDsUUID:
		return fmt.Errorf("event ids: expected %s or %s, got %q", IDsOrdered, IDsUUID, o.EventIDs)
	case o.EventIDs == IDsUUID && o.Source == appsflyer.Source:
		// its id is derived from appsflyer_id, which starts with the install's time in ms: not a UUID, and ordered
		return fmt.Errorf("event ids: expected %s for appsflyer (the relay derives its id from appsflyer_id, not a "+
			"UUID), got %s", IDsOrdered, IDsUUID)
	}
	if o.Concurrency == 0 {
		o.Concurrency = 64
	}
	if o.TimeScale == 0 {
		o.TimeScale = 0.001
	}
	if o.Count == 0 && o.Rate > 0 {
		o.Count = min(int(o.Rate*o.Duration.Seconds()), MaxCount)
	}
	if o.Count == 0 {
		o.Count = MaxCount
	}
	if len(o.Events) == 0 {
		o.Events = emitter.Info().LoadMix
	}
	if o.EventIDs == "" {
		o.EventIDs = IDsOrdered
	}
	if o.RunID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.RunID = hex.EncodeToString(b[:])
	}
	if strings.ContainsAny(o.RunID, "\"\\ ") {
		return fmt.Errorf("run id: expected letters, digits, - or _, got %q", o.RunID)
	}
	return nil
}

// loopbackOnly refuses targets that are not on this machine: a load generator pointed at a real endpoint is an
// accident waiting to happen.
func loopbackOnly(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("target: expected an http(s) URL such as http://127.0.0.1:8080/webhooks/revenuecat, got %q", target)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf(
		"target: expected a loopback host (127.0.0.1, ::1 or localhost), got %q: load only runs against a local stack", host)
}

// Run sends the load and reports it. It returns when every webhook has its final outcome or ctx ends.
func Run(ctx context.Context, o Options) (Report, error) {
	if err := o.Validate(); err != nil {
		return Report{}, err
	}
	gen, err := newGenerator(o)
	if err != nil {
		return Report{}, err
	}
	client := o.Client
	if client == nil {
		client = newClient(o)
		defer client.CloseIdleConnections()
	}
	policy := gen.policy
	if !o.Retry {
		policy.Retries = nil
	}
	deliverer := sources.Deliverer{Client: client, Clock: &lifecycle.ScaledWallClock{Factor: o.TimeScale},
		SignTime: time.Now}
	t := &tally{rep: Report{Source: o.Source, Target: o.Target, RunID: o.RunID, EventIDs: o.EventIDs, Rate: o.Rate,
		Statuses: map[string]int{}}, latencies: make([]time.Duration, 0, min(o.Count, 1<<20))}
	jobs := make(chan job, o.Concurrency)
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			for j := range jobs {
				late := o.Rate > 0 && time.Since(j.scheduled) > 10*time.Millisecond
				res, _ := deliverer.Deliver(ctx, o.Target, gen.webhook(j.seq), policy)
				r := t.add(j, gen, res, late, time.Now())
				if o.OnResult != nil {
					o.OnResult(r)
				}
			}
		})
	}
	start := time.Now()
	scheduleErr := schedule(ctx, o, start, jobs)
	close(jobs)
	wg.Wait()
	return t.report(start), scheduleErr
}

// newClient is the load's HTTP client: the lean transport for http targets, net/http's for https.
func newClient(o Options) *http.Client {
	var transport http.RoundTripper = newConnTransport(o.Concurrency)
	if strings.HasPrefix(o.Target, "https:") {
		transport = &http.Transport{MaxIdleConns: o.Concurrency, MaxIdleConnsPerHost: o.Concurrency,
			IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	}
	return &http.Client{Transport: transport}
}

// job is one webhook to send and when it was due.
type job struct {
	seq       int
	scheduled time.Time
}

// schedule hands the webhooks to the senders: on a fixed schedule at o.Rate, or as fast as they take them, until
// the count or the duration runs out.
func schedule(ctx context.Context, o Options, start time.Time, jobs chan<- job) error {
	deadline := start.Add(o.Duration)
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) / o.Rate)
	}
	for seq := 0; seq < o.Count; seq++ {
		due := time.Now()
		if o.Rate > 0 {
			due = start.Add(time.Duration(seq) * interval)
			if due.After(deadline) {
				return nil
			}
			if wait := time.Until(due); wait > time.Millisecond {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		} else if !due.Before(deadline) {
			return nil
		}
		select {
		case jobs <- job{seq: seq, scheduled: due}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// tally adds up the outcomes, from every sender.
type tally struct {
	mu        sync.Mutex
	rep       Report
	latencies []time.Duration
	lastDone  time.Time
}

// add counts one webhook's outcome and returns it as a Result.
func (t *tally) add(j job, gen *generator, res sources.Result, late bool, answered time.Time) Result {
	r := Result{Seq: j.seq, EventID: gen.eventID(j.seq), User: gen.user(j.seq), Acked: res.Delivered,
		Attempts: len(res.Attempts)}
	firstAnswered := len(res.Attempts) > 0 && res.Attempts[0].Error == ""
	if n := len(res.Attempts); n > 0 {
		last := res.Attempts[n-1]
		r.Status, r.Error = last.Status, last.Error
		if firstAnswered {
			// measured from when the webhook was due, not when it left, so a slow target shows as latency rather
			// than as a lower send rate
			r.Latency = answerTime(j.scheduled, res.Attempts[0].Took, n, answered)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rep := &t.rep
	rep.Sent++
	rep.Attempts += r.Attempts
	if late {
		rep.Late++
	}
	if r.Attempts > 1 {
		rep.Retried++
	}
	if r.Acked {
		rep.Acked++
	} else {
		rep.Refused++
	}
	for _, a := range res.Attempts {
		if a.Error != "" {
			rep.Statuses["error"]++
		} else {
			rep.Statuses[fmt.Sprint(a.Status)]++
		}
	}
	if firstAnswered {
		t.latencies = append(t.latencies, r.Latency)
	}
	if answered.After(t.lastDone) {
		t.lastDone = answered
	}
	return r
}

// report is the tally once every sender is done.
func (t *tally) report(start time.Time) Report {
	rep := t.rep
	rep.Elapsed = t.lastDone.Sub(start)
	if rep.Elapsed > 0 {
		rep.Throughput = float64(rep.Acked) / rep.Elapsed.Seconds()
	}
	rep.Latency = percentiles(t.latencies)
	return rep
}

// answerTime is the first attempt's answer time counted from when the webhook was due: the wait in the queue plus
// the attempt. For a webhook answered at once it is exactly answered − scheduled.
func answerTime(scheduled time.Time, firstTook time.Duration, attempts int, answered time.Time) time.Duration {
	if attempts == 1 {
		return answered.Sub(scheduled)
	}
	return firstTook
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}
