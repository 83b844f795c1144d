package proxy

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"net/http"
	"sync"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// linter keeps what lint needs across exchanges: the uploads in flight per account, and the records seen lately
// (a bounded window), to flag one sent twice: CleverTap stores an event each time it arrives, so a resend after
// a timeout counts the purchase twice.
type linter struct {
	mu       sync.Mutex
	inflight map[string]int
	seen     map[uint64]string // record hash → where it was first seen
	order    []uint64
	seed     maphash.Seed
	accounts func() []clevertap.Account
}

// seenWindow is how many records the duplicate check remembers (about 3 MiB).
const seenWindow = 50_000

// defaultConcurrentUploads is CleverTap's documented limit of upload requests in flight per account.
const defaultConcurrentUploads = 15

func newLinter() *linter {
	return &linter{inflight: map[string]int{}, seen: map[uint64]string{}, seed: maphash.MakeSeed()}
}

// enter counts an upload in flight for its account until done is called.
func (l *linter) enter(r *http.Request) (done func()) {
	account := r.Header.Get("X-CleverTap-Account-Id")
	if r.Method != http.MethodPost || account == "" {
		return func() {}
	}
	l.mu.Lock()
	l.inflight[account]++
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		if l.inflight[account]--; l.inflight[account] <= 0 {
			delete(l.inflight, account)
		}
		l.mu.Unlock()
	}
}

func (l *linter) inFlight(r *http.Request) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight[r.Header.Get("X-CleverTap-Account-Id")]
}

// findings is the lint of one exchange.
func (l *linter) findings(c *Checked, ex *exchange) []Finding {
	var out []Finding
	add := func(rule string, index int, format string, args ...any) {
		if len(out) < maxFindings {
			// texts quote CleverTap's answers and the records: bounded, as every echo is
			out = append(out, Finding{Rule: rule, Index: index, Text: clip.Text(fmt.Sprintf(format, args...), 1024)})
		}
	}
	if ex.local != "" {
		add("upstream", -1, "%s", ex.local)
	}
	switch {
	case c.Records != nil:
		for _, u := range c.Records.Unprocessed {
			add("refused", u.Index, "CleverTap refused record %d inside an HTTP %d: code %d, %q", u.Index, c.Status,
				u.Code, u.Error)
		}
	case ex.local == "" && c.Status >= 400 && c.Status < 500:
		add("refused", -1, "CleverTap refused the whole request: %d %s", c.Status, errorText(c.Response))
	}
	if p := c.Predicted.Records; p != nil {
		for _, w := range p.Warnings {
			add("check", w.Index, "record %d: %s", w.Index, w.Warning)
		}
	}
	if ex.local == "" && c.Predicted.Status != 0 {
		for _, d := range c.Predicted.Diagnosis { // the fake's notes on the request: host, region, content type
			add("check", -1, "%s", d)
		}
	}
	if c.Endpoint == "upload" {
		if limit := l.limit(c); ex.inFlight > limit {
			add("concurrency", -1, "%d uploads in flight for account %s; CleverTap allows %d and answers 429 beyond",
				ex.inFlight, c.Account, limit)
		}
		l.duplicates(c, add)
	}
	return out
}

// maxFindings bounds the lint of one exchange.
const maxFindings = 200

// limit is the account's limit of uploads in flight in the proxy's view.
func (l *linter) limit(c *Checked) int {
	if l.accounts != nil {
		for _, a := range l.accounts() {
			if a.ID == c.Account && a.MaxConcurrentUploads > 0 {
				return a.MaxConcurrentUploads
			}
		}
	}
	return defaultConcurrentUploads
}

// duplicates flags records of this upload the proxy has forwarded before, for the same account: the same bytes,
// as a client that resends after a timeout sends them (a 64-bit keyed hash: a false match is about one in 10^10
// over the window).
func (l *linter) duplicates(c *Checked, add func(string, int, string, ...any)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, rec := range c.sent {
		var h maphash.Hash
		h.SetSeed(l.seed)
		h.WriteString(c.Account)
		h.WriteByte(0)
		h.Write(bytes.TrimSpace(rec))
		key := h.Sum64()
		if first, ok := l.seen[key]; ok {
			add("duplicate", i, "record %d was sent before (%s): CleverTap would store it twice", i, first)
			continue
		}
		l.seen[key] = fmt.Sprintf("record %d of the upload at %s", i, c.At.Format("15:04:05.000"))
		l.order = append(l.order, key)
		if len(l.order) > seenWindow {
			delete(l.seen, l.order[0])
			l.order = l.order[1:]
		}
	}
}
