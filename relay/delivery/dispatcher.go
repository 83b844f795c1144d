// Package delivery sends the outbox's jobs: one queue per destination, batches of up to 1000 upload records
// (per account and region), a per-account cap on requests in flight below CleverTap's limit, and a per-destination
// capped exponential backoff with jitter after 5xx, 429, 408 and network errors, so the request rate during an
// outage follows the backoff. 4xx answers and records CleverTap refused one by one go to the dead letters with
// the code and text; records CleverTap processed are never sent again.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/internal/redact"
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
	store     outbox.Outbox
	endpoints map[string]relay.Endpoint
	client    *http.Client
	log       *slog.Logger
	observe   Observer

	mu     sync.Mutex
	queues map[string]*queue
	sems   map[string]chan struct{}
	ctx    context.Context
	wg     sync.WaitGroup

	// shared: the outbox is shared by several replicas (outbox.Shared): jobs reach a queue only through Next,
	// under the destination's lease, and an idle queue looks again every pollInterval for jobs others accepted;
	// backoff after a failure is shared per account through the outbox (outbox.SharedBackoff)
	shared   bool
	backoffs outbox.SharedBackoff
}

// pollInterval is how often an idle queue of a shared outbox looks for jobs other replicas accepted, and how long
// a queue waits before asking again for a destination another replica holds.
const pollInterval = 500 * time.Millisecond

// queue is one destination's: a bounded window of its jobs in memory, read from the outbox (the queue on disk)
// as it empties, so a backlog of any size costs disk, not memory.
type queue struct {
	name     string
	endpoint relay.Endpoint
	protocol protocol
	known    bool
	// jobs is the window, oldest first; held has the ids in it or in flight.
	jobs []outbox.Job
	held map[uint64]bool
	// backlog says the outbox holds jobs beyond the window; spilled counts the jobs Enqueue left there, so a
	// refill that found the disk drained clears backlog only if none was left meanwhile.
	backlog   bool
	spilled   uint64
	refilling bool
	// failures counts backoff steps, not failed requests: requests in flight when one fails fail with it and
	// count once. failedAt is when the step began.
	failures     int
	failedAt     time.Time
	blockedUntil time.Time
	// backoffReadAt is when the shared backoff of its account was last read
	backoffReadAt time.Time
	// refillAt is when the outbox may be read again after a read failed or found the destination held elsewhere
	refillAt time.Time
	inflight int
	// partials counts the uploads in flight that were not full batches (Settings.MaxPartialUploads)
	partials int
	wake     chan struct{}
}

// pooled keeps an idle connection for every upload that may run at once: net/http's default keeps 2 a host, so 8 of
// 10 concurrent uploads to one account dialled again, with a TLS handshake against CleverTap, each time. It also
// caps the connections a host at that number: an upload that starts while another's connection is on its way
// back to the pool would otherwise dial one more, which then stays.
func pooled(s Settings, destinations int) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = s.MaxConcurrentPerAccount * max(destinations, 1)
	t.MaxConnsPerHost = t.MaxIdleConnsPerHost
	t.MaxIdleConns = max(t.MaxIdleConns, t.MaxIdleConnsPerHost)
	return t
}

// New makes a dispatcher; Start runs it (a client without a Transport gets one that pools enough connections).
func New(s Settings, store outbox.Outbox, endpoints map[string]relay.Endpoint, client *http.Client, log *slog.Logger,
	observe Observer) *Dispatcher {
	s.Defaults()
	c := http.Client{}
	if client != nil {
		c = *client
	}
	if c.Transport == nil {
		c.Transport = pooled(s, len(endpoints))
	}
	// a redirect would carry the passcode (and, for attribution, the token in the query) to another host, and its
	// 200 would count as delivered: never follow one; request dead-letters it with its Location
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	d := &Dispatcher{settings: s, store: store, endpoints: endpoints, client: &c, log: log, observe: observe,
		queues: map[string]*queue{}, sems: map[string]chan struct{}{}}
	if sh, ok := store.(outbox.Shared); ok && sh.Shared() {
		d.shared = true
		d.backoffs, _ = store.(outbox.SharedBackoff)
	}
	return d
}

// Start settles the uploads an unclean stop left in doubt and runs a queue for every destination with jobs in
// the outbox, until ctx ends.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
	if err := d.recoverInDoubt(); err != nil {
		return err
	}
	pending := d.store.PendingByDestination()
	if total := d.store.PendingCount(); total > 0 {
		d.log.Info("resuming deliveries from the outbox", "jobs", total, "destinations", len(pending))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for name := range pending {
		q := d.queueLocked(name)
		q.backlog = true
		signal(q.wake)
	}
	if d.shared { // other replicas may accept jobs for any destination: every one is looked at
		for name := range d.endpoints {
			q := d.queueLocked(name)
			q.backlog = true
			signal(q.wake)
		}
	}
	return nil
}

// Wait blocks until the queues and the requests in flight have stopped (after ctx ended).
func (d *Dispatcher) Wait() { d.wg.Wait() }

// Enqueue hands stored jobs to their queues; a job that finds its window full stays on disk for a refill.
func (d *Dispatcher) Enqueue(jobs ...outbox.Job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var touched []*queue // a webhook's jobs go to one destination or two: a map per webhook cost more
	for _, j := range jobs {
		q := d.queueLocked(j.Destination)
		switch {
		case d.shared: // only the destination's lease holder sends it: read through Next
			q.backlog = true
		case q.held[j.ID]:
		case q.backlog || len(q.held) >= d.settings.Window:
			q.backlog = true
			q.spilled++
		default:
			q.jobs = append(q.jobs, j)
			q.held[j.ID] = true
		}
		if !slices.Contains(touched, q) {
			touched = append(touched, q)
		}
	}
	for _, q := range touched {
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
	q := &queue{name: name, endpoint: ep, protocol: protocolFor(ep.Kind), known: known, held: map[uint64]bool{},
		wake: make(chan struct{}, 1)}
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

// Depth is the number of jobs waiting or in flight per destination (every configured one, and any other the
// outbox still holds jobs for): the outbox's count, not the window's.
func (d *Dispatcher) Depth() map[string]int {
	out := d.store.PendingByDestination()
	for name := range d.endpoints {
		out[name] += 0
	}
	return out
}

// refill reads the next jobs of a destination from the outbox into its window.
func (d *Dispatcher) refill(q *queue) {
	d.mu.Lock()
	room, spilled := d.settings.Window-len(q.held), q.spilled
	held := maps.Clone(q.held)
	d.mu.Unlock()
	jobs, more, err := d.store.Next(q.name, func(id uint64) bool { return held[id] }, room)
	d.mu.Lock()
	defer d.mu.Unlock()
	q.refilling = false
	switch {
	case errors.Is(err, outbox.ErrLeased): // another replica delivers it now
		if len(q.jobs) > 0 { // read under a lease since lost: they are the holder's
			d.leaveLocked(q, nil)
		} else {
			pauseLocked(q, pollInterval)
		}
		return
	case errors.Is(err, outbox.ErrInDoubt):
		d.mu.Unlock()
		rerr := d.recoverInDoubt()
		d.mu.Lock()
		if rerr != nil {
			d.log.Error("settling uploads in doubt; trying again after a pause", "destination", q.name, "err", rerr)
			pauseLocked(q, d.settings.MinBackoff)
		}
		return
	case err != nil:
		d.log.Error("reading the outbox; trying again after a pause", "destination", q.name, "err", err)
		pauseLocked(q, d.settings.MinBackoff)
		return
	}
	for _, j := range jobs {
		if !q.held[j.ID] {
			q.jobs = append(q.jobs, j)
			q.held[j.ID] = true
		}
	}
	if !more && q.spilled == spilled {
		q.backlog = false
	}
}

// work is one destination's loop: keep the window filled, wait for jobs and the end of any backoff (after a
// failure, one request at a time until one succeeds), take a slot of the account, take a batch, send it in the
// background.
func (d *Dispatcher) work(ctx context.Context, q *queue, sem chan struct{}) {
	defer d.wg.Done()
	for {
		d.sharedBackoff(q)
		d.mu.Lock()
		wait, refillWait := time.Until(q.blockedUntil), time.Until(q.refillAt)
		// a window with jobs is kept filled during a backoff, but a failed read waits its turn (refillAt), and a
		// window whose room is all in flight is not read (it would find nothing to take): read again at once, the
		// queue would spin on the outbox
		refill := q.backlog && !q.refilling && len(q.jobs) < d.settings.Window/2 && len(q.held) < d.settings.Window &&
			refillWait <= 0 && (wait <= 0 || len(q.jobs) > 0)
		q.refilling = q.refilling || refill
		ready := len(q.jobs) > 0 && (q.failures == 0 || q.inflight == 0) &&
			(q.partials < d.settings.MaxPartialUploads || q.protocol.full(q.jobs, d.settings))
		idle := len(q.jobs) == 0 && !q.backlog
		backlog := q.backlog
		d.mu.Unlock()
		if refill {
			d.refill(q)
			continue
		}
		if !ready || wait > 0 {
			after := time.Duration(-1)
			switch {
			case ready, backlog && wait > 0: // a backoff, or a destination another replica holds
				after = wait
			case d.shared && idle: // look again for jobs other replicas accepted
				after = pollInterval
			}
			if backlog && refillWait > 0 && (after < 0 || refillWait < after) {
				after = refillWait
			}
			var fire <-chan time.Time
			var timer *time.Timer
			if after >= 0 {
				timer = time.NewTimer(after)
				fire = timer.C
			}
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
			case <-fire:
				if d.shared {
					d.mu.Lock()
					q.backlog = true
					d.mu.Unlock()
				}
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
	if len(q.jobs) == 0 || time.Now().Before(q.blockedUntil) || (q.failures > 0 && q.inflight > 0) {
		return nil
	}
	var batch []outbox.Job
	batch, q.jobs = q.protocol.take(q.jobs, d.settings)
	if len(q.jobs) == 0 {
		q.jobs = nil // let the backing array go
	}
	q.inflight += len(batch)
	if !q.protocol.full(batch, d.settings) {
		q.partials++
	}
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
		err := d.store.MarkSending(jobIDs(batch))
		if errors.Is(err, outbox.ErrLeased) { // another replica took the destination over: its jobs are its
			d.release(q, batch)
			return
		}
		if err != nil {
			// without the mark a crash during the upload could not be told apart: nothing is sent
			d.log.Error("outbox write failed before an upload; retrying later", "destination", q.name, "err", err)
			d.unsent(q, batch)
			return
		}
		start := time.Now()
		out = d.request(ctx, q, batch)
		d.observe.Request(q.name, out.label, time.Since(start))
		d.settle(q, batch, out, start)
		return
	}
	d.settle(q, batch, out, time.Now())
}

// settle records an outcome (of a request sent at started) in the outbox and the queue.
func (d *Dispatcher) settle(q *queue, batch []outbox.Job, out outcome, started time.Time) {
	// delivered jobs whose removal could not be written stay held (never sent again) while it is retried
	settled := map[uint64]bool{}
	if err := d.store.Done(out.done); err != nil {
		d.log.Error("could not mark delivered jobs done; holding them and trying again until the outbox takes it",
			"destination", q.name, "jobs", len(out.done), "err", err)
		done := out.done
		d.retryWrite(q, jobIDs(done), func() error { return d.store.Done(done) })
	} else {
		for _, j := range out.done {
			settled[j.ID] = true
		}
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
		d.log.Error("could not move jobs to the dead letters; holding them and trying again until the outbox "+
			"takes it", "destination", q.name, "jobs", len(out.dead), "err", err)
		dead := out.dead
		d.retryWrite(q, deadIDs(dead), func() error { return d.store.Kill(dead) })
	} else {
		for _, dl := range out.dead {
			settled[dl.ID] = true
		}
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
	d.landedLocked(q, batch)
	for id := range settled {
		delete(q.held, id)
	}
	switch {
	case len(out.retry) > 0 && (q.failures == 0 || started.After(q.failedAt)):
		// a new step: the first failure, or a request sent after the last step began (the probe) failed too
		q.failures++
		q.failedAt = time.Now()
		wait := d.backoff(q.failures)
		if until := q.failedAt.Add(wait); until.After(q.blockedUntil) {
			q.blockedUntil = until
		}
		if d.backoffs != nil { // the other replicas sending to this account wait too
			until := q.blockedUntil
			go func() { _ = d.backoffs.SetBackoff(q.endpoint.AccountKey(), until) }()
		}
		d.log.Warn("delivery failed; backing off", "destination", q.name, "records", len(out.retry), "consecutive_failures",
			q.failures, "wait", wait.String(), "err", out.err)
	case len(out.retry) > 0:
		// sent before the step began, together with the request that started it: the same failure
	case len(out.done) > 0:
		q.failures = 0
	}
	if len(again) > 0 {
		q.jobs = append(again, q.jobs...)
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
		return retryAll(batch, scrub(fmt.Sprintf("HTTP %d %s", resp.StatusCode, clip.Text(string(body), 300)),
			q.endpoint))
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return rejectAll(batch, resp.StatusCode, scrub(fmt.Sprintf("HTTP %d redirect to %q, not followed (it would "+
			"carry the credentials to another address): check the endpoint", resp.StatusCode,
			clip.Text(redact.URL(resp.Header.Get("Location")), 300)), q.endpoint))
	case resp.StatusCode >= 300:
		return rejectAll(batch, resp.StatusCode, scrub(fmt.Sprintf("HTTP %d %s", resp.StatusCode,
			clip.Text(string(body), 300)), q.endpoint))
	case readErr != nil:
		// The answer was cut: nothing says the records were processed, so they are sent again.
		return retryAll(batch, "answer cut short: "+readErr.Error())
	}
	return q.protocol.answer(batch, resp.StatusCode, body)
}

// scrub removes credentials from what is logged and kept in dead letters: the endpoint's own wherever they appear
// (attribution calls carry them in the query, an upstream may echo them), and any URL's userinfo and credential
// parameters (a redirect's Location may point anywhere).
func scrub(s string, ep relay.Endpoint) string {
	s = redact.Text(s)
	for _, secret := range []string{ep.Passcode, ep.Token} {
		if secret != "" {
			s = strings.ReplaceAll(s, url.QueryEscape(secret), "***")
			s = strings.ReplaceAll(s, secret, "***")
		}
	}
	return s
}

// sharedBackoff holds a queue of a shared outbox back while another replica's failure with the same account says
// to wait (read at most every pollInterval per queue).
func (d *Dispatcher) sharedBackoff(q *queue) {
	if d.backoffs == nil || !q.known {
		return
	}
	d.mu.Lock()
	due := time.Since(q.backoffReadAt) >= pollInterval
	if due {
		q.backoffReadAt = time.Now()
	}
	d.mu.Unlock()
	if !due {
		return
	}
	until, err := d.backoffs.Backoff(q.endpoint.AccountKey())
	if err != nil || until.IsZero() {
		return
	}
	d.mu.Lock()
	if until.After(q.blockedUntil) {
		q.blockedUntil = until
	}
	d.mu.Unlock()
}

// retryWrite tries an outbox write that failed (delivered jobs' removal, dead letters) again once the outbox
// takes it (a database back from an outage, a disk with room), then lets the jobs' ids go; until then they stay
// held, neither sent again nor left behind. The pauses stay short whatever CleverTap's backoff: on a shared outbox
// the jobs keep this replica's mark until the write lands, and the destination's holder waits on them.
func (d *Dispatcher) retryWrite(q *queue, held []uint64, write func() error) {
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for failures := 1; ; failures++ {
			select {
			case <-ctx.Done():
				return // stopping: after a restart they are in doubt, settled by after_crash
			case <-time.After(d.outboxPause(failures)):
			}
			if write() != nil {
				continue
			}
			d.mu.Lock()
			for _, id := range held {
				delete(q.held, id)
			}
			d.mu.Unlock()
			signal(q.wake)
			return
		}
	}()
}

// outboxPause is the wait before writing to the outbox again after failures: the backoff, capped at
// maxOutboxPause.
func (d *Dispatcher) outboxPause(failures int) time.Duration {
	return min(d.backoff(failures), maxOutboxPause)
}

// maxOutboxPause bounds the wait between tries of an outbox write: a database that comes back is used within
// seconds (CleverTap's backoff, up to max_backoff, is about CleverTap, not the database).
const maxOutboxPause = 5 * time.Second

// unsent puts a batch back at the front of its window after the outbox failed to record it as sending: it was
// not sent, so it is neither an attempt nor a CleverTap failure (no backoff shared with other replicas); the queue
// pauses briefly. Had the mark committed all the same, it is this replica's: the next try marks the jobs again,
// or, if the destination passed to another replica meanwhile, clears it (release).
func (d *Dispatcher) unsent(q *queue, batch []outbox.Job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.landedLocked(q, batch)
	q.jobs = append(slices.Clone(batch), q.jobs...)
	if until := time.Now().Add(d.outboxPause(1)); until.After(q.blockedUntil) {
		q.blockedUntil = until
	}
	signal(q.wake)
}

// release lets a batch go unsent after this replica lost the destination's lease: the jobs stay in the outbox
// for the replica that holds it, and this queue reads again later.
func (d *Dispatcher) release(q *queue, batch []outbox.Job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.landedLocked(q, batch)
	d.leaveLocked(q, batch)
}

// landedLocked counts a batch taken by take as no longer in flight.
func (d *Dispatcher) landedLocked(q *queue, batch []outbox.Job) {
	q.inflight -= len(batch)
	if !q.protocol.full(batch, d.settings) {
		q.partials--
	}
}

// pauseLocked holds a queue back, sending and reading alike, for a while: after a read that failed or found the
// destination held elsewhere.
func pauseLocked(q *queue, d time.Duration) {
	q.blockedUntil = time.Now().Add(d)
	q.refillAt = q.blockedUntil
}

// leaveLocked lets jobs not sent (a batch, and the rest of the window: all read under a lease since lost) go to
// the replica that holds the destination now, and pauses the queue before it reads again.
func (d *Dispatcher) leaveLocked(q *queue, batch []outbox.Job) {
	for _, j := range batch {
		delete(q.held, j.ID)
	}
	for _, j := range q.jobs {
		delete(q.held, j.ID)
	}
	ids := append(jobIDs(batch), jobIDs(q.jobs)...)
	q.jobs, q.backlog = nil, true
	pauseLocked(q, pollInterval)
	d.log.Info("another replica holds the destination now; leaving its jobs to it", "destination", q.name)
	// an earlier try may have left this replica's mark on some (its commit was in doubt): the holder would wait on
	// them, so they are cleared, again and again until the outbox takes it
	if u, ok := d.store.(outbox.Unmarker); ok {
		ctx := d.ctx
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			for failures := 1; u.Unmark(ids) != nil; failures++ {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d.outboxPause(failures)):
				}
			}
		}()
	}
}

func jobIDs(jobs []outbox.Job) []uint64 {
	out := make([]uint64, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func deadIDs(dead []outbox.DeadLetter) []uint64 {
	out := make([]uint64, len(dead))
	for i, d := range dead {
		out[i] = d.ID
	}
	return out
}
