// Package proxy is the lint proxy: a server an integration uses as its CleverTap base URL, which forwards every
// request to the real CleverTap byte for byte and brings the real answer back byte for byte, and meanwhile checks
// the exchange with the fake's own judgement (fake.Server.Check): records CleverTap refused inside an HTTP 200,
// what CleverTap never says (lint), and where the fake's answer would have differed from the real one (drift).
// Every exchange goes to the journal the inspector and `simulator tail` read, to a report, and optionally to a
// capture file that `simulator replay` plays against the fake offline.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/internal/redact"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// DefaultUpstream is the real CleverTap: the region's host.
const DefaultUpstream = "https://{region}.api.clevertap.com"

// Options configure a Proxy.
type Options struct {
	// Upstream is the real API's base URL with {region} where the region goes (default DefaultUpstream).
	Upstream string
	// Transport reaches the upstream (default: a transport with the timeouts below and the system's roots).
	Transport http.RoundTripper
	// Timeout bounds one upstream exchange, from sending to the end of the answer (default 60 s).
	Timeout time.Duration
	// MaxBodyBytes is the largest request body forwarded (default 16 MiB; beyond, 413 without forwarding) and
	// MaxAnswerBytes the largest answer read whole for the checks (default 64 MiB; beyond, the rest is passed on
	// unread and the exchange is not compared).
	MaxBodyBytes, MaxAnswerBytes int64
	// View is the fake whose checks judge the traffic, whose journal and inspector show it. Its accounts are the
	// proxy's view of CleverTap; with LearnAccounts an account the upstream answers for is added as first seen.
	View          *simulator.Simulator
	LearnAccounts bool
	// Capture receives one JSON line per exchange (nil: none); Pseudonymise replaces identities, emails and phone
	// numbers in it by keyed hashes, the same value always giving the same pseudonym within one key.
	Capture      io.Writer
	Pseudonymise []byte
	// Logger receives one line per exchange at debug level, failures at warn; nil discards.
	Logger *slog.Logger
}

// Proxy is the lint proxy; it is an http.Handler.
type Proxy struct {
	opts   Options
	view   *simulator.Simulator
	report *reporter
	lint   *linter

	// judging happens after the caller has its answer, in arrival order, on one goroutine: queue holds what
	// waits, budget bounds its bytes (a full queue holds the next caller back rather than grow)
	queue          chan *exchange
	budget         *semaphore.Weighted
	queued, judged atomic.Uint64
	active         atomic.Int64 // exchanges being forwarded: Close waits for them
	closeMu        sync.RWMutex
	closed         bool
	done           chan struct{}
}

// queueBytes bounds the bodies of the exchanges waiting to be judged.
const queueBytes = 256 << 20

// New checks the options and builds the proxy.
func New(opts Options) (*Proxy, error) {
	if opts.Upstream == "" {
		opts.Upstream = DefaultUpstream
	}
	if err := checkUpstream(opts.Upstream); err != nil {
		return nil, err
	}
	if opts.View == nil {
		return nil, errors.New("proxy: a View (the fake that judges the traffic) is required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 16 << 20
	}
	if opts.MaxAnswerBytes <= 0 {
		opts.MaxAnswerBytes = 64 << 20
	}
	if opts.Transport == nil {
		opts.Transport = NewTransport(nil, opts.Timeout)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{opts: opts, view: opts.View, report: newReporter(), lint: newLinter(),
		queue: make(chan *exchange, 4096), budget: semaphore.NewWeighted(queueBytes), done: make(chan struct{})}
	p.lint.accounts = opts.View.CleverTap.Accounts
	go p.judgeAll()
	return p, nil
}

// Close waits (up to 10 s) for the exchanges being forwarded, judges what waits and stops judging; the report is
// then complete. Exchanges answered after it are passed on but not judged.
func (p *Proxy) Close() {
	for deadline := time.Now().Add(10 * time.Second); p.active.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	p.closeMu.Lock()
	if !p.closed {
		p.closed = true
		close(p.queue)
	}
	p.closeMu.Unlock()
	<-p.done
}

// ReportPath is where the proxy's summary answers, beside the fake's admin API.
const ReportPath = "/_sim/proxy/report"

// ServeHTTP answers the report and the view's admin API and inspector under /_sim/; everything else is forwarded.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == ReportPath {
		if p.view.Admit(w, r) {
			p.serveReport(w, r)
		}
		return
	}
	if r.URL.Path == "/_sim" || strings.HasPrefix(r.URL.Path, "/_sim/") {
		p.view.ServeHTTP(w, r)
		return
	}
	p.forward(w, r)
}

// Report is the summary of every exchange answered so far (it waits, up to 10 s, for those still being judged).
func (p *Proxy) Report() Report {
	p.settle(10 * time.Second)
	return p.report.snapshot()
}

// settle waits until the exchanges queued when it was called have been judged, or the timeout.
func (p *Proxy) settle(timeout time.Duration) {
	want := p.queued.Load()
	deadline := time.Now().Add(timeout)
	for p.judged.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// reserve counts an exchange as queued before its caller has the answer, so that a report asked for after the
// answer waits for its judgement; enqueue then hands it to the judge.
func (p *Proxy) reserve() { p.queued.Add(1) }

func (p *Proxy) enqueue(ex *exchange) {
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	weight := min(int64(len(ex.body)+len(ex.answer))+1, queueBytes)
	if p.closed || p.budget.Acquire(context.Background(), weight) != nil {
		p.judged.Add(1) // not judged: the proxy is closing
		return
	}
	ex.weight = weight
	p.queue <- ex
}

func (p *Proxy) judgeAll() {
	defer close(p.done)
	for ex := range p.queue {
		p.judge(ex)
		p.budget.Release(ex.weight)
		p.judged.Add(1)
	}
}

// forward is one exchange: read the request, send it upstream unchanged, pass the answer back unchanged, then
// judge it (after the caller has its answer, so the checks add no latency to it beyond reading).
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	p.active.Add(1)
	defer p.active.Add(-1)
	start := time.Now()
	// judged after the handler returns: a copy the server will not touch again
	ex := &exchange{received: start.UTC(), request: r.Clone(context.Background())}
	if r.ContentLength > p.opts.MaxBodyBytes {
		p.refuse(w, ex, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body's %d bytes are over the proxy's "+
			"limit of %d (--max-body-bytes): not forwarded", r.ContentLength, p.opts.MaxBodyBytes))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, p.opts.MaxBodyBytes))
	if err != nil {
		status, why := http.StatusBadRequest, fmt.Sprintf("reading the request body failed: %v: not forwarded", err)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			status, why = http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over the proxy's limit of %d "+
				"bytes (--max-body-bytes): not forwarded", p.opts.MaxBodyBytes)
		}
		p.refuse(w, ex, status, why)
		return
	}
	ex.body = body
	done := p.lint.enter(r)
	defer done()
	ex.inFlight = p.lint.inFlight(r)
	up, err := p.send(r, body)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, errUpstreamTimeout) {
			status = http.StatusGatewayTimeout
		}
		p.refuse(w, ex, status, err.Error())
		return
	}
	ex.status, ex.header, ex.answer, ex.whole = up.status, up.header, up.body, up.whole
	p.reserve()
	copyHeader(w.Header(), up.header)
	w.WriteHeader(up.status)
	_, _ = w.Write(up.body)
	if up.rest != nil {
		_, _ = io.Copy(w, up.rest)
		up.rest.Close()
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // the answer goes now, not when the handler returns
	}
	ex.duration = time.Since(start)
	p.enqueue(ex)
}

// refuse answers a request the proxy did not (or could not) forward: CleverTap's error envelope with the status,
// the reason in X-Simulator-Diagnosis (never in the body, which a client may parse as CleverTap's).
func (p *Proxy) refuse(w http.ResponseWriter, ex *exchange, status int, why string) {
	body := fmt.Appendf(nil, `{"status":"fail","error":%q,"code":%d}`, http.StatusText(status), status)
	p.reserve()
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("X-Simulator-Diagnosis", clip.Header([]string{"proxy: " + why}))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	ex.status, ex.answer, ex.whole, ex.local = status, body, true, why
	ex.duration = time.Since(ex.received)
	p.opts.Logger.Warn("not forwarded", "method", ex.request.Method, "path", clip.Text(ex.request.URL.Path, 200),
		"status", status, "why", redact.Text(why))
	p.enqueue(ex)
}

// judge checks an exchange, journals it, counts it in the report and writes it to the capture.
func (p *Proxy) judge(ex *exchange) {
	p.learn(ex)
	c := p.check(ex)
	p.report.add(c)
	entry := c.journalEntry()
	p.view.CleverTap.Record(entry)
	p.opts.Logger.Debug("exchange", "method", entry.Method, "path", entry.Path, "status", entry.Status,
		"outcome", entry.Outcome, "drift", c.Drift.Kind, "lint", len(c.Lint))
	if p.opts.Capture != nil {
		line, err := c.captureLine(p.opts.Pseudonymise)
		if err == nil {
			_, err = p.opts.Capture.Write(line) // one judge goroutine: lines whole, in arrival order
		}
		if err != nil {
			p.opts.Logger.Warn("writing the capture failed", "err", err)
			p.report.captureFailed(err)
		}
	}
}

// learn adds an account the upstream answered for (anything but 401) to the view, with the passcode it was given,
// so that the prediction judges its records rather than its credentials.
func (p *Proxy) learn(ex *exchange) {
	if !p.opts.LearnAccounts || ex.local != "" || ex.status == http.StatusUnauthorized {
		return
	}
	id, pass := ex.request.Header.Get("X-CleverTap-Account-Id"), ex.request.Header.Get("X-CleverTap-Passcode")
	region, ok := fake.RegionOf(ex.request.Host, ex.request.URL.Path)
	if id == "" || pass == "" || !ok {
		return
	}
	for _, a := range p.view.CleverTap.Accounts() {
		if a.ID != id {
			continue
		}
		if a.Region != region || a.AcceptsPasscode(pass) {
			return // an account lives in one region: the check says so if it is asked elsewhere
		}
		a.Passcodes = append(a.Passcodes, pass)
		_ = p.view.CleverTap.PutAccount(a)
		return
	}
	_ = p.view.CleverTap.PutAccount(clevertap.Account{ID: id, Region: region, Passcodes: []string{pass}})
}

// exchange is one request and the answer it got, as the proxy saw them.
type exchange struct {
	received time.Time
	request  *http.Request
	body     []byte
	status   int
	header   http.Header
	answer   []byte
	// whole: the answer was read whole (not over MaxAnswerBytes); local: the proxy answered, saying why.
	whole    bool
	local    string
	inFlight int
	duration time.Duration
	weight   int64
}

// hopByHop are the headers of one connection, not of the message (RFC 9110 section 7.6.1).
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding",
	"Upgrade", "Proxy-Authorization", "Proxy-Authenticate"}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	for _, h := range hopByHop {
		dst.Del(h)
	}
}

// HTTPServer is the proxy's server: the simulator's timeouts and limits, a write deadline past the upstream's.
func (p *Proxy) HTTPServer() *http.Server {
	srv := p.view.HTTPServer()
	srv.Handler = p
	srv.WriteTimeout = p.opts.Timeout + 30*time.Second
	return srv
}

// Listener caps the open connections and refuses request smuggling, as the simulator's does.
func (p *Proxy) Listener(ln net.Listener) net.Listener { return p.view.Listener(ln) }
