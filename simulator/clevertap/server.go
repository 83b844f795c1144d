// Package clevertap is a fake of CleverTap's server-side REST API: every region's host, accounts with several
// passcodes, the upload format with its per-record codes and real error texts, the attribution-partner endpoint,
// profile lookup and deletion, the concurrency limit, and an admin API (/_sim/) that records everything for
// assertions and injects faults. It runs in-process (Server is an http.Handler; Client talks to it without a
// listener) or behind any http.Server.
package clevertap

import (
	"fmt"
	"log/slog"
	"net/http"
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
