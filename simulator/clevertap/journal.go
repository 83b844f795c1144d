package clevertap

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/internal/broadcast"
	"github.com/ctharness/ctharness/internal/ring"
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
}

// maxJournaledResponse bounds the response body kept per entry; a fail answer for 1000 records echoes them all.
// maxJournaledRequest bounds the request body kept (the refused records are in the response anyway).
const (
	maxJournaledResponse = 64 << 10
	maxJournaledRequest  = 16 << 10
)

// journal is the bounded request log.
type journal struct {
	mu      sync.Mutex
	seq     uint64
	entries *ring.Ring[JournalEntry]
	// feed hands each entry to the live streams (the inspector, simulator tail)
	feed *broadcast.Broadcaster[JournalEntry]
}

// maxStreams bounds the live streams of the journal.
const maxStreams = 64

func newJournal(limit int) *journal {
	return &journal{entries: ring.New[JournalEntry](limit), feed: broadcast.New[JournalEntry](maxStreams)}
}

func (j *journal) add(e JournalEntry) {
	if len(e.Response) > maxJournaledResponse || !json.Valid(e.Response) {
		note, _ := json.Marshal(map[string]any{"truncated_or_not_json": true, "bytes": len(e.Response),
			"start": string(e.Response[:min(len(e.Response), 512)])})
		if len(e.Response) > 0 {
			e.Response = note
		}
	}
	j.mu.Lock()
	j.seq++
	e.Seq = j.seq
	j.entries.Push(e)
	j.feed.Publish(e) // under the lock: streams get entries in seq order
	j.mu.Unlock()
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

// find returns a page of the matching entries, and whether it left some out.
func (j *journal) find(f JournalFilter) ([]JournalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []JournalEntry{}
	more := false
	keep := func(e *JournalEntry) bool {
		if e.Seq <= f.SinceSeq || f.BeforeSeq > 0 && e.Seq >= f.BeforeSeq || !f.Matches(e) {
			return true
		}
		if f.Limit > 0 && len(out) == f.Limit {
			more = true
			return false
		}
		out = append(out, *e)
		return true
	}
	if f.Newest {
		j.entries.EachNewest(keep)
	} else {
		j.entries.Each(keep)
	}
	return out, more
}

// subscribe is a live stream of the entries journaled from now on (nil when the streams are at their limit).
func (j *journal) subscribe(buffer int) (<-chan JournalEntry, func(), bool) {
	return j.feed.Subscribe(buffer)
}

func (j *journal) reset() {
	j.mu.Lock()
	j.entries.Clear()
	j.mu.Unlock()
}
