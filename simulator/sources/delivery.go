// Package sources holds what the vendor emitters share: the webhook they produce and delivery with a vendor's
// success rule, timeout and retry schedule, waited on a lifecycle clock (so a virtual clock runs an 80-minute
// retry schedule in microseconds and tests can read the schedule off the attempts).
package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/internal/redact"
	"github.com/ctharness/ctharness/simulator/lifecycle"
)

// Webhook is one request a vendor sends.
type Webhook struct {
	Source    string `json:"source"`
	EventType string `json:"event_type"`
	// EventID is the vendor's idempotency key (RevenueCat event.id, Purchasely event_id).
	EventID string `json:"event_id"`
	// Method is POST unless the vendor sends a GET (AppsFlyer can).
	Method string `json:"method"`
	// Body is the raw body, or nil for a GET; Query is added to the URL.
	Body  []byte     `json:"-"`
	Query url.Values `json:"-"`
	// Header holds the headers that do not change between attempts.
	Header http.Header `json:"-"`
	// User is whose event it is, for reports.
	User string `json:"user"`
	// At is when the vendor sends it (the fact's time on the story clock).
	At time.Time `json:"at"`
}

// Policy is how a vendor delivers.
type Policy struct {
	// Success reports whether an HTTP status counts as delivered.
	Success func(status int) bool
	// Retries are the waits before each retry; len(Retries) retries after the first attempt.
	Retries []time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Sign, when set, adds per-attempt headers (a signature over the attempt's timestamp).
	Sign func(h http.Header, body []byte, now time.Time)
}

// Attempt is one try.
type Attempt struct {
	Number   int           `json:"number"`
	At       time.Time     `json:"at"`
	Status   int           `json:"status,omitempty"`
	Error    string        `json:"error,omitempty"`
	Response string        `json:"response,omitempty"`
	Took     time.Duration `json:"took"`
}

// Result is what delivery did.
type Result struct {
	Delivered bool      `json:"delivered"`
	Attempts  []Attempt `json:"attempts"`
}

// Deliverer sends webhooks over HTTP and waits between retries on a clock.
type Deliverer struct {
	Client *http.Client
	Clock  lifecycle.Clock
	// SignTime, when set, gives the time signatures carry instead of the clock's: a receiver checks a signature's
	// timestamp against its own wall clock, so a story told on a virtual clock signs with the real time.
	SignTime func() time.Time
}

// ErrNotDelivered is returned when every attempt failed.
var ErrNotDelivered = errors.New("not delivered")

// Deliver sends w to target until the policy's success rule holds or the retries run out.
func (d Deliverer) Deliver(ctx context.Context, target string, w Webhook, p Policy) (Result, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Result{},
			fmt.Errorf("target: expected an http(s) URL such as http://127.0.0.1:8080/webhooks/revenuecat, got %q", target)
	}
	if len(w.Query) > 0 {
		q := u.Query()
		for k, vs := range w.Query {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	client := noRedirects(d.Client)
	var res Result
	for n := 0; ; n++ {
		a := d.attempt(ctx, client, u.String(), w, p, n+1)
		res.Attempts = append(res.Attempts, a)
		if a.Error == "" && p.Success(a.Status) {
			res.Delivered = true
			return res, nil
		}
		if n >= len(p.Retries) || ctx.Err() != nil {
			last := a.Error
			if last == "" {
				last = fmt.Sprintf("HTTP %d", a.Status)
			}
			return res, fmt.Errorf("%w after %d attempt(s) to %s: last %s", ErrNotDelivered, len(res.Attempts),
				redact.URL(target), last)
		}
		if err := d.Clock.Advance(ctx, p.Retries[n]); err != nil {
			return res, err
		}
	}
}

func (d Deliverer) attempt(ctx context.Context, client *http.Client, target string, w Webhook, p Policy,
	n int) Attempt {
	now := d.Clock.Now()
	a := Attempt{Number: n, At: now}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var body io.Reader
	if w.Body != nil {
		body = bytes.NewReader(w.Body)
	}
	method := w.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	for k, vs := range w.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if p.Sign != nil {
		signAt := now
		if d.SignTime != nil {
			signAt = d.SignTime()
		}
		p.Sign(req.Header, w.Body, signAt)
	}
	start := time.Now()
	resp, err := client.Do(req)
	a.Took = time.Since(start)
	if err != nil {
		a.Error = redact.Text(err.Error())
		return a
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	a.Status, a.Response = resp.StatusCode, strings.TrimSpace(string(raw))
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		a.Error = fmt.Sprintf("HTTP %d redirect to %s, not followed: a webhook goes where it is sent, with its "+
			"credentials, and nowhere else", resp.StatusCode, clip.Text(redact.URL(loc), 300))
	}
	return a
}

// noRedirects is the client, or the default one, answering a redirect instead of following it: a redirect would
// carry the webhook's Authorization and signature to wherever it points.
func noRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	own := *c
	own.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &own
}
