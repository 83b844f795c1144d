package fake

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap/fake/store"
)

// A cursor (https://developer.clevertap.com/docs/get-events-api) names one page of a result fixed when the first call
// came: the records of the range as they were then, so paging never skips or repeats one while uploads go on. Every
// page's next_cursor is a new opaque token; asking for the same token again gives the same page, so a client may retry.

// readResult is what one first call matched, read page by page.
type readResult struct {
	account string
	// byProfile: a Get User Profiles result (profile IDs), else Get Events (events)
	byProfile bool
	events    []store.Match
	profile   []int64
	batch     int
	flags     recordFlags
	loc       *time.Location
	created   time.Time
	used      time.Time
	// notReady counts down the page requests still answered "in progress".
	notReady int
	// tokens are the cursors issued for this result, by page offset.
	tokens map[int]string
}

func (r *readResult) size() int {
	if r.byProfile {
		return len(r.profile)
	}
	return len(r.events)
}

// cursorAt is where a cursor points.
type cursorAt struct {
	result *readResult
	offset int
}

// cursorBook holds the live results and their cursors, bounded: beyond maxResults results, or maxHeld records
// across them, the oldest result goes (its cursors then answer as expired ones do).
type cursorBook struct {
	mu      sync.Mutex
	tokens  map[string]cursorAt
	results []*readResult
	held    int
	maxHeld int
	ttl     time.Duration
	idle    time.Duration
}

const (
	maxResults = 1000
	// maxHeldRecords bounds the memory of open results: about 200 bytes a record, 60 MB in all
	maxHeldRecords = 300_000
)

func newCursorBook(ttl, idle time.Duration) *cursorBook {
	return &cursorBook{tokens: map[string]cursorAt{}, ttl: ttl, idle: idle, maxHeld: maxHeldRecords}
}

// open keeps a new result and returns the cursor of its first page.
func (b *cursorBook) open(r *readResult) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweep(r.created)
	for len(b.results) > 0 && (len(b.results) >= maxResults || b.held+r.size() > b.maxHeld) {
		b.drop(b.results[0])
	}
	r.used = r.created
	r.tokens = map[int]string{}
	b.results = append(b.results, r)
	b.held += r.size()
	return b.issue(r, 0)
}

// issue returns the cursor of the page at offset, the same one each time it is asked.
func (b *cursorBook) issue(r *readResult, offset int) string {
	if t, ok := r.tokens[offset]; ok {
		return t
	}
	raw := make([]byte, 49) // ends in "==", "%3D%3D" once encoded, as in CleverTap's sample
	_, _ = rand.Read(raw)
	t := base64.StdEncoding.EncodeToString(raw)
	r.tokens[offset] = t
	b.tokens[t] = cursorAt{result: r, offset: offset}
	return t
}

// cursorProblem says why a cursor names no page.
type cursorProblem string

const (
	cursorOK      cursorProblem = ""
	cursorUnknown cursorProblem = "unknown"
	cursorExpired cursorProblem = "expired"
)

// page finds the page a cursor names and the cursor of the page after it ("" on the last page).
func (b *cursorBook) page(token, account string, now time.Time) (at cursorAt, next string, problem cursorProblem) {
	b.mu.Lock()
	defer b.mu.Unlock()
	at, ok := b.tokens[token]
	if !ok || at.result.account != account {
		return cursorAt{}, "", cursorUnknown
	}
	if b.expired(at.result, now) {
		b.drop(at.result)
		return cursorAt{}, "", cursorExpired
	}
	at.result.used = now
	if at.offset < at.result.size() { // the page after the last records is the end: {"status":"success"} alone
		next = b.issue(at.result, min(at.offset+at.result.batch, at.result.size()))
	}
	return at, next, cursorOK
}

// notReady says whether a page request of this result is still answered "in progress", counting it down.
func (b *cursorBook) notReady(r *readResult) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.notReady == 0 {
		return false
	}
	r.notReady--
	return true
}

func (b *cursorBook) expired(r *readResult, now time.Time) bool {
	return now.Sub(r.created) > b.ttl || now.Sub(r.used) > b.idle
}

func (b *cursorBook) sweep(now time.Time) {
	for _, r := range append([]*readResult(nil), b.results...) {
		if b.expired(r, now) {
			b.drop(r)
		}
	}
}

func (b *cursorBook) drop(r *readResult) {
	for _, t := range r.tokens {
		delete(b.tokens, t)
	}
	for i, kept := range b.results {
		if kept == r {
			b.results = append(b.results[:i], b.results[i+1:]...)
			b.held -= r.size()
			break
		}
	}
}

func (b *cursorBook) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = map[string]cursorAt{}
	b.results = nil
	b.held = 0
}

// encodeCursor is a cursor as CleverTap sends it: percent-encoded, for clients to append to the URL verbatim.
func encodeCursor(token string) string { return url.QueryEscape(token) }

// cursorHint explains, for the journal, why a cursor sent names nothing.
func cursorHint(sent string, problem cursorProblem) string {
	switch {
	case problem == cursorExpired:
		return "the cursor has expired (CursorTTL after the first call, CursorIdleTTL unused); start again with " +
			"the first call"
	case strings.Contains(sent, "%"):
		return "the cursor was percent-encoded twice: CleverTap sends it encoded already, append it to ?cursor= " +
			"as it came"
	case strings.Contains(sent, " "):
		return "the cursor has a space where CleverTap's had a '+': it was decoded before it was sent; append it " +
			"to ?cursor= as it came"
	}
	return "no such cursor for this account (never issued here, or issued to another account)"
}
