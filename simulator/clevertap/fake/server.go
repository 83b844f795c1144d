// Package fake is a fake of CleverTap's server-side REST API: every region's host, accounts with several
// passcodes, the upload format with its per-record codes, real error texts and profile operators, the
// attribution-partner endpoint, profile lookup, deletion, disassociate, subscribe and demerge, the read side (Get
// Events, Get User Profiles, the counts and their req_id polling, Real-Time Counts), the concurrency limits, and
// an admin API (/_sim/) that records everything for assertions and injects faults. It runs in-process (Server is
// an http.Handler; Client talks to it without a listener) or behind any http.Server.
package fake

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctharness/ctharness/internal/adminguard"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake/store"

	"github.com/gorilla/mux"
)

// Options configure a Server. Zero values take the defaults documented on each field.
type Options struct {
	// Accounts to serve; nil loads DefaultAccounts.
	Accounts []clevertap.Account
	// JournalLimit bounds the request journal (default 10000) and JournalBytes its memory (default 64 MiB): the
	// oldest entries go first when either is reached.
	JournalLimit int
	JournalBytes int64
	// EventLimit bounds the stored records and profiles (default 100000); the oldest go first.
	EventLimit int
	// MaxBodyBytes is the largest upload body; beyond it 413 (default 8 MiB; CleverTap's limit is UNCONFIRMED).
	MaxBodyBytes int64
	// MaxRecords per upload (default 1000) and MaxTokenRecords (default 100), as CleverTap documents. The token
	// limit applies to uploads of tokens alone; TokenLimitInMixedUploads applies it to mixed uploads too (which one
	// CleverTap does is UNCONFIRMED: it documents 100 on its device-token page, RudderStack mixes up to 1000).
	MaxRecords               int
	MaxTokenRecords          int
	TokenLimitInMixedUploads bool
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
	// MaxConcurrentReads in flight per account on the read endpoints (and demerge, delete) before 429 (default 3,
	// CleverTap's documented limit).
	MaxConcurrentReads int
	// CursorTTL is how long a Get Events or Get User Profiles cursor lives after the first call (default 4 h) and
	// CursorIdleTTL how long it lives unused (default 1 h); count req_ids live CursorTTL. UNCONFIRMED lifetimes.
	CursorTTL     time.Duration
	CursorIdleTTL time.Duration
	// CursorNotReadyPolls is how many page requests of a new cursor are answered "still in progress" (code 2)
	// before its first page, as CleverTap's own client expects (default 0).
	CursorNotReadyPolls int
	// CountDelay is how long a count takes: until it passes, polls of its req_id answer partial. The first answer
	// is always partial unless CountImmediate, which answers success at once when the count is ready.
	CountDelay     time.Duration
	CountImmediate bool
	// PageMultiple: Get Events and Get User Profiles pages hold a multiple of it (default 23: live pages hold 4,991
	// records for batch_size 5000); 1 serves batch_size as asked. SmallBatchPage is what a page holds when
	// batch_size is under PageMultiple (default 989, one report of batch_size 5; the rule is UNCONFIRMED).
	PageMultiple   int
	SmallBatchPage int
	// ReadErrorsWithHTTPStatus sends the read endpoints' query errors (bad dates, unknown event, bad cursor) with
	// their code as the HTTP status; by default they come as HTTP 200 with "status":"fail", as clients report.
	ReadErrorsWithHTTPStatus bool
	// UnknownPlatform is platformInfo's platform for an objectId no token or ID shape places (default "Web").
	UnknownPlatform string
	// AttributionPartners is the allow-list of partner_name values for /attribution (compared case-insensitively).
	AttributionPartners []string
	// AllowedHosts are the Host names the admin API (/_sim/) answers besides loopback names and IP addresses
	// (internal/adminguard: a name, ".domain" or "*"); the CleverTap API answers every host.
	AllowedHosts []string
	// Version is reported by /_sim/health and the X-Simulator-Version header.
	Version string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
}

// DefaultJournalBytes is the journal's memory unless configured otherwise.
const DefaultJournalBytes = 64 << 20

// DefaultAttributionPartners are the partner names /attribution accepts unless configured otherwise.
var DefaultAttributionPartners = []string{"AppsFlyer", "Adjust", "Branch", "Kochava", "Singular", "Tenjin"}

func (o *Options) setDefaults() {
	if o.Accounts == nil {
		o.Accounts = clevertap.DefaultAccounts()
	}
	if o.JournalLimit <= 0 {
		o.JournalLimit = 10000
	}
	if o.JournalBytes <= 0 {
		o.JournalBytes = DefaultJournalBytes
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
	if o.MaxConcurrentReads <= 0 {
		o.MaxConcurrentReads = 3
	}
	if o.PageMultiple <= 0 {
		o.PageMultiple = 23
	}
	if o.SmallBatchPage <= 0 {
		o.SmallBatchPage = 989
	}
	if o.CursorTTL <= 0 {
		o.CursorTTL = 4 * time.Hour
	}
	if o.CursorIdleTTL <= 0 {
		o.CursorIdleTTL = time.Hour
	}
	if o.UnknownPlatform == "" {
		o.UnknownPlatform = "Web"
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
	store    *store.Store
	journal  *journal
	faults   *faultBook
	cursors  *cursorBook
	counts   *countBook
	// uploadsInFlight and readsInFlight map account id → *atomic.Int32 of requests in flight
	uploadsInFlight sync.Map
	readsInFlight   sync.Map
	requests        atomic.Uint64
	router          *mux.Router
	guard           *adminguard.Guard
}

// New builds a fake CleverTap; it fails only on invalid accounts.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	book, err := newAccountBook(opts.Accounts)
	if err != nil {
		return nil, err
	}
	guard, err := adminguard.New(opts.AllowedHosts...)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:     opts,
		accounts: book,
		store:    store.NewStore(opts.EventLimit, opts.EventLimit, opts.UnknownPlatform),
		journal:  newJournal(opts.JournalLimit, opts.JournalBytes),
		faults:   &faultBook{},
		cursors:  newCursorBook(opts.CursorTTL, opts.CursorIdleTTL),
		counts:   newCountBook(opts.CursorTTL),
		router:   mux.NewRouter(),
		guard:    guard,
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
func (s *Server) Accounts() []clevertap.Account { return s.accounts.list() }

// PutAccount creates or replaces an account.
func (s *Server) PutAccount(a clevertap.Account) error { return s.accounts.put(a) }

// Events returns the stored records that match, oldest first.
func (s *Server) Events(f clevertap.EventFilter) []clevertap.Event { return s.store.FindEvents(f) }

// Requests returns the journal entries that match, oldest first.
func (s *Server) Requests(f clevertap.JournalFilter) []clevertap.JournalEntry {
	entries, _ := s.journal.find(f)
	return entries
}

// Subscribe is a live stream of the journal: every request to a CleverTap route from now on, in order. The
// channel is closed when the reader falls more than buffer entries behind, or by cancel; ok is false when the
// simulator already serves its limit of streams.
func (s *Server) Subscribe(buffer int) (entries <-chan clevertap.JournalEntry, cancel func(), ok bool) {
	return s.journal.subscribe(buffer)
}

// Record journals an exchange the fake did not answer itself (the lint proxy's, answered by the real CleverTap):
// it gets a request id, a place in the journal and the live streams, as a request the fake served does.
func (s *Server) Record(e clevertap.JournalEntry) string {
	e.RequestID = "proxy-" + strconv.FormatUint(s.requests.Add(1), 10)
	s.journal.add(e)
	return e.RequestID
}

// AddFault injects a fault and returns it with its id.
func (s *Server) AddFault(f clevertap.Fault) (clevertap.Fault, error) { return s.faults.add(f) }

// Reset clears records, profiles, journal and faults; accounts stay.
func (s *Server) Reset() {
	s.store.Reset()
	s.journal.reset()
	s.faults.clear()
	s.cursors.reset()
	s.counts.reset()
}

// inProcessBase is the base URL of an in-process client; its host is not a CleverTap host, so regions go in the path.
const inProcessBase = "http://simulator.localhost" // .localhost: a loopback name the admin guard admits

// Client returns a client wired straight to this server, with no listener: the one line a Go test needs.
func (s *Server) Client() *clevertap.Client {
	return &clevertap.Client{BaseURL: inProcessBase,
		HTTP: &http.Client{Transport: clevertap.InProcessTransport{Handler: s}}}
}
