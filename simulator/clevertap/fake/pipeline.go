package fake

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/internal/redact"
	"github.com/ctharness/ctharness/simulator/clevertap/fake/store"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// The request pipeline: one CleverTap request through the fake reads top to bottom here, from the route to the
// answer. An upload: handleAPI (route → region, endpoint) → handleUpload (credentials → faults → concurrency →
// body → validate) → finish (journal → store → answer: the journal first, so whoever sees the records can read
// the request that brought them).

// handleAPI is where every CleverTap request starts: the route gives the region (host or path prefix) and the
// endpoint; the endpoint's handler goes on from there.
func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	c := s.newCall(r, true)
	api, refused := s.route(r, c)
	if refused != nil {
		if refused.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", strings.Join(api.methods, ", "))
		}
		s.fail(w, c, refused.outcome, refused.status, refused.text)
		return
	}
	api.handle(s, w, r, c)
}

// refusal is a whole-request answer in CleverTap's error envelope; the call carries the diagnosis.
type refusal struct {
	outcome clevertap.Outcome
	status  int
	text    string
}

// route finds the request's region and endpoint and notes them on the call; a host or path CleverTap does not
// serve, or a method the endpoint does not take, is refused.
func (s *Server) route(r *http.Request, c *call) (apiRoute, *refusal) {
	rt := resolveRoute(r.Host, r.URL.Path)
	api, known := apiRouteFor(rt.path)
	c.entry.Region, c.entry.Endpoint = rt.region, api.endpoint
	if !known {
		c.entry.Endpoint = "unknown"
	}
	if rt.note != "" {
		c.diagnose("%s", rt.note)
	}
	switch {
	case rt.unknownHost != "":
		c.diagnose("host %s names no CleverTap region; expected api.clevertap.com or <region>.api.clevertap.com "+
			"with region one of %s", rt.unknownHost, clevertap.RegionList())
		return api, &refusal{clevertap.OutcomeNotFound, http.StatusNotFound, textNotFound}
	case !known:
		c.diagnose("no CleverTap endpoint %s %s; the simulator serves %s, each optionally below /<region>/",
			r.Method, rt.path, routeList())
		return api, &refusal{clevertap.OutcomeNotFound, http.StatusNotFound, textNotFound}
	case !slices.Contains(api.methods, r.Method):
		c.diagnose("method %s not allowed on %s; expected %s", r.Method, rt.path, strings.Join(api.methods, " or "))
		return api, &refusal{clevertap.OutcomeBadRequest, http.StatusMethodNotAllowed, textMethodNotAllowed}
	}
	return api, nil
}

// Check says what the fake would answer to a request with this body, and why, without storing, journaling or
// counting it: the route, the credentials and, for an upload, every record. It is the judgement the upload
// pipeline makes (the same functions), without what is state rather than judgement: injected faults, the
// concurrency limits, and the read side's cursors and counts, whose answers depend on what the fake holds (the
// entry then says so in its diagnosis and has no status).
func (s *Server) Check(r *http.Request, body []byte) clevertap.JournalEntry {
	c := s.newCall(r, false)
	c.keepBody(body)
	answer := func(outcome clevertap.Outcome, status int, response []byte) clevertap.JournalEntry {
		c.entry.Outcome, c.entry.Status, c.entry.Response = outcome, status, response
		return c.entry
	}
	api, refused := s.route(r, c)
	if refused == nil && api.endpoint == "upload" {
		acct, authErr := s.authenticate(c, r)
		if acct == nil {
			refused = &refusal{clevertap.OutcomeUnauthorized, http.StatusUnauthorized, authErr}
		} else if int64(len(body)) > s.opts.MaxBodyBytes {
			refused = s.tooLarge(c, int64(len(body)))
		} else {
			judged, refusedBody := s.judgeUpload(r, c, acct, body)
			if refusedBody != nil {
				refused = refusedBody
			} else {
				return answer(judged.outcome, http.StatusOK, judged.response)
			}
		}
	}
	if refused != nil {
		return answer(refused.outcome, refused.status, envelope(refused.status, refused.text))
	}
	c.diagnose("the %s endpoint is not judged without the fake's state; only the route was checked", api.endpoint)
	return c.entry
}

func (s *Server) uploadLimits() uploadLimits {
	return uploadLimits{
		maxRecords: s.opts.MaxRecords, maxTokenRecords: s.opts.MaxTokenRecords,
		tokenLimitInMixed: s.opts.TokenLimitInMixedUploads,
		maxTimestamp:      s.opts.MaxTimestamp, requireEvtData: s.opts.RequireEvtData,
	}
}

// handleUpload is POST /1/upload, top to bottom: region (from the route) and credentials, injected faults, the
// account's concurrency slot, the body, the judgement (judgeUpload, which Check shares), store (unless
// dryRun=1), then the journal and the answer (finish).
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, c *call) {
	acct, ok := s.admit(w, r, c)
	if !ok {
		return
	}
	release, free := s.acquireUploadSlot(acct)
	if !free {
		c.diagnose("account %s already has its limit of upload requests in flight", acct.ID)
		s.fail(w, c, clevertap.OutcomeRateLimited, http.StatusTooManyRequests, textTooManyConcurrent)
		return
	}
	defer release()
	if r.ContentLength > s.opts.MaxBodyBytes { // refused unread, before any "100 Continue"
		refused := s.tooLarge(c, r.ContentLength)
		s.fail(w, c, refused.outcome, refused.status, refused.text)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			refused := s.tooLarge(c, -1)
			s.fail(w, c, refused.outcome, refused.status, refused.text)
			return
		}
		c.diagnose("reading the body failed: %v", err)
		s.fail(w, c, clevertap.OutcomeBadRequest, http.StatusBadRequest, textMalformed)
		return
	}
	c.keepBody(body)
	// the delay comes after the body is read: only then does the server notice a client that hangs up
	s.pause(r, c, nil)
	judged, refused := s.judgeUpload(r, c, acct, body)
	if refused != nil {
		s.fail(w, c, refused.outcome, refused.status, refused.text)
		return
	}
	c.entry.DryRun = r.URL.Query().Get("dryRun") == "1"
	if !c.entry.DryRun {
		c.store = func() {
			s.store.Add(store.Batch{Account: acct.ID, Region: acct.Region, RequestID: c.entry.RequestID,
				At: c.entry.ReceivedAt, Records: judged.batch.accepted})
		}
	} else {
		c.diagnose("dryRun=1: validated, nothing stored")
	}
	s.finish(w, c, judged.outcome, http.StatusOK, judged.response)
}

// tooLarge refuses a body over the limit; size is its length, or -1 when only reading it found out.
func (s *Server) tooLarge(c *call, size int64) *refusal {
	if size >= 0 {
		c.diagnose("Content-Length %d is larger than the limit of %d bytes", size, s.opts.MaxBodyBytes)
	} else {
		c.diagnose("body larger than the limit of %d bytes", s.opts.MaxBodyBytes)
	}
	return &refusal{clevertap.OutcomeBadRequest, http.StatusRequestEntityTooLarge,
		fmt.Sprintf(textBodyTooLarge, s.opts.MaxBodyBytes)}
}

// judgedUpload is CleverTap's answer to an upload it read: the outcome, the response body and the batch to store.
type judgedUpload struct {
	outcome  clevertap.Outcome
	response []byte
	batch    *uploadBatch
}

// judgeUpload is the fake's judgement of an upload body from an admitted account: the whole request refused, or
// each record accepted or refused with CleverTap's code, the journal's per-record summary and diagnoses noted on
// the call. It has no side effect beyond the call: the pipeline and Check both use it.
func (s *Server) judgeUpload(r *http.Request, c *call, acct *clevertap.Account, body []byte) (*judgedUpload,
	*refusal) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		c.diagnose("Content-Type is %q; CleverTap documents application/json", ct)
	}
	batch, reqErr := validateUpload(body, acct, s.uploadLimits())
	if reqErr != nil {
		c.diagnose("%s", reqErr.diagnosis)
		return nil, &refusal{clevertap.OutcomeBadRequest, reqErr.status, reqErr.text}
	}
	summary := &clevertap.RecordsSummary{Total: batch.total, Processed: len(batch.accepted),
		Unprocessed: []clevertap.RecordOutcome{}, Warnings: batch.warnings}
	for _, rej := range batch.rejected {
		summary.Unprocessed = append(summary.Unprocessed, clevertap.RecordOutcome{Index: rej.index, Code: rej.code,
			Error: clevertap.RecordErrorText(rej.code, rej.index), Diagnosis: refusalDiagnosis[rej.code]})
	}
	c.entry.Records = summary
	outcome := clevertap.OutcomeAccepted
	switch {
	case len(batch.rejected) == 0:
	case len(batch.accepted) == 0:
		outcome = clevertap.OutcomeRejected
	default:
		outcome = clevertap.OutcomePartial
	}
	for i, warning := range batch.warnings {
		if i == maxDiagnosedWarnings {
			c.diagnose("%d more warning(s) in records.warnings of /_sim/requests", len(batch.warnings)-i)
			break
		}
		c.diagnose("record %d: %s", warning.Index+1, warning.Warning)
	}
	return &judgedUpload{outcome: outcome, response: appendUploadResponse(make([]byte, 0, 64), batch), batch: batch},
		nil
}

// maxDiagnosedWarnings is how many record warnings the X-Simulator-Diagnosis header spells out.
const maxDiagnosedWarnings = 3

// call is one request to a CleverTap route on its way through the fake: what the journal will say of it.
type call struct {
	entry clevertap.JournalEntry
	start time.Time
	fault *clevertap.Fault
	// store keeps what the request brought; finish runs it once the journal has the request, so whoever sees the
	// records (a /_sim/wait) can read the request that brought them.
	store func()
}

// newCall starts a call's journal entry; counted gives it the next request id (Check's calls are not counted).
func (s *Server) newCall(r *http.Request, counted bool) *call {
	now := s.opts.Now()
	id := ""
	if counted {
		id = "sim-" + strconv.FormatUint(s.requests.Add(1), 10)
	}
	return &call{
		start: time.Now(),
		entry: clevertap.JournalEntry{
			RequestID: id, ReceivedAt: now.UTC(), Method: r.Method, Host: clip.Text(r.Host, 256),
			Path: clip.Text(r.URL.Path, maxJournaled), Query: clip.Text(redact.Query(r.URL.Query()), maxJournaled),
			Account:        clip.Text(r.Header.Get("X-CleverTap-Account-Id"), 256),
			RequestHeaders: clippedHeaders(redact.Headers(r.Header)),
		},
	}
}

// diagnose notes what the fake makes of the request, bounded (clip.Note).
func (c *call) diagnose(format string, args ...any) {
	c.entry.Diagnosis = clip.Note(c.entry.Diagnosis, fmt.Sprintf(format, args...))
}

// What one journal entry keeps at most: record warnings, and the bytes of the path, the query and each header.
const (
	maxWarnings   = 200
	maxJournaled  = 2 << 10
	maxHeaderKept = 1 << 10
)

// admit lets a request past its credentials (CleverTap's 401 otherwise) and the injected faults; it reports
// whether the request goes on.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, c *call) (*clevertap.Account, bool) {
	acct, authErr := s.authenticate(c, r)
	if acct == nil {
		s.fail(w, c, clevertap.OutcomeUnauthorized, http.StatusUnauthorized, authErr)
		return nil, false
	}
	return acct, !s.applyFault(w, r, c)
}

// authenticate checks the two CleverTap headers against the account book and the region the request went to.
// Every failure is CleverTap's 401; what went wrong is said in the diagnosis only.
func (s *Server) authenticate(c *call, r *http.Request) (*clevertap.Account, string) {
	id := r.Header.Get("X-CleverTap-Account-Id")
	passcode := r.Header.Get("X-CleverTap-Passcode")
	if id == "" {
		c.diagnose("missing header X-CleverTap-Account-Id: expected the account id, e.g. SIM-EU1-0001")
		return nil, textAccountInvalid
	}
	acct, ok := s.accounts.get(id)
	if !ok {
		c.diagnose("no account %q in the simulator; accounts in %s: %s", id, c.entry.Region,
			s.accountIDsIn(c.entry.Region))
		return nil, textAccountInvalid
	}
	if acct.Region != c.entry.Region {
		c.diagnose("account %s lives in %s; this request went to %s (use https://%s or the /%s/ path prefix)",
			acct.ID, acct.Region, c.entry.Region, acct.Region.Host(), acct.Region)
		return nil, textAccountInvalid
	}
	if passcode == "" {
		c.diagnose("missing header X-CleverTap-Passcode for account %s", acct.ID)
		return nil, s.opts.WrongPasscodeError
	}
	if !acct.AcceptsPasscode(passcode) {
		c.diagnose("wrong X-CleverTap-Passcode for account %s (%d passcode(s) configured; the value sent is not "+
			"one of them)", acct.ID, len(acct.Passcodes))
		return nil, s.opts.WrongPasscodeError
	}
	return acct, ""
}

func (s *Server) accountIDsIn(r clevertap.Region) string {
	var ids []string
	for _, a := range s.accounts.list() {
		if a.Region == r {
			ids = append(ids, a.ID)
		}
	}
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// acquireUploadSlot enforces CleverTap's concurrent-request limit per account.
func (s *Server) acquireUploadSlot(acct *clevertap.Account) (release func(), ok bool) {
	limit := s.opts.MaxConcurrentUploads
	if acct.MaxConcurrentUploads > 0 {
		limit = acct.MaxConcurrentUploads
	}
	return acquireSlot(&s.uploadsInFlight, acct.ID, limit)
}

// finish writes the real response (or the fault that replaces it after processing), adds the simulator's
// headers, and journals the call.
func (s *Server) finish(w http.ResponseWriter, c *call, outcome clevertap.Outcome, status int, body []byte) {
	h := w.Header()
	h.Set("X-Simulator-Request-Id", c.entry.RequestID)
	if len(c.entry.Diagnosis) > 0 {
		h.Set("X-Simulator-Diagnosis", clip.Header(c.entry.Diagnosis))
	}
	c.entry.Outcome, c.entry.Status, c.entry.Response = outcome, status, body
	broken := s.faultAfterProcessing(c, status)
	s.record(c)
	if c.store != nil {
		c.store()
	}
	switch {
	case broken == nil:
		writeAnswer(w, status, body)
	case broken.Action == clevertap.FaultReset:
		resetConnection(w)
	default:
		writeMalformed(w)
	}
}

func (s *Server) record(c *call) {
	c.entry.DurationMS = float64(time.Since(c.start).Microseconds()) / 1000
	s.journal.add(c.entry)
	s.opts.Logger.Info("request", "id", c.entry.RequestID, "endpoint", c.entry.Endpoint, "region", c.entry.Region,
		"account", c.entry.Account, "status", c.entry.Status, "outcome", c.entry.Outcome)
}

// fail answers with CleverTap's error envelope.
func (s *Server) fail(w http.ResponseWriter, c *call, outcome clevertap.Outcome, status int, text string) {
	s.finish(w, c, outcome, status, envelope(status, text))
}

func envelope(status int, text string) []byte {
	return fmt.Appendf(nil, `{"status":"fail","error":%s,"code":%d}`, strconv.Quote(text), status)
}

func writeEnvelope(w http.ResponseWriter, status int, text string) {
	writeAnswer(w, status, envelope(status, text))
}

// writeAnswer writes one of CleverTap's answers byte for byte, with the headers CleverTap sends (the harness's own
// JSON goes through internal/httpjson).
func writeAnswer(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// clippedHeaders bounds each header value the journal keeps (a request may carry up to 64 KiB of headers).
func clippedHeaders(h map[string]string) map[string]string {
	for k, v := range h {
		if len(v) > maxHeaderKept {
			h[k] = clip.Text(v, maxHeaderKept)
		}
	}
	return h
}

// keepBody notes a request's body in the journal, its first maxJournaledRequest bytes.
func (c *call) keepBody(body []byte) {
	if len(body) > maxJournaledRequest {
		c.entry.RequestBody = string(body[:maxJournaledRequest]) + "…(truncated)"
		return
	}
	c.entry.RequestBody = string(body)
}
