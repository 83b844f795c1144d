package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/httpjson"
	"github.com/ctharness/ctharness/internal/jsonenc"
	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

// answer is the JSON body of every webhook answer; vendors only look at the status, people read the rest.
type answer struct {
	Status  string   `json:"status"`
	EventID string   `json:"event_id,omitempty"`
	Records int      `json:"records,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// handleWebhook is one source's intake: size limit, content type, credentials, mapping, durable store, then 200.
func (s *Service) handleWebhook(src relay.Source) http.HandlerFunc {
	name := src.Name()
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.received.Add(1)
		outcome, status, a := s.admit(src, webhook{method: r.Method, header: r.Header, length: r.ContentLength,
			body: r.Body, rawQuery: r.URL.RawQuery})
		s.noteWebhook(r.Context(), name, outcome, status, a, remoteAddr(r.RemoteAddr), start)
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", retryAfter)
		}
		if s.crowded() { // kept-alive connections must not hold every place while other senders wait
			w.Header().Set("Connection", "close")
		}
		httpjson.WriteEncoded(w, status, a.appendJSON(make([]byte, 0, 160)))
	}
}

// webhook is what the intake reads of a request, whichever server read it (net/http in tests, fasthttp when
// served: Server).
type webhook struct {
	method   string
	header   http.Header
	length   int64 // as announced; -1 when not (chunked)
	body     io.ReadCloser
	rawQuery string
}

// remoteAddr is net/http's RemoteAddr as the fmt.Stringer fasthttp's net.Addr is: it is only formatted when a
// refusal is logged.
type remoteAddr string

func (a remoteAddr) String() string { return string(a) }

// noteWebhook counts a webhook's outcome in the metrics and logs a refusal.
func (s *Service) noteWebhook(ctx context.Context, source, outcome string, status int, a answer, remote fmt.Stringer,
	start time.Time) {
	s.metrics.Received(source, outcome, time.Since(start))
	switch {
	case outcome == "busy" || outcome == "over_budget":
		// shed load is counted in the metrics; a line per refusal would flood the log when it matters
	case status != http.StatusOK:
		s.log.Warn("webhook refused", "source", source, "status", status, "outcome", outcome, "error", a.Error,
			"remote", remote)
	case s.log.Enabled(ctx, slog.LevelDebug): // the arguments alone cost allocations per webhook
		s.log.Debug("webhook", "source", source, "outcome", outcome, "event_id", a.EventID, "records", a.Records,
			"reason", a.Reason)
	}
}

// appendJSON writes a as encoding/json does, without its reflection: every webhook is answered.
func (a answer) appendJSON(b []byte) []byte {
	b = jsonenc.AppendString(append(b, `{"status":`...), a.Status)
	if a.EventID != "" {
		b = jsonenc.AppendString(append(b, `,"event_id":`...), a.EventID)
	}
	if a.Records != 0 {
		b = strconv.AppendInt(append(b, `,"records":`...), int64(a.Records), 10)
	}
	if a.Reason != "" {
		b = jsonenc.AppendString(append(b, `,"reason":`...), a.Reason)
	}
	if len(a.Notes) > 0 {
		b = append(b, `,"notes":[`...)
		for i, n := range a.Notes {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, n)
		}
		b = append(b, ']')
	}
	if a.Error != "" {
		b = jsonenc.AppendString(append(b, `,"error":`...), a.Error)
	}
	return append(b, '}')
}

// admit takes a place among the webhooks in flight, refuses what can be refused before the body is read, then
// takes the webhook in.
func (s *Service) admit(src relay.Source, r webhook) (string, int, answer) {
	select {
	case s.inFlight <- struct{}{}:
		defer func() { <-s.inFlight }()
	default:
		return "busy", http.StatusServiceUnavailable, answer{Status: "error", Error: fmt.Sprintf(
			"the relay is handling its limit of %d webhooks (intake.max_in_flight); retry later", cap(s.inFlight))}
	}
	if outcome, status, a := s.beforeBody(src, r.header, r.length); outcome != "" {
		return outcome, status, a
	}
	return s.intake(src, r)
}

// beforeBody does what costs nothing before the body is read: the outbox's budget, the credentials that travel in
// headers, the length the request announces. A stranger or an overload never gets the relay to read a body (nor
// to ask for it with "100 Continue"). An empty outcome lets the webhook on.
func (s *Service) beforeBody(src relay.Source, h http.Header, length int64) (string, int, answer) {
	if n, budget := s.store.PendingCount(), s.built.Intake.MaxPendingJobs; n >= budget {
		return "over_budget", http.StatusServiceUnavailable, answer{Status: "error", Error: fmt.Sprintf(
			"the outbox holds %d jobs waiting for delivery, its budget (intake.max_pending_jobs): delivery is behind; "+
				"retry later", n)}
	}
	if hv, ok := src.(relay.HeaderVerifier); ok {
		if err := hv.VerifyHeader(h); err != nil {
			return "unauthorized", statusOf(err), answer{Status: "error", Error: err.Error()}
		}
	}
	if limit := s.built.Intake.MaxBodyBytes; length > limit {
		return "too_large", http.StatusRequestEntityTooLarge, answer{Status: "error",
			Error: fmt.Sprintf("body larger than %d bytes (intake.max_body_bytes): its Content-Length says %d", limit,
				length)}
	}
	return "", 0, answer{}
}

func (s *Service) intake(src relay.Source, r webhook) (string, int, answer) {
	limit := s.built.Intake.MaxBodyBytes
	body, err := readBody(r, limit)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "too_large", http.StatusRequestEntityTooLarge, answer{Status: "error",
				Error: fmt.Sprintf("body larger than %d bytes (intake.max_body_bytes)", limit)}
		}
		return "bad_request", http.StatusBadRequest, answer{Status: "error", Error: "could not read the body: " + err.Error()}
	}
	if r.method == http.MethodPost {
		if err := checkContentType(r.header.Get("Content-Type")); err != nil {
			return "bad_request", http.StatusUnsupportedMediaType, answer{Status: "error", Error: err.Error()}
		}
	}
	req := relay.Request{Method: r.method, Header: r.header, Body: body, Now: s.now()}
	if r.rawQuery != "" { // vendors post without one; reading a nil Values finds nothing, as an empty one does
		req.Query, _ = url.ParseQuery(r.rawQuery) // what parses, as net/http's URL.Query() keeps it
	}
	if err := src.Verify(req); err != nil {
		return "unauthorized", statusOf(err), answer{Status: "error", Error: err.Error()}
	}
	if r.method == http.MethodPost {
		g := guards.Get().(*jsonGuard)
		defer guards.Put(g)
		doc, err := g.check(body)
		if err != nil {
			return "bad_request", http.StatusBadRequest, answer{Status: "error", Error: err.Error()}
		}
		req.Doc = doc
	}
	mapped, err := src.Map(req)
	var skip *relay.Skip
	switch {
	case errors.As(err, &skip):
		return "skipped", http.StatusOK, answer{Status: "skipped", EventID: mapped.EventID, Reason: skip.Reason,
			Notes: mapped.Notes}
	case err != nil:
		return "bad_request", statusOf(err), answer{Status: "error", Error: err.Error()}
	}
	jobs := make([]outbox.Job, len(mapped.Messages))
	for i, m := range mapped.Messages {
		jobs[i] = outbox.Job{Source: mapped.Source, EventID: mapped.EventID, EventType: mapped.EventType, Message: m}
	}
	duplicate, err := s.store.Accept(mapped.Source, mapped.EventID, jobs)
	if err != nil {
		s.noteStoreError(err)
		s.log.Error("outbox write failed; answering 503 so the vendor retries", "source", mapped.Source, "err", err)
		return "unavailable", http.StatusServiceUnavailable, answer{Status: "error", Error: fmt.Sprintf("%v: %v; retry later",
			errStore, err)}
	}
	s.noteStoreError(nil)
	if duplicate {
		return "duplicate", http.StatusOK, answer{Status: "duplicate", EventID: mapped.EventID,
			Reason: "event id already accepted; not sent again"}
	}
	s.dispatcher.Enqueue(jobs...)
	return "accepted", http.StatusOK, answer{Status: "accepted", EventID: mapped.EventID, Records: len(jobs),
		Notes: mapped.Notes}
}

// readBody reads the body up to limit, in one allocation when its length is announced (vendors announce it).
func readBody(r webhook, limit int64) ([]byte, error) {
	// closed once read: net/http then knows the handler is done with it and does not read it again for the next
	// request (it did, finding nothing, with two allocations, for every webhook)
	defer r.body.Close()
	body := http.MaxBytesReader(nil, r.body, limit)
	if n := r.length; n > 0 && n <= limit {
		b := make([]byte, n)
		if _, err := io.ReadFull(body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(body)
}

// checkContentType accepts JSON (and no content type, as some senders omit it).
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return fmt.Errorf("expected Content-Type application/json, got %q", ct)
}

func statusOf(err error) int {
	var e *relay.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusBadRequest
}
