package fake

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ctharness/ctharness/simulator/clevertap/fake/store"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// The read API's downloads (https://developer.clevertap.com/docs/get-events-api,
// https://developer.clevertap.com/docs/get-user-profiles-api): Get Events and Get User Profiles. A first call (POST
// ?batch_size=N with the query, or the legacy GET ?query=) fixes the result and answers a cursor; GET ?cursor= (POST
// too, as some clients do) answers one page and the next cursor, until there is none.

const (
	defaultBatchSize = 10   // clevertap-node's default; the server's is UNCONFIRMED
	maxBatchSize     = 5000 // "The maximum is 5000" (developer.clevertap.com/docs/get-events-api)
	maxQueryBytes    = 1 << 20

	textIncorrectUsage   = "Incorrect Usage"
	textNotReady         = "Request still in progress, please retry later"
	textInvalidBatchSize = "Invalid batch_size. It should be an integer between 1 and 5000"
)

// clevertap.CodeNotReady is the code of a page that is not ready yet, as CleverTap's example client checks it.

func (s *Server) handleGetEvents(w http.ResponseWriter, r *http.Request, c *call) {
	s.handleDownload(w, r, c, false)
}

func (s *Server) handleGetProfiles(w http.ResponseWriter, r *http.Request, c *call) {
	s.handleDownload(w, r, c, true)
}

func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request, c *call, byProfile bool) {
	acct, release, ok := s.admitRead(w, r, c)
	if !ok {
		return
	}
	defer release()
	q := r.URL.Query()
	if q.Has("cursor") {
		s.servePage(w, c, acct, q.Get("cursor"))
		return
	}
	body, ok := s.queryBody(w, r, c)
	if !ok {
		return
	}
	asked, err := batchSize(q, c)
	if err != nil {
		s.readFail(w, c, err)
		return
	}
	batch := s.pageSize(asked)
	if batch != asked {
		c.diagnose("batch_size %d: pages of %d records, as CleverTap's come (multiples of %d; PageMultiple)", asked,
			batch, s.opts.PageMultiple)
	}
	query, err := s.readQuery(acct, body)
	if err != nil {
		s.readFail(w, c, err)
		return
	}
	matched := s.store.MatchEvents(acct.ID, query)
	result := &readResult{account: acct.ID, byProfile: byProfile, events: matched, batch: batch,
		flags: parseRecordFlags(q, c), loc: acct.Location(), created: s.opts.Now(),
		notReady: s.opts.CursorNotReadyPolls}
	if byProfile {
		result.events, result.profile = nil, store.DistinctProfiles(matched)
	}
	c.diagnose("%s: %d record(s), at most %d a page", query.Describe(), result.size(), batch)
	token := s.cursors.open(result)
	s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, fmt.Appendf(nil, `{"status":"success","cursor":%q}`,
		encodeCursor(token)))
}

// pageSize is the records a page holds for a batch_size: a multiple of PageMultiple (live pages hold 4,991 records
// for 5000, 23 × 217), SmallBatchPage under it, as asked when PageMultiple is 1.
func (s *Server) pageSize(batch int) int {
	m := s.opts.PageMultiple
	switch {
	case m <= 1:
		return batch
	case batch < m:
		return s.opts.SmallBatchPage
	}
	return batch / m * m
}

// servePage answers one page of a cursor as live chains come: status, next_cursor (percent-encoded) and the
// records; after the last records, one more page {"status":"success"} with neither (a client that reads records
// on every page breaks on it). No previous_cursor: CleverTap's docs show one, live pages carry none.
func (s *Server) servePage(w http.ResponseWriter, c *call, acct *clevertap.Account, token string) {
	at, next, problem := s.cursors.page(token, acct.ID, s.opts.Now())
	if problem != cursorOK {
		c.diagnose("%s", cursorHint(token, problem))
		s.readFail(w, c, badCursor("cursor %s", problem))
		return
	}
	if s.cursors.notReady(at.result) {
		c.diagnose("the page is not ready yet (CursorNotReadyPolls): retry the same cursor")
		s.finish(w, c, clevertap.OutcomePending, http.StatusOK, envelope(clevertap.CodeNotReady, textNotReady))
		return
	}
	res := at.result
	end := min(at.offset+res.batch, res.size())
	var records []any
	if res.byProfile {
		ids := res.profile[at.offset:end]
		profiles := s.store.ProfilesByID(ids)
		for _, id := range ids {
			if p, ok := profiles[id]; ok {
				records = append(records, s.profileRecord(p, res.flags))
			}
		}
	} else {
		events := res.events[at.offset:end]
		ids := make([]int64, len(events))
		for i, e := range events {
			ids[i] = e.ProfileID
		}
		profiles := s.store.ProfilesByID(ids)
		for _, e := range events {
			var p *clevertap.Profile
			if found, ok := profiles[e.ProfileID]; ok {
				p = &found
			}
			records = append(records, s.eventRecord(e, p, res.flags, res.loc))
		}
	}
	if at.offset >= res.size() {
		c.diagnose("the end of the %d record(s): no records, no next_cursor", res.size())
	} else {
		c.diagnose("records %d to %d of %d", at.offset+1, at.offset+len(records), res.size())
	}
	body := []byte(`{"status":"success"`)
	if next != "" {
		body = fmt.Appendf(body, `,"next_cursor":%q`, encodeCursor(next))
	}
	if len(records) > 0 {
		list, _ := json.Marshal(records)
		body = append(append(body, `,"records":`...), list...)
	}
	s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, append(body, '}'))
}

// admitRead lets a read request past its credentials, the faults and the account's read concurrency limit.
func (s *Server) admitRead(w http.ResponseWriter, r *http.Request, c *call) (*clevertap.Account, func(), bool) {
	acct, ok := s.admit(w, r, c)
	if !ok {
		return nil, nil, false
	}
	release, free := acquireSlot(&s.readsInFlight, acct.ID, s.opts.MaxConcurrentReads)
	if !free {
		c.diagnose("account %s already has %d read requests in flight, CleverTap's limit", acct.ID,
			s.opts.MaxConcurrentReads)
		s.fail(w, c, clevertap.OutcomeRateLimited, http.StatusTooManyRequests, textTooManyConcurrent)
		return nil, nil, false
	}
	s.pause(r, c, release)
	ct := r.Header.Get("Content-Type")
	switch {
	case r.Method == http.MethodGet && ct != "":
		c.diagnose("Content-Type on a GET: CleverTap's docs say not to send one")
	case r.Method == http.MethodPost && !strings.HasPrefix(strings.ToLower(ct), "application/json"):
		c.diagnose("Content-Type is %q; CleverTap's POST requests require application/json", ct)
	}
	return acct, release, true
}

// acquireSlot counts a request in flight for an account, up to limit.
func acquireSlot(inFlight *sync.Map, account string, limit int) (release func(), ok bool) {
	v, _ := inFlight.LoadOrStore(account, new(atomic.Int32))
	counter := v.(*atomic.Int32)
	if counter.Add(1) > int32(limit) {
		counter.Add(-1)
		return nil, false
	}
	return func() { counter.Add(-1) }, true
}

// queryBody is the query of a first call: the POST body, or the legacy GET ?query= that CleverTap's own clients
// still send.
func (s *Server) queryBody(w http.ResponseWriter, r *http.Request, c *call) ([]byte, bool) {
	if r.Method == http.MethodGet {
		if q := r.URL.Query(); q.Has("query") {
			c.diagnose("the legacy first call GET ?query= (CleverTap's own clients send it; today's docs POST the " +
				"query)")
			return []byte(q.Get("query")), true
		}
		c.diagnose("a GET needs ?cursor= (a page) or ?query= (the legacy first call); the first call is a POST " +
			"of the query")
		s.readFail(w, c, badQuery(textIncorrectUsage, "GET without cursor or query"))
		return nil, false
	}
	if r.ContentLength > maxQueryBytes {
		c.diagnose("a query of %d bytes; the simulator reads at most %d", r.ContentLength, maxQueryBytes)
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusRequestEntityTooLarge,
			fmt.Sprintf(textBodyTooLarge, maxQueryBytes))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxQueryBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			c.diagnose("a query larger than %d bytes", maxQueryBytes)
			s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusRequestEntityTooLarge, fmt.Sprintf(textBodyTooLarge,
				maxQueryBytes))
			return nil, false
		}
		c.diagnose("reading the body failed: %v", err)
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMalformed)
		return nil, false
	}
	c.keepBody(body)
	return body, true
}

// batchSize reads ?batch_size=: default 10, at most 5000 (more is taken as 5000, as clients that ask 50000 get
// pages all the same).
func batchSize(q url.Values, c *call) (int, *readError) {
	if !q.Has("batch_size") {
		c.diagnose("no batch_size: pages of %d", defaultBatchSize)
		return defaultBatchSize, nil
	}
	n, err := strconv.Atoi(q.Get("batch_size"))
	if err != nil || n < 1 {
		return 0, badQuery(textInvalidBatchSize, "batch_size is %q; expected an integer from 1 to %d",
			q.Get("batch_size"), maxBatchSize)
	}
	if n > maxBatchSize {
		c.diagnose("batch_size %d is over CleverTap's maximum; pages of %d", n, maxBatchSize)
		n = maxBatchSize
	}
	return n, nil
}

// readQuery parses a query body and checks its event exists in the account.
func (s *Server) readQuery(acct *clevertap.Account, body []byte) (*store.Query, *readError) {
	q, err := parseReadQuery(body, acct.Location())
	if err != nil {
		return nil, err
	}
	if !s.store.HasEvent(acct.ID, q.EventName) {
		return nil, badQuery(fmt.Sprintf(textInvalidEvent, q.EventName), "account %s has no event %q: none was "+
			"uploaded and it is not a system event (names are case-sensitive)", acct.ID, q.EventName)
	}
	return q, nil
}

// readFail answers a read error in CleverTap's envelope, as HTTP 200 unless ReadErrorsWithHTTPStatus.
func (s *Server) readFail(w http.ResponseWriter, c *call, err *readError) {
	c.diagnose("%s", err.diagnosis)
	status := http.StatusOK
	if s.opts.ReadErrorsWithHTTPStatus {
		status = cmp.Or(err.status, err.code)
	}
	s.finish(w, c, clevertap.OutcomeBadRequest, status, envelope(err.code, err.text))
}
