// Package clevertap is a fake of CleverTap's server-side REST API: every region's host, accounts with several
// passcodes, the upload format with its per-record codes and real error texts, the attribution-partner endpoint,
// profile lookup and deletion, the concurrency limit, and an admin API (/_sim/) that records everything for
// assertions and injects faults. It runs in-process (Server is an http.Handler; Client talks to it without a
// listener) or behind any http.Server.
package clevertap

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
)

// Options configure a Server. Zero values take the defaults documented on each field.
type Options struct {
	// Accounts to serve; nil loads DefaultAccounts.
	Accounts []Account
	// JournalLimit bounds the request journal (default 10000).
	JournalLimit int
	// EventLimit bounds the stored records and profiles (default 100000); the oldest go first.
	EventLimit int
	// MaxBodyBytes is the largest upload body; beyond it 413 (default 8 MiB; CleverTap's limit is UNCONFIRMED).
	MaxBodyBytes int64
	// MaxRecords per upload (default 1000) and MaxTokenRecords (default 100), as CleverTap documents.
	MaxRecords      int
	MaxTokenRecords int
	// MaxConcurrentUploads in flight per account before 429 (default 15, CleverTap's documented limit).
	MaxConcurrentUploads int
	// MaxTimestamp is the largest ts taken as epoch seconds (default 9999999999); larger is milliseconds.
	MaxTimestamp int64
	// RequireEvtData rejects events without evtData with 512. CleverTap documents evtData as required but its
	// own Node client sends {}; whether the server rejects a missing one is UNCONFIRMED, so the default accepts it.
	RequireEvtData bool
	// WrongPasscodeError is the 401 text for a known account with a wrong or missing passcode
	// (default "Invalid Credentials"; the real text is UNCONFIRMED).
	WrongPasscodeError string
	// AttributionPartners is the allow-list of partner_name values for /attribution (compared case-insensitively).
	AttributionPartners []string
	// Version is reported by /_sim/health and the X-Simulator-Version header.
	Version string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
}

// DefaultAttributionPartners are the partner names /attribution accepts unless configured otherwise.
var DefaultAttributionPartners = []string{"AppsFlyer", "Adjust", "Branch", "Kochava", "Singular", "Tenjin"}

func (o *Options) setDefaults() {
	if o.Accounts == nil {
		o.Accounts = DefaultAccounts()
	}
	if o.JournalLimit <= 0 {
		o.JournalLimit = 10000
	}
	if o.EventLimit <= 0 {
		o.EventLimit = 100000
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 8 << 20
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 1000
	}
	if o.MaxTokenRecords <= 0 {
		o.MaxTokenRecords = 100
	}
	if o.MaxConcurrentUploads <= 0 {
		o.MaxConcurrentUploads = 15
	}
	if o.MaxTimestamp <= 0 {
		o.MaxTimestamp = defaultMaxTimestmp
	}
	if o.WrongPasscodeError == "" {
		o.WrongPasscodeError = textInvalidCredentials
	}
	if o.AttributionPartners == nil {
		o.AttributionPartners = DefaultAttributionPartners
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server is the fake CleverTap. It is safe for concurrent use.
type Server struct {
	opts     Options
	accounts *accountBook
	store    *store
	journal  *journal
	faults   *faultBook
	inFlight sync.Map // account id → *atomic.Int32 of upload requests in flight
	requests atomic.Uint64
	router   *mux.Router
}

// New builds a fake CleverTap; it fails only on invalid accounts.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	book, err := newAccountBook(opts.Accounts)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:     opts,
		accounts: book,
		store:    newStore(opts.EventLimit, opts.EventLimit),
		journal:  newJournal(opts.JournalLimit),
		faults:   &faultBook{},
		router:   mux.NewRouter(),
	}
	s.addRoutes(s.router)
	return s, nil
}

// ServeHTTP serves the CleverTap API on every region's host and path prefix, and the admin API under /_sim/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Simulator-Version", s.opts.Version)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.opts.Logger.Error("handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
			writeEnvelope(w, http.StatusInternalServerError, "Internal Server Error")
		}
	}()
	s.router.ServeHTTP(w, r)
}

// Accounts lists the accounts, sorted by region then id.
func (s *Server) Accounts() []Account { return s.accounts.list() }

// PutAccount creates or replaces an account.
func (s *Server) PutAccount(a Account) error { return s.accounts.put(a) }

// Events returns the stored records that match, oldest first.
func (s *Server) Events(f EventFilter) []Event { return s.store.findEvents(f) }

// Requests returns the journal entries that match, oldest first.
func (s *Server) Requests(f JournalFilter) []JournalEntry { return s.journal.find(f) }

// AddFault injects a fault and returns it with its id.
func (s *Server) AddFault(f Fault) (Fault, error) { return s.faults.add(f) }

// Reset clears records, profiles, journal and faults; accounts stay.
func (s *Server) Reset() {
	s.store.reset()
	s.journal.reset()
	s.faults.clear()
}

// call is one request to a CleverTap route on its way through the fake: what the journal will say of it.
type call struct {
	entry JournalEntry
	start time.Time
	fault *Fault
}

func (s *Server) newCall(r *http.Request, endpoint string, rt route) *call {
	now := s.opts.Now()
	id := "sim-" + strconv.FormatUint(s.requests.Add(1), 10)
	return &call{
		start: time.Now(),
		entry: JournalEntry{
			RequestID: id, ReceivedAt: now.UTC(), Method: r.Method, Host: r.Host, Path: r.URL.Path,
			Query: redactQuery(r.URL.Query()), Endpoint: endpoint, Region: rt.region,
			Account: r.Header.Get("X-CleverTap-Account-Id"),
		},
	}
}

func (c *call) diagnose(format string, args ...any) {
	c.entry.Diagnosis = append(c.entry.Diagnosis, fmt.Sprintf(format, args...))
}

// finish writes the real response (or the fault that replaces it after processing), adds the simulator's
// headers, and journals the call.
func (s *Server) finish(w http.ResponseWriter, c *call, outcome Outcome, status int, body []byte) {
	h := w.Header()
	h.Set("X-Simulator-Request-Id", c.entry.RequestID)
	if len(c.entry.Diagnosis) > 0 {
		h.Set("X-Simulator-Diagnosis", headerSafe(strings.Join(c.entry.Diagnosis, "; ")))
	}
	c.entry.Outcome, c.entry.Status, c.entry.Response = outcome, status, body
	if f := c.fault; f != nil && f.AfterProcessing && (f.Action == FaultReset || f.Action == FaultMalformed) {
		c.entry.Fault = f.ID
		c.entry.Diagnosis = append(c.entry.Diagnosis, fmt.Sprintf("fault %s: %s after the request was processed (real answer was HTTP %d)", f.ID, f.Action, status))
		s.record(c)
		if f.Action == FaultReset {
			resetConnection(w)
			return
		}
		writeMalformed(w)
		return
	}
	s.record(c)
	writeJSON(w, status, body)
}

func (s *Server) record(c *call) {
	c.entry.DurationMS = float64(time.Since(c.start).Microseconds()) / 1000
	s.journal.add(c.entry)
	s.opts.Logger.Info("request", "id", c.entry.RequestID, "endpoint", c.entry.Endpoint, "region", c.entry.Region,
		"account", c.entry.Account, "status", c.entry.Status, "outcome", c.entry.Outcome)
}

// fail answers with CleverTap's error envelope.
func (s *Server) fail(w http.ResponseWriter, c *call, outcome Outcome, status int, text string) {
	s.finish(w, c, outcome, status, envelope(status, text))
}

// applyFault answers the request with an injected fault when one matches; it reports whether it did. A delay
// fault is remembered and served by pause.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, c *call) bool {
	f, ok := s.faults.take(c.entry.Endpoint, c.entry.Account, c.entry.Region)
	if !ok {
		return false
	}
	c.fault = &f
	if f.Action == FaultDelay || f.AfterProcessing {
		return false
	}
	c.entry.Fault = f.ID
	c.diagnose("fault %s: %s", f.ID, f.Action)
	switch f.Action {
	case FaultRespond:
		body := []byte(f.Body)
		if f.Body == "" {
			body = envelope(f.Status, faultText(f.Status))
		}
		c.entry.Outcome, c.entry.Status, c.entry.Response = OutcomeFault, f.Status, body
		w.Header().Set("X-Simulator-Request-Id", c.entry.RequestID)
		w.Header().Set("X-Simulator-Diagnosis", headerSafe(strings.Join(c.entry.Diagnosis, "; ")))
		s.record(c)
		writeJSON(w, f.Status, body)
	case FaultReset:
		c.entry.Outcome = OutcomeFault
		s.record(c)
		resetConnection(w)
	case FaultMalformed:
		c.entry.Outcome, c.entry.Status = OutcomeFault, http.StatusOK
		s.record(c)
		writeMalformed(w)
	}
	return true
}

// pause serves a delay fault; it returns false when the client went away first.
func (s *Server) pause(r *http.Request, c *call) bool {
	if c.fault == nil || c.fault.Action != FaultDelay {
		return true
	}
	c.entry.Fault = c.fault.ID
	c.diagnose("fault %s: delayed %d ms", c.fault.ID, c.fault.DelayMS)
	t := time.NewTimer(time.Duration(c.fault.DelayMS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func faultText(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return textServiceUnavailable
	case http.StatusTooManyRequests:
		return textTooManyConcurrent
	case http.StatusUnauthorized:
		return textAccountInvalid
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

// authenticate checks the two CleverTap headers against the account book and the region the request went to.
// Every failure is CleverTap's 401; what went wrong is said in the diagnosis only.
func (s *Server) authenticate(c *call, r *http.Request) (*Account, string) {
	id := r.Header.Get("X-CleverTap-Account-Id")
	passcode := r.Header.Get("X-CleverTap-Passcode")
	if id == "" {
		c.diagnose("missing header X-CleverTap-Account-Id: expected the account id, e.g. SIM-EU1-0001")
		return nil, textAccountInvalid
	}
	acct, ok := s.accounts.get(id)
	if !ok {
		c.diagnose("no account %q in the simulator; accounts in %s: %s", id, c.entry.Region, s.accountIDsIn(c.entry.Region))
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
	if !acct.acceptsPasscode(passcode) {
		c.diagnose("wrong X-CleverTap-Passcode for account %s (%d passcode(s) configured; the value sent is not one of them)", acct.ID, len(acct.Passcodes))
		return nil, s.opts.WrongPasscodeError
	}
	return acct, ""
}

func (s *Server) accountIDsIn(r Region) string {
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
func (s *Server) acquireUploadSlot(acct *Account) (release func(), ok bool) {
	limit := s.opts.MaxConcurrentUploads
	if acct.MaxConcurrentUploads > 0 {
		limit = acct.MaxConcurrentUploads
	}
	v, _ := s.inFlight.LoadOrStore(acct.ID, new(atomic.Int32))
	counter := v.(*atomic.Int32)
	if counter.Add(1) > int32(limit) {
		counter.Add(-1)
		return nil, false
	}
	return func() { counter.Add(-1) }, true
}

func envelope(status int, text string) []byte {
	return fmt.Appendf(nil, `{"status":"fail","error":%s,"code":%d}`, strconv.Quote(text), status)
}

func writeEnvelope(w http.ResponseWriter, status int, text string) {
	writeJSON(w, status, envelope(status, text))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// malformedBody is the first half of a success answer: what a client reads when the connection breaks mid-body.
const malformedBody = `{"status":"success","proc`

func writeMalformed(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, []byte(malformedBody))
}

// resetConnection drops the TCP connection with a RST where it can, so the client sees "connection reset by peer".
func resetConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if wrapped, ok := conn.(interface{ NetConn() net.Conn }); ok {
				conn = wrapped.NetConn()
			}
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// redactQuery keeps the query for the journal without the credentials the attribution endpoint carries.
func redactQuery(q map[string][]string) string {
	if len(q) == 0 {
		return ""
	}
	clean := make(map[string][]string, len(q))
	for k, v := range q {
		switch strings.ToLower(k) {
		case "account_passcode", "account_token", "passcode", "token":
			clean[k] = []string{"REDACTED"}
		default:
			clean[k] = v
		}
	}
	return url.Values(clean).Encode()
}

func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
