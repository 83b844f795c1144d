// Package delivery sends the outbox's jobs: one queue per destination, batches of up to 1000 upload records
// (per account and region), a per-account cap on requests in flight below CleverTap's limit, and a per-destination
// capped exponential backoff with jitter after 5xx, 429, 408 and network errors, so the request rate during an
// outage follows the backoff. 4xx answers and records CleverTap refused one by one go to the dead letters with
// the code and text; records CleverTap processed are never sent again.
package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

// Settings tune delivery.
type Settings struct {
	// CleverTapEndpoint is the host template: https://{region}.api.clevertap.com in production,
	// http://127.0.0.1:8081/{region} against the simulator.
	CleverTapEndpoint string `yaml:"-"`
	// PianoEndpoint is the collect server template: https://{domain} in production.
	PianoEndpoint string `yaml:"-"`
	// MaxBatch is the most records per upload (CleverTap allows 1000).
	MaxBatch int `yaml:"max_batch"`
	// PianoMaxBatch is the most events per Piano request.
	PianoMaxBatch int `yaml:"piano_max_batch"`
	// MaxConcurrentPerAccount caps requests in flight per account (CleverTap refuses beyond 15).
	MaxConcurrentPerAccount int `yaml:"max_concurrent_per_account"`
	// MinBackoff and MaxBackoff bound the wait after a failed request; it doubles per consecutive failure.
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// MaxAttempts is how many failed tries a job gets before it goes to the dead letters.
	MaxAttempts int `yaml:"max_attempts"`
	// Timeout bounds one request.
	Timeout time.Duration `yaml:"timeout"`
	// AfterCrash is what happens to jobs that were in an upload when the relay stopped without shutting down
	// (kill -9, power loss): CleverTap may or may not have them, and its upload API has no idempotency key.
	// "hold" (default) moves them to the dead letters to be checked and retried, so nothing is sent twice;
	// "resend" sends them again, so nothing waits for a human but some may arrive twice.
	AfterCrash string `yaml:"after_crash"`
}

// After-crash policies.
const (
	AfterCrashHold   = "hold"
	AfterCrashResend = "resend"
)

// Defaults fills what is unset.
func (s *Settings) Defaults() {
	if s.MaxBatch == 0 {
		s.MaxBatch = 1000
	}
	if s.PianoMaxBatch == 0 {
		s.PianoMaxBatch = 50
	}
	if s.MaxConcurrentPerAccount == 0 {
		s.MaxConcurrentPerAccount = 10
	}
	if s.MinBackoff == 0 {
		s.MinBackoff = time.Second
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = 5 * time.Minute
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = 15
	}
	if s.Timeout == 0 {
		s.Timeout = 30 * time.Second
	}
	if s.AfterCrash == "" {
		s.AfterCrash = AfterCrashHold
	}
}

// Validate names the first wrong key under prefix.
func (s Settings) Validate(prefix string) error {
	switch {
	case s.MaxBatch < 1 || s.MaxBatch > 1000:
		return fmt.Errorf("%s.max_batch: expected 1 to 1000 (CleverTap's limit per upload), got %d", prefix, s.MaxBatch)
	case s.PianoMaxBatch < 1:
		return fmt.Errorf("%s.piano_max_batch: expected at least 1, got %d", prefix, s.PianoMaxBatch)
	case s.MaxConcurrentPerAccount < 1 || s.MaxConcurrentPerAccount > 15:
		return fmt.Errorf("%s.max_concurrent_per_account: expected 1 to 15 (CleverTap answers 429 beyond 15), got %d", prefix, s.MaxConcurrentPerAccount)
	case s.MinBackoff <= 0 || s.MaxBackoff < s.MinBackoff:
		return fmt.Errorf("%s.min_backoff/max_backoff: expected 0 < min_backoff ≤ max_backoff, got %s and %s", prefix, s.MinBackoff, s.MaxBackoff)
	case s.MaxAttempts < 1:
		return fmt.Errorf("%s.max_attempts: expected at least 1, got %d", prefix, s.MaxAttempts)
	case s.Timeout <= 0:
		return fmt.Errorf("%s.timeout: expected a positive duration, got %s", prefix, s.Timeout)
	case s.AfterCrash != AfterCrashHold && s.AfterCrash != AfterCrashResend:
		return fmt.Errorf("%s.after_crash: expected hold or resend, got %q", prefix, s.AfterCrash)
	}
	return nil
}

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
	known        bool
	jobs         []outbox.Job
	failures     int
	blockedUntil time.Time
	inflight     int
	wake         chan struct{}
}

// New makes a dispatcher; Start runs it.
func New(s Settings, store *outbox.Store, endpoints map[string]relay.Endpoint, client *http.Client, log *slog.Logger, observe Observer) *Dispatcher {
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
	inDoubt, err := d.store.InDoubt()
	if err != nil {
		return fmt.Errorf("reading the outbox: %w", err)
	}
	if len(inDoubt) > 0 {
		if pending, err = d.settleInDoubt(pending, inDoubt); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	if len(pending) > 0 {
		d.log.Info("resuming deliveries from the outbox", "jobs", len(pending))
	}
	d.Enqueue(pending...)
	return nil
}

// InDoubtReason is the dead letters' reason for jobs held after an unclean stop.
const InDoubtReason = "in flight when the relay stopped without shutting down (after_crash: hold): CleverTap may already have it; " +
	"check the account, then POST /admin/deadletters/{id}/retry if it is missing"

// settleInDoubt applies the after_crash policy to the jobs that were in an upload at an unclean stop and returns
// the jobs to send.
func (d *Dispatcher) settleInDoubt(pending []outbox.Job, inDoubt map[uint64]bool) ([]outbox.Job, error) {
	var rest []outbox.Job
	var held []outbox.DeadLetter
	var ids []uint64
	for _, j := range pending {
		if !inDoubt[j.ID] {
			rest = append(rest, j)
			continue
		}
		ids = append(ids, j.ID)
		if d.settings.AfterCrash == AfterCrashHold {
			held = append(held, outbox.DeadLetter{Job: j, Reason: InDoubtReason})
		} else {
			rest = append(rest, j)
		}
	}
	if d.settings.AfterCrash == AfterCrashHold {
		d.log.Warn("the last run stopped uncleanly during uploads; their records may or may not have reached CleverTap: held in the dead letters, not resent",
			"records", len(held), "after_crash", AfterCrashHold)
		return rest, d.store.Kill(held)
	}
	d.log.Warn("the last run stopped uncleanly during uploads; resending their records, some may arrive twice",
		"records", len(ids), "after_crash", AfterCrashResend)
	return rest, d.store.ClearSending(ids)
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
	q := &queue{name: name, endpoint: ep, known: known, wake: make(chan struct{}, 1)}
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

// take removes the next batch from the queue: up to MaxBatch upload records, one attribution call, or the Piano
// events of one visitor.
func (d *Dispatcher) take(q *queue) []outbox.Job {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(q.jobs) == 0 || time.Now().Before(q.blockedUntil) {
		return nil
	}
	var batch []outbox.Job
	switch q.endpoint.Kind {
	case relay.KindAttribution:
		batch = []outbox.Job{q.jobs[0]}
		q.jobs = q.jobs[1:]
	case relay.KindPiano:
		group := q.jobs[0].Group
		rest := q.jobs[:0:0]
		for _, j := range q.jobs {
			if j.Group == group && len(batch) < d.settings.PianoMaxBatch {
				batch = append(batch, j)
			} else {
				rest = append(rest, j)
			}
		}
		q.jobs = rest
	default:
		n := min(len(q.jobs), d.settings.MaxBatch)
		batch = append([]outbox.Job(nil), q.jobs[:n]...)
		q.jobs = q.jobs[n:]
	}
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
		out = rejectAll(batch, 0, fmt.Sprintf("destination %q is not configured (the config changed since the webhook was accepted)", q.name))
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
		out = d.request(ctx, q.endpoint, batch)
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
		d.log.Error("could not mark delivered jobs done; they will be sent again after a restart", "destination", q.name, "jobs", len(ids), "err", err)
	}
	var again []outbox.Job
	for _, j := range out.retry {
		j.Attempts++
		j.LastError = out.err
		if j.Attempts >= d.settings.MaxAttempts {
			out.dead = append(out.dead, outbox.DeadLetter{Job: j, Reason: fmt.Sprintf("gave up after %d attempts; last: %s", j.Attempts, out.err)})
			continue
		}
		again = append(again, j)
	}
	if err := d.store.Update(again); err != nil {
		d.log.Error("could not record the attempt count", "destination", q.name, "err", err)
	}
	if err := d.store.Kill(out.dead); err != nil {
		d.log.Error("could not move jobs to the dead letters; they stay pending", "destination", q.name, "jobs", len(out.dead), "err", err)
	}
	for _, dl := range out.dead {
		d.log.Warn("dead letter", "destination", q.name, "source", dl.Source, "event_id", dl.EventID, "event_type", dl.EventType, "status", dl.Status, "code", dl.Code, "reason", dl.Reason)
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
		d.log.Warn("delivery failed; backing off", "destination", q.name, "records", len(out.retry), "consecutive_failures", q.failures, "wait", wait.String(), "err", out.err)
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

// request sends one batch and classifies the answer.
func (d *Dispatcher) request(ctx context.Context, ep relay.Endpoint, batch []outbox.Job) outcome {
	req, err := d.build(ep, batch)
	if err != nil {
		return rejectAll(batch, 0, err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, d.settings.Timeout)
	defer cancel()
	resp, err := d.client.Do(req.WithContext(ctx))
	if err != nil {
		return retryAll(batch, "network: "+scrub(err.Error(), ep))
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		return retryAll(batch, fmt.Sprintf("HTTP %d %s", resp.StatusCode, shorten(body)))
	case resp.StatusCode >= 300:
		return rejectAll(batch, resp.StatusCode, fmt.Sprintf("HTTP %d %s", resp.StatusCode, shorten(body)))
	case readErr != nil:
		// The answer was cut: nothing says the records were processed, so they are sent again.
		return retryAll(batch, "answer cut short: "+readErr.Error())
	}
	if ep.Kind != relay.KindUpload {
		return outcome{done: batch, label: "success"}
	}
	return uploadOutcome(batch, resp.StatusCode, body)
}

// uploadAnswer is CleverTap's upload answer.
type uploadAnswer struct {
	Status      string `json:"status"`
	Processed   int    `json:"processed"`
	Unprocessed []struct {
		Code   int             `json:"code"`
		Error  string          `json:"error"`
		Record json.RawMessage `json:"record"`
	} `json:"unprocessed"`
}

// uploadOutcome reads success/partial/fail: refused records go to the dead letters with their code and text,
// matched to jobs by their canonical JSON; the others were processed.
func uploadOutcome(batch []outbox.Job, status int, body []byte) outcome {
	var a uploadAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.Status == "" {
		return retryAll(batch, fmt.Sprintf("HTTP %d with an unreadable answer %s", status, shorten(body)))
	}
	if a.Status == "success" && len(a.Unprocessed) == 0 {
		return outcome{done: batch, label: "success"}
	}
	byRecord := map[string][]int{}
	for i, j := range batch {
		k := canonical(j.Payload)
		byRecord[k] = append(byRecord[k], i)
	}
	refused := map[int]outbox.DeadLetter{}
	for _, u := range a.Unprocessed {
		k := canonical(u.Record)
		idx := byRecord[k]
		if len(idx) == 0 {
			continue
		}
		i := idx[0]
		byRecord[k] = idx[1:]
		refused[i] = outbox.DeadLetter{Job: batch[i], Status: status, Code: u.Code, Reason: u.Error}
	}
	out := outcome{label: "partial"}
	for i, j := range batch {
		if dl, ok := refused[i]; ok {
			out.dead = append(out.dead, dl)
		} else {
			out.done = append(out.done, j)
		}
	}
	return out
}

func canonical(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// build makes the request for a batch, adding the endpoint's credentials.
func (d *Dispatcher) build(ep relay.Endpoint, batch []outbox.Job) (*http.Request, error) {
	switch ep.Kind {
	case relay.KindUpload:
		req, err := http.NewRequest(http.MethodPost, CleverTapBase(d.settings.CleverTapEndpoint, ep.Region)+"/1/upload", envelope("d", batch))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("X-CleverTap-Account-Id", ep.AccountID)
		req.Header.Set("X-CleverTap-Passcode", ep.Passcode)
		return req, nil
	case relay.KindAttribution:
		var params map[string]string
		if err := json.Unmarshal(batch[0].Payload, &params); err != nil {
			return nil, fmt.Errorf("attribution parameters: %v", err)
		}
		q := url.Values{}
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			q.Set(k, params[k])
		}
		for k, v := range map[string]string{"account_id": ep.AccountID, "account_token": ep.Token, "account_passcode": ep.Passcode} {
			if v != "" {
				q.Set(k, v)
			}
		}
		return http.NewRequest(http.MethodGet, CleverTapBase(d.settings.CleverTapEndpoint, ep.Region)+"/attribution?"+q.Encode(), nil)
	case relay.KindPiano:
		target := strings.ReplaceAll(d.settings.PianoEndpoint, "{domain}", ep.Domain) + "/" + ep.Path +
			"?s=" + url.QueryEscape(ep.SiteID) + "&idclient=" + url.QueryEscape(batch[0].Group)
		req, err := http.NewRequest(http.MethodPost, target, envelope("events", batch))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "text/plain")
		return req, nil
	}
	return nil, fmt.Errorf("unknown delivery kind %q", ep.Kind)
}

// envelope is {"<key>":[payload,...]}: CleverTap's {"d":[...]} and Piano's {"events":[...]}.
func envelope(key string, batch []outbox.Job) *bytes.Buffer {
	var buf bytes.Buffer
	buf.WriteString(`{"` + key + `":[`)
	for i, j := range batch {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(j.Payload)
	}
	buf.WriteString("]}")
	return &buf
}

// CleverTapBase is the template with the region filled in.
func CleverTapBase(template, region string) string {
	return strings.TrimSuffix(strings.ReplaceAll(template, "{region}", region), "/")
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

func shorten(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
