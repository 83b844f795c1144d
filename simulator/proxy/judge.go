package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/internal/redact"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// Finding is one lint: what CleverTap refused (rule "refused"), what the fake's check notes that CleverTap never
// says ("check"), more uploads in flight than the account allows ("concurrency"), a record sent before
// ("duplicate"), or an exchange the proxy could not complete ("upstream"). Index is the record's (0-based) in
// the upload's d, or -1 for the whole request.
type Finding struct {
	Rule  string `json:"rule"`
	Index int    `json:"index"`
	Text  string `json:"text"`
}

// Drift kinds: how the fake's answer compares with the real one.
const (
	DriftAgree       = "agree"        // same verdict, codes and texts
	DriftTooLenient  = "too_lenient"  // CleverTap refused what the fake accepts
	DriftTooStrict   = "too_strict"   // the fake would refuse what CleverTap accepted
	DriftDifferent   = "different"    // same verdict, another code or text
	DriftShape       = "shape"        // a read answer shaped otherwise than the fake's
	DriftNotCompared = "not_compared" // no verdict to compare: the proxy answered, or a transient 429/5xx
)

// Drift is the comparison of one exchange: its kind and, unless they agree, what differs.
type Drift struct {
	Kind    string   `json:"kind"`
	Details []string `json:"details,omitempty"`
}

// Checked is one exchange with its judgement: the request (credentials redacted), the real answer, the fake's
// answer to the same request, the lint and the drift.
type Checked struct {
	At              time.Time                 `json:"at"`
	Method          string                    `json:"method"`
	Host            string                    `json:"host"`
	Path            string                    `json:"path"`
	Query           string                    `json:"query,omitempty"`
	Endpoint        string                    `json:"endpoint"`
	Region          clevertap.Region          `json:"region,omitempty"`
	Account         string                    `json:"account,omitempty"`
	RequestHeaders  map[string]string         `json:"request_headers,omitempty"`
	RequestBody     []byte                    `json:"-"`
	Status          int                       `json:"status"`
	ResponseHeaders map[string]string         `json:"response_headers,omitempty"`
	Response        []byte                    `json:"-"`
	Outcome         clevertap.Outcome         `json:"outcome"`
	Records         *clevertap.RecordsSummary `json:"records,omitempty"`
	// Local says why the proxy answered itself (unreachable, too slow, too large); empty for a forwarded one.
	Local     string                 `json:"local,omitempty"`
	Predicted clevertap.JournalEntry `json:"-"`
	// sent are the upload's records as sent (nil for other endpoints)
	sent       []json.RawMessage
	Lint       []Finding `json:"lint,omitempty"`
	Drift      Drift     `json:"drift"`
	DurationMS float64   `json:"duration_ms"`
}

func (p *Proxy) check(ex *exchange) *Checked { return checkExchange(p.view.CleverTap, p.lint, ex) }

// checkExchange judges an exchange: the fake's answer to the same request, the real answer's verdict, lint and
// drift. The live proxy and replay both judge with it.
func checkExchange(view *fake.Server, lint *linter, ex *exchange) *Checked {
	r := ex.request
	predicted := view.Check(r, ex.body)
	c := &Checked{At: ex.received, Method: r.Method, Host: predicted.Host, Path: predicted.Path,
		Query: predicted.Query, Endpoint: predicted.Endpoint, Region: predicted.Region, Account: predicted.Account,
		RequestHeaders: predicted.RequestHeaders, RequestBody: ex.body, Status: ex.status, Response: ex.answer,
		Local: ex.local, Predicted: predicted, DurationMS: float64(ex.duration.Microseconds()) / 1000}
	if ex.header != nil {
		c.ResponseHeaders = redact.Headers(ex.header)
	}
	if c.Endpoint == "upload" {
		c.sent = uploadRecords(ex.body)
	}
	c.Outcome, c.Records = verdict(c.Endpoint, ex.status, ex.answer, c.sent)
	c.Lint = lint.findings(c, ex)
	c.Drift = compare(c, ex)
	return c
}

// verdict reads CleverTap's answer: the outcome, and for an upload which records it refused (matched to the
// request's records by their JSON, as the relay does; -1 when the answer's record cannot be placed).
func verdict(endpoint string, status int, answer []byte, records []json.RawMessage) (clevertap.Outcome,
	*clevertap.RecordsSummary) {
	switch {
	case status == http.StatusUnauthorized:
		return clevertap.OutcomeUnauthorized, nil
	case status == http.StatusTooManyRequests:
		return clevertap.OutcomeRateLimited, nil
	case status == http.StatusNotFound:
		return clevertap.OutcomeNotFound, nil
	case status >= 500:
		return clevertap.OutcomeUpstreamError, nil
	case status >= 400:
		return clevertap.OutcomeBadRequest, nil
	case endpoint != "upload":
		var a struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(answer, &a) == nil && a.Status == "fail" {
			return clevertap.OutcomeRejected, nil
		}
		return clevertap.OutcomeAccepted, nil
	}
	var a clevertap.UploadResponse
	if err := json.Unmarshal(answer, &a); err != nil {
		return clevertap.OutcomeUpstreamError, nil
	}
	sum := &clevertap.RecordsSummary{Total: len(records), Processed: a.Processed,
		Unprocessed: []clevertap.RecordOutcome{}}
	byJSON := map[string][]int{}
	for i := 0; len(a.Unprocessed) > 0 && i < len(records); i++ { // matching costs: only when something was refused
		k := canonical(records[i])
		byJSON[k] = append(byJSON[k], i)
	}
	for _, u := range a.Unprocessed {
		index := -1
		if at := byJSON[canonical(u.Record)]; len(at) > 0 {
			index, byJSON[canonical(u.Record)] = at[0], at[1:]
		}
		sum.Unprocessed = append(sum.Unprocessed, clevertap.RecordOutcome{Index: index, Code: u.Code, Error: u.Error})
	}
	switch {
	case a.Status == "fail" || (len(records) > 0 && a.Processed == 0 && len(a.Unprocessed) > 0):
		return clevertap.OutcomeRejected, sum
	case len(a.Unprocessed) > 0 || a.Status == "partial":
		return clevertap.OutcomePartial, sum
	}
	return clevertap.OutcomeAccepted, sum
}

// uploadRecords are the records of an upload body's d, as sent.
func uploadRecords(body []byte) []json.RawMessage {
	var up struct {
		D []json.RawMessage `json:"d"`
	}
	_ = json.Unmarshal(body, &up)
	return up.D
}

func canonical(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// compare is the drift of one exchange.
func compare(c *Checked, ex *exchange) Drift {
	pred := c.Predicted
	switch {
	case ex.local != "":
		return Drift{Kind: DriftNotCompared, Details: []string{"the proxy answered: " + clip.Text(ex.local, 300)}}
	case !ex.whole:
		return Drift{Kind: DriftNotCompared, Details: []string{"the answer was over --max-answer-bytes"}}
	case ex.status == http.StatusTooManyRequests || ex.status >= 500:
		if pred.Status >= 400 && pred.Status < 500 {
			return Drift{Kind: DriftTooStrict, Details: []string{fmt.Sprintf("CleverTap answered %d (not a "+
				"verdict), but the fake would refuse the request: %d %s", ex.status, pred.Status, errorText(pred.Response))}}
		}
		return Drift{Kind: DriftNotCompared, Details: []string{fmt.Sprintf("CleverTap answered %d: load or an "+
			"outage, not a verdict on the request", ex.status)}}
	case pred.Status == 0:
		return compareShape(c)
	case ex.status != http.StatusOK && pred.Status == http.StatusOK:
		return Drift{Kind: DriftTooLenient, Details: []string{fmt.Sprintf("CleverTap refused the request (%d %s); "+
			"the fake accepts it", ex.status, errorText(ex.answer))}}
	case ex.status == http.StatusOK && pred.Status != http.StatusOK:
		return Drift{Kind: DriftTooStrict, Details: []string{fmt.Sprintf("CleverTap accepted the request; the fake "+
			"would refuse it (%d %s)", pred.Status, errorText(pred.Response))}}
	case ex.status != http.StatusOK:
		if ex.status != pred.Status || errorText(ex.answer) != errorText(pred.Response) {
			return Drift{Kind: DriftDifferent, Details: []string{fmt.Sprintf("CleverTap: %d %s; the fake: %d %s",
				ex.status, errorText(ex.answer), pred.Status, errorText(pred.Response))}}
		}
		return Drift{Kind: DriftAgree}
	}
	return compareRecords(c)
}

// compareRecords compares, record by record, an upload both answered with 200.
func compareRecords(c *Checked) Drift {
	real, fake := map[int]clevertap.RecordOutcome{}, map[int]clevertap.RecordOutcome{}
	var unplaced int
	if c.Records != nil {
		for _, u := range c.Records.Unprocessed {
			if u.Index < 0 {
				unplaced++
				continue
			}
			real[u.Index] = u
		}
	}
	if c.Predicted.Records != nil {
		for _, u := range c.Predicted.Records.Unprocessed {
			fake[u.Index] = u
		}
	}
	d := Drift{Kind: DriftAgree}
	raise := func(kind, detail string) {
		if rank(kind) > rank(d.Kind) {
			d.Kind = kind
		}
		d.Details = clip.Note(d.Details, detail) // clip.Note bounds each note and their number
	}
	for _, i := range sortedKeys(real, fake) {
		r, inReal := real[i]
		f, inFake := fake[i]
		switch {
		case inReal && !inFake:
			raise(DriftTooLenient, fmt.Sprintf("record %d: CleverTap refused it (%d %s); the fake accepts it",
				i, r.Code, r.Error))
		case inFake && !inReal:
			raise(DriftTooStrict, fmt.Sprintf("record %d: CleverTap accepted it; the fake would refuse it (%d %s)",
				i, f.Code, f.Error))
		case r.Code != f.Code || r.Error != f.Error:
			raise(DriftDifferent, fmt.Sprintf("record %d: CleverTap %d %q; the fake %d %q", i, r.Code, r.Error,
				f.Code, f.Error))
		}
	}
	if unplaced > 0 {
		raise(DriftDifferent, fmt.Sprintf("%d refused record(s) in CleverTap's answer match no record sent", unplaced))
	}
	return d
}

func rank(kind string) int {
	return slices.Index([]string{DriftAgree, DriftDifferent, DriftTooStrict, DriftTooLenient}, kind)
}

func sortedKeys(a, b map[int]clevertap.RecordOutcome) []int {
	var keys []int
	for _, m := range []map[int]clevertap.RecordOutcome{a, b} {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// pageKeys are the keys a Get Events or Get User Profiles answer carries in the fake: a cursor, a page (records,
// next_cursor; the chain's last page holds status alone), or CleverTap's error envelope.
var pageKeys = []string{"status", "cursor", "records", "next_cursor", "error", "code"}

// compareShape compares a read answer by shape, not values: for the paged reads, the keys the fake sends and a
// page size that is a multiple of the fake's page rule; for the others, an answer CleverTap's status field reads.
func compareShape(c *Checked) Drift {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(c.Response, &top); err != nil {
		return Drift{Kind: DriftShape, Details: []string{"CleverTap's answer is not a JSON object: " +
			clip.Text(string(c.Response), 200)}}
	}
	d := Drift{Kind: DriftAgree}
	if _, ok := top["status"]; !ok {
		d = Drift{Kind: DriftShape, Details: []string{"CleverTap's answer has no status; every fake answer has one"}}
	}
	if c.Endpoint != "events" && c.Endpoint != "profiles" {
		return d
	}
	for k := range top {
		if !slices.Contains(pageKeys, k) {
			d.Kind = DriftShape
			d.Details = clip.Note(d.Details, fmt.Sprintf("CleverTap's %s answer has %q, which the fake never sends",
				c.Endpoint, k))
		}
	}
	var records []json.RawMessage
	if json.Unmarshal(top["records"], &records) == nil && len(top["next_cursor"]) > 0 && len(records)%pageMultiple != 0 {
		d.Kind = DriftShape
		d.Details = clip.Note(d.Details, fmt.Sprintf("a page of %d records with a next page: the fake's pages hold "+
			"a multiple of %d (--page-multiple)", len(records), pageMultiple))
	}
	return d
}

// pageMultiple is the fake's default page rule (fake.Options.PageMultiple).
const pageMultiple = 23

// errorText is the error of CleverTap's envelope, or the body's start.
func errorText(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Sprintf("%q", clip.Text(e.Error, 300))
	}
	return clip.Text(string(bytes.TrimSpace(body)), 120)
}

// journalEntry is the exchange as the inspector and tail show it: the real answer, with the lint and the drift
// as its diagnosis.
func (c *Checked) journalEntry() clevertap.JournalEntry {
	e := c.Predicted
	e.ReceivedAt, e.Status, e.Outcome, e.Records, e.Response = c.At, c.Status, c.Outcome, c.Records, c.Response
	e.DurationMS, e.Proxied = c.DurationMS, true
	if c.Drift.Kind != DriftAgree {
		e.Drift = c.Drift.Kind
	}
	var notes []string
	if c.Local != "" {
		notes = clip.Note(notes, "proxy: "+c.Local)
	}
	if c.Drift.Kind != DriftAgree {
		for _, d := range c.Drift.Details {
			notes = clip.Note(notes, "drift ("+c.Drift.Kind+"): "+d)
		}
	}
	for _, f := range c.Lint {
		if f.Rule != "check" {
			notes = clip.Note(notes, "lint "+f.Rule+": "+f.Text)
		}
	}
	for _, d := range e.Diagnosis {
		if !strings.Contains(d, "is not judged without the fake's state") {
			notes = clip.Note(notes, "fake: "+d)
		}
	}
	e.Diagnosis = notes
	return e
}
