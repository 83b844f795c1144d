package clevertap

import (
	"encoding/json"
	"sync"
	"time"

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

// RecordOutcome is one unprocessed record: its 0-based index, code and CleverTap's text.
type RecordOutcome struct {
	Index int    `json:"index"`
	Code  int    `json:"code"`
	Error string `json:"error"`
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
	Seq        uint64          `json:"seq"`
	RequestID  string          `json:"request_id"`
	ReceivedAt time.Time       `json:"received_at"`
	Method     string          `json:"method"`
	Host       string          `json:"host"`
	Path       string          `json:"path"`
	Query      string          `json:"query,omitempty"`
	Endpoint   string          `json:"endpoint"`
	Region     Region          `json:"region,omitempty"`
	Account    string          `json:"account,omitempty"`
	Outcome    Outcome         `json:"outcome"`
	Status     int             `json:"status"`
	Response   json.RawMessage `json:"response,omitempty"`
	Records    *RecordsSummary `json:"records,omitempty"`
	Diagnosis  []string        `json:"diagnosis,omitempty"`
	DryRun     bool            `json:"dry_run,omitempty"`
	Fault      string          `json:"fault,omitempty"`
	DurationMS float64         `json:"duration_ms"`
}

// maxJournaledResponse bounds the response body kept per entry; a fail answer for 1000 records echoes them all.
const maxJournaledResponse = 64 << 10

// journal is the bounded request log.
type journal struct {
	mu      sync.Mutex
	seq     uint64
	entries *ring.Ring[JournalEntry]
}

func newJournal(limit int) *journal { return &journal{entries: ring.New[JournalEntry](limit)} }

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
	j.mu.Unlock()
}

// JournalFilter selects journal entries; empty fields match everything.
type JournalFilter struct {
	Account string
	Outcome Outcome
	// SinceSeq keeps entries after it; Limit (0: all) bounds a page.
	SinceSeq uint64
	Limit    int
}

// find returns the matching entries, oldest first, and whether a page left some out.
func (j *journal) find(f JournalFilter) ([]JournalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []JournalEntry{}
	more := false
	j.entries.Each(func(e *JournalEntry) bool {
		if e.Seq > f.SinceSeq && (f.Account == "" || f.Account == e.Account) &&
			(f.Outcome == "" || f.Outcome == e.Outcome) {
			if f.Limit > 0 && len(out) == f.Limit {
				more = true
				return false
			}
			out = append(out, *e)
		}
		return true
	})
	return out, more
}

func (j *journal) reset() {
	j.mu.Lock()
	j.entries.Clear()
	j.mu.Unlock()
}
