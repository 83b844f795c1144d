package clevertap

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Outcome classifies a journaled request, for filtering with /_sim/requests?outcome=.
type Outcome string

const (
	OutcomeAccepted     Outcome = "accepted"     // every record processed
	OutcomePartial      Outcome = "partial"      // some records unprocessed
	OutcomeRejected     Outcome = "rejected"     // no record processed
	OutcomeUnauthorized Outcome = "unauthorized" // 401: unknown account, wrong passcode or wrong region
	OutcomeBadRequest   Outcome = "bad_request"  // 400, 405, 413: not an upload CleverTap would read
	OutcomeRateLimited  Outcome = "rate_limited" // 429: too many concurrent requests
	OutcomeFault        Outcome = "fault"        // answered by an injected fault
	OutcomeNotFound     Outcome = "not_found"    // no such route, or no such profile
	OutcomePending      Outcome = "pending"      // a read still in progress: a partial count, a page not ready
	// OutcomeClientGone is a request whose client hung up during an injected delay: no answer was written and
	// nothing was stored.
	OutcomeClientGone Outcome = "client_gone"
	// OutcomeUpstreamError is the lint proxy's: the real CleverTap answered 5xx, or could not be reached.
	OutcomeUpstreamError Outcome = "upstream_error"
)

// RecordOutcome is one unprocessed record: its 0-based index, code and CleverTap's text, and what the simulator
// makes of the code in plain words (the journal's, never CleverTap's response).
type RecordOutcome struct {
	Index     int    `json:"index"`
	Code      int    `json:"code"`
	Error     string `json:"error"`
	Diagnosis string `json:"diagnosis,omitempty"`
}

// RecordsSummary is what an upload did record by record.
type RecordsSummary struct {
	Total       int             `json:"total"`
	Processed   int             `json:"processed"`
	Unprocessed []RecordOutcome `json:"unprocessed"`
	Warnings    []RecordWarning `json:"warnings,omitempty"`
}

// JournalEntry is one request to a CleverTap route, whatever its outcome. Credentials are never recorded.
type JournalEntry struct {
	// Seq numbers entries in arrival order (paging: ?since=seq).
	Seq        uint64    `json:"seq"`
	RequestID  string    `json:"request_id"`
	ReceivedAt time.Time `json:"received_at"`
	Method     string    `json:"method"`
	Host       string    `json:"host"`
	Path       string    `json:"path"`
	Query      string    `json:"query,omitempty"`
	// RequestHeaders are the request's headers, credentials redacted; RequestBody its body, the first 16 KiB.
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
	RequestBody    string            `json:"request_body,omitempty"`
	Endpoint       string            `json:"endpoint"`
	Region         Region            `json:"region,omitempty"`
	Account        string            `json:"account,omitempty"`
	Outcome        Outcome           `json:"outcome"`
	Status         int               `json:"status"`
	Response       json.RawMessage   `json:"response,omitempty"`
	Records        *RecordsSummary   `json:"records,omitempty"`
	Diagnosis      []string          `json:"diagnosis,omitempty"`
	DryRun         bool              `json:"dry_run,omitempty"`
	Fault          string            `json:"fault,omitempty"`
	DurationMS     float64           `json:"duration_ms"`
	// Proxied marks an exchange the lint proxy forwarded: the answer is the real CleverTap's. Drift is how the
	// fake's answer to it compared, when not "agree" (too_lenient, too_strict, different, shape, not_compared).
	Proxied bool   `json:"proxied,omitempty"`
	Drift   string `json:"drift,omitempty"`
}

// JournalFilter selects journal entries; empty fields match everything.
type JournalFilter struct {
	Account  string
	Outcome  Outcome
	Region   Region
	Endpoint string
	// Text keeps entries whose path, query, diagnosis or request body contains it.
	Text string
	// SinceSeq keeps entries after it, BeforeSeq (when set) entries before it; Limit (0: all) bounds a page.
	SinceSeq, BeforeSeq uint64
	Limit               int
	// Newest puts the newest first (the inspector's order); the default is oldest first.
	Newest bool
}

// Matches says whether an entry passes the filter's fields (not its paging).
func (f JournalFilter) Matches(e *JournalEntry) bool {
	return (f.Account == "" || f.Account == e.Account) && (f.Outcome == "" || f.Outcome == e.Outcome) &&
		(f.Region == "" || f.Region == e.Region) && (f.Endpoint == "" || f.Endpoint == e.Endpoint) &&
		(f.Text == "" || e.contains(f.Text))
}

func (e *JournalEntry) contains(text string) bool {
	if strings.Contains(e.Path, text) || strings.Contains(e.Query, text) || strings.Contains(e.RequestBody, text) {
		return true
	}
	return slices.ContainsFunc(e.Diagnosis, func(d string) bool { return strings.Contains(d, text) })
}

var outcomes = []Outcome{OutcomeAccepted, OutcomePartial, OutcomeRejected, OutcomeUnauthorized, OutcomeBadRequest,
	OutcomeRateLimited, OutcomeFault, OutcomeNotFound, OutcomePending, OutcomeClientGone, OutcomeUpstreamError}

// Outcomes are the journal's outcomes, in the order the README lists them.
func Outcomes() []Outcome { return slices.Clone(outcomes) }

// ParseJournalFilter reads a journal filter's fields from a query (account, outcome, region, endpoint, q) as
// /_sim/requests and the live stream take them, checking each value; paging is each route's own.
func ParseJournalFilter(q url.Values) (JournalFilter, error) {
	f := JournalFilter{Account: q.Get("account"), Outcome: Outcome(q.Get("outcome")), Endpoint: q.Get("endpoint"),
		Text: q.Get("q")}
	if f.Outcome != "" && !slices.Contains(outcomes, f.Outcome) {
		names := make([]string, len(outcomes))
		for i, o := range outcomes {
			names[i] = string(o)
		}
		return f, fmt.Errorf("outcome: expected one of %s, got %q", strings.Join(names, ", "), f.Outcome)
	}
	if f.Endpoint != "" && f.Endpoint != "unknown" && !slices.Contains(endpoints, f.Endpoint) {
		return f, fmt.Errorf("endpoint: expected one of %s, got %q", strings.Join(endpoints, ", "), f.Endpoint)
	}
	if region := q.Get("region"); region != "" {
		rg, err := ParseRegion(region)
		if err != nil {
			return f, err
		}
		f.Region = rg
	}
	return f, nil
}

// WaitRequest is the body of POST /_sim/wait: block until Count matching records exist.
type WaitRequest struct {
	Account   string     `json:"account,omitempty"`
	Region    Region     `json:"region,omitempty"`
	Name      string     `json:"name,omitempty"`
	Identity  string     `json:"identity,omitempty"`
	ObjectID  string     `json:"objectId,omitempty"`
	Type      RecordType `json:"type,omitempty"`
	Count     int        `json:"count"`
	TimeoutMS int        `json:"timeout_ms,omitempty"`
}
