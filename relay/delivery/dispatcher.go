// Package delivery sends the outbox's jobs: one queue per destination, batches of up to 1000 upload records
// (per account and region), a per-account cap on requests in flight below CleverTap's limit, and a per-destination
// capped exponential backoff with jitter after 5xx, 429, 408 and network errors, so the request rate during an
// outage follows the backoff. 4xx answers and records CleverTap refused one by one go to the dead letters with
// the code and text; records CleverTap processed are never sent again.
package delivery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

// Observer is told what delivery does (the service turns it into Prometheus metrics).
type Observer interface {
	Delivered(destination string, n int)
	Retried(destination string, n int)
	DeadLettered(destination string, n int)
	Request(destination, outcome string, took time.Duration)
}

// Dispatcher owns the queues.
type Dispatcher struct {
	settings  Settings
	store     *outbox.Store
	endpoints map[string]relay.Endpoint
	client    *http.Client
	log       *slog.Logger
	observe   Observer

	mu     sync.Mutex
	queues map[string]*queue
	sems   map[string]chan struct{}
	ctx    context.Context
	wg     sync.WaitGroup
}

type queue struct {
	name         string
	endpoint     relay.Endpoint
	protocol     protocol
	known        bool
	jobs         []outbox.Job
	failures     int
	blockedUntil time.Time
	inflight     int
	wake         chan struct{}
}

// New makes a dispatcher; Start runs it.
func New(s Settings, store *outbox.Store, endpoints map[string]relay.Endpoint, client *http.Client, log *slog.Logger,
	observe Observer) *Dispatcher {
	s.Defaults()
	if client == nil {
		client = &http.Client{}
	}
	return &Dispatcher{settings: s, store: store, endpoints: endpoints, client: client, log: log, observe: observe,
		queues: map[string]*queue{}, sems: map[string]chan struct{}{}}
}

// Start loads the pending jobs from the outbox and runs the queues until ctx ends.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
	pending, err := d.store.Pending()
	if err != nil {
		return fmt.Errorf("reading the outbox: %w", err)
	}
	if pending, err = d.recoverInDoubt(pending); err != nil {
		return err
	}
	if len(pending) > 0 {
		d.log.Info("resuming deliveries from the outbox", "jobs", len(pending))
	}
	d.Enqueue(pending...)
	return nil
}

// Wait blocks until the queues and the requests in flight have stopped (after ctx ended).
func (d *Dispatcher) Wait() { d.wg.Wait() }

// Enqueue hands stored jobs to their queues.
func (d *Dispatcher) Enqueue(jobs ...outbox.Job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	touched := map[*queue]bool{}
	for _, j := range jobs {
		q := d.queueLocked(j.Destination)
		q.jobs = append(q.jobs, j)
		touched[q] = true
	}
	for q := range touched {
		signal(q.wake)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) queueLocked(name string) *queue {
	if q, ok := d.queues[name]; ok {
		return q
	}
	if d.ctx == nil { // enqueued before Start: the queue waits for it
		d.ctx = context.Background()
	}
	ep, known := d.endpoints[name]
	q := &queue{name: name, endpoint: ep, protocol: protocolFor(ep.Kind), known: known, wake: make(chan struct{}, 1)}
	d.queues[name] = q
	sem, ok := d.sems[ep.AccountKey()]
	if !ok {
		sem = make(chan struct{}, d.settings.MaxConcurrentPerAccount)
		d.sems[ep.AccountKey()] = sem
	}
	d.wg.Add(1)
	go d.work(d.ctx, q, sem)
	return q
}

// Depth is the number of jobs queued or in flight per destination.
func (d *Dispatcher) Depth() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for name, q := range d.queues {
		out[name] = len(q.jobs) + q.inflight
	}
	return out
}

// work is one destination's loop: wait for jobs and the end of any backoff, take a slot of the account, take a
// batch, send it in the background.
func (d *Dispatcher) work(ctx context.Context, q *queue, sem chan struct{}) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		ready := len(q.jobs) > 0
		wait := time.Until(q.blockedUntil)
		d.mu.Unlock()
		if !ready || wait > 0 {
			var fire <-chan time.Time
			var timer *time.Timer
			if ready {
				timer = time.NewTimer(wait)
				fire = timer.C
			}
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
			case <-fire:
			}
			if timer != nil {
				timer.Stop()
			}
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		batch := d.take(q)
		if len(batch) == 0 {
			<-sem
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer func() { <-sem }()
			// not cancelled at shutdown: an upload already sent is heard out (bounded by the request timeout) and
			// recorded, so a clean stop leaves nothing in doubt
			d.send(context.WithoutCancel(ctx), q, batch)
		}()
	}
}

// take removes the next batch from the queue, as the destination's protocol batches.
func (d *Dispatcher) take(q *queue) []outbox.Job {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(q.jobs) == 0 || time.Now().Before(q.blockedUntil) {
		return nil
	}
	var batch []outbox.Job
	batch, q.jobs = q.protocol.take(q.jobs, d.settings)
	if len(q.jobs) == 0 {
		q.jobs = nil // let the backing array go
	}
	q.inflight += len(batch)
	return batch
}

// outcome is what a request's answer means for its jobs.
type outcome struct {
	done  []outbox.Job
	retry []outbox.Job
	dead  []outbox.DeadLetter
	label string // success, partial, retry, rejected
	err   string // for retries: what went wrong
}

func (d *Dispatcher) send(ctx context.Context, q *queue, batch []outbox.Job) {
	var out outcome
	if !q.known {
		out = rejectAll(batch, 0,
			fmt.Sprintf("destination %q is not configured (the config changed since the webhook was accepted)", q.name))
	} else {
		ids := make([]uint64, len(batch))
		for i, j := range batch {
			ids[i] = j.ID
		}
		if err := d.store.MarkSending(ids); err != nil {
			// without the mark a crash during the upload could not be told apart; try again later
			d.log.Error("outbox write failed before an upload; retrying later", "destination", q.name, "err", err)
			out = outcome{label: "outbox_error", retry: batch, err: err.Error()}
			d.settle(q, len(batch), out)
			return
		}
		start := time.Now()
		out = d.request(ctx, q, batch)
		d.observe.Request(q.name, out.label, time.Since(start))
	}
	d.settle(q, len(batch), out)
}

// settle records an outcome in the outbox and the queue.
func (d *Dispatcher) settle(q *queue, taken int, out outcome) {
	ids := make([]uint64, len(out.done))
	for i, j := range out.done {
		ids[i] = j.ID
	}
	if err := d.store.Done(ids); err != nil {
		d.log.Error("could not mark delivered jobs done; they will be sent again after a restart", "destination", q.name,
			"jobs", len(ids), "err", err)
	}
	var again []outbox.Job
	for _, j := range out.retry {
		j.Attempts++
		j.LastError = out.err
		if j.Attempts >= d.settings.MaxAttempts {
			out.dead = append(out.dead, outbox.DeadLetter{Job: j, Reason: fmt.Sprintf("gave up after %d attempts; last: %s",
				j.Attempts, out.err)})
			continue
		}
		again = append(again, j)
	}
	if err := d.store.Update(again); err != nil {
		d.log.Error("could not record the attempt count", "destination", q.name, "err", err)
	}
	if err := d.store.Kill(out.dead); err != nil {
		d.log.Error("could not move jobs to the dead letters; they stay pending", "destination", q.name, "jobs",
			len(out.dead), "err", err)
	}
	for _, dl := range out.dead {
		d.log.Warn("dead letter", "destination", q.name, "source", dl.Source, "event_id", dl.EventID, "event_type",
			dl.EventType, "status", dl.Status, "code", dl.Code, "reason", dl.Reason)
	}
	if len(out.done) > 0 {
		d.observe.Delivered(q.name, len(out.done))
	}
	if len(again) > 0 {
		d.observe.Retried(q.name, len(again))
	}
	if len(out.dead) > 0 {
		d.observe.DeadLettered(q.name, len(out.dead))
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	q.inflight -= taken
	if len(out.retry) > 0 {
		q.failures++
		wait := d.backoff(q.failures)
		if until := time.Now().Add(wait); until.After(q.blockedUntil) {
			q.blockedUntil = until
		}
		d.log.Warn("delivery failed; backing off", "destination", q.name, "records", len(out.retry), "consecutive_failures",
			q.failures, "wait", wait.String(), "err", out.err)
		q.jobs = append(again, q.jobs...)
	} else if len(out.done) > 0 {
		q.failures = 0
	}
	signal(q.wake)
}

// backoff doubles from MinBackoff per consecutive failure up to MaxBackoff, with "equal jitter" (half fixed,
// half random) so relays that failed together do not come back together.
func (d *Dispatcher) backoff(failures int) time.Duration {
	wait := d.settings.MinBackoff
	for i := 1; i < failures && wait < d.settings.MaxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, d.settings.MaxBackoff)
	half := wait / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func rejectAll(batch []outbox.Job, status int, reason string) outcome {
	out := outcome{label: "rejected"}
	for _, j := range batch {
		out.dead = append(out.dead, outbox.DeadLetter{Job: j, Status: status, Reason: reason})
	}
	return out
}

func retryAll(batch []outbox.Job, err string) outcome {
	return outcome{retry: batch, label: "retry", err: err}
}

// request sends one batch and classifies the answer: 429, 408, 5xx and network errors are retried, other non-2xx
// answers refuse the whole batch, and a 2xx answer is read by the destination's protocol.
func (d *Dispatcher) request(ctx context.Context, q *queue, batch []outbox.Job) outcome {
	req, err := q.protocol.build(d.settings, q.endpoint, batch)
	if err != nil {
		return rejectAll(batch, 0, err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, d.settings.Timeout)
	defer cancel()
	resp, err := d.client.Do(req.WithContext(ctx))
	if err != nil {
		return retryAll(batch, "network: "+scrub(err.Error(), q.endpoint))
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout,
		resp.StatusCode >= 500:
		return retryAll(batch, fmt.Sprintf("HTTP %d %s", resp.StatusCode, clip.Text(string(body), 300)))
	case resp.StatusCode >= 300:
		return rejectAll(batch, resp.StatusCode, fmt.Sprintf("HTTP %d %s", resp.StatusCode, clip.Text(string(body), 300)))
	case readErr != nil:
		// The answer was cut: nothing says the records were processed, so they are sent again.
		return retryAll(batch, "answer cut short: "+readErr.Error())
	}
	return q.protocol.answer(batch, resp.StatusCode, body)
}

// scrub removes credentials from an error that may quote the URL (attribution calls carry them in the query).
func scrub(s string, ep relay.Endpoint) string {
	for _, secret := range []string{ep.Passcode, ep.Token} {
		if secret != "" {
			s = strings.ReplaceAll(s, url.QueryEscape(secret), "***")
			s = strings.ReplaceAll(s, secret, "***")
		}
	}
	return s
}
