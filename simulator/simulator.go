// Package simulator puts the fake CleverTap and the fake Piano collector behind one handler, as
// `simulator serve` runs them: the inspector under /_sim/inspector/ (and /_sim/stream), Piano requests by
// collection domain or /piano/ prefix, the shared admin API under /_sim/, everything else to CleverTap.
package simulator

import (
	"net/http"
	"strings"

	"github.com/ctharness/ctharness/internal/adminguard"
	"github.com/ctharness/ctharness/internal/httpjson"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/inspector"
	"github.com/ctharness/ctharness/simulator/piano"
)

// Simulator is the fake CleverTap and the fake Piano collector, with the inspector that shows them.
type Simulator struct {
	CleverTap *fake.Server
	Piano     *piano.Collector
	Inspector *inspector.Inspector
	// MaxConnections caps the open connections of Listener (default DefaultMaxConnections).
	MaxConnections int
	guard          *adminguard.Guard // what reaches /_sim/: the fake's AllowedHosts, one guard for all of it
}

// New builds both fakes from the accounts file's config (zero Config: the defaults) and CleverTap options.
func New(cfg Config, opts fake.Options) (*Simulator, error) {
	if cfg.Accounts != nil {
		opts.Accounts = cfg.Accounts
	}
	ct, err := fake.New(opts)
	if err != nil {
		return nil, err
	}
	guard, err := adminguard.New(opts.AllowedHosts...)
	if err != nil {
		return nil, err
	}
	var sites []piano.Site
	if cfg.Piano.Sites != nil {
		sites = cfg.Piano.Sites
	}
	p, err := piano.New(piano.Options{Sites: sites, Limit: opts.EventLimit, JournalLimit: opts.JournalLimit,
		JournalBytes: opts.JournalBytes,
		Now:          opts.Now})
	if err != nil {
		return nil, err
	}
	return &Simulator{CleverTap: ct, Piano: p, Inspector: inspector.New(ct, p, opts.Version),
		MaxConnections: DefaultMaxConnections, guard: guard}, nil
}

// ServeHTTP dispatches a request to the fake it is for; the inspector, the stream and both admin APIs under /_sim/
// answer only what the guard admits (internal/adminguard), before any of them acts.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if (strings.HasPrefix(r.URL.Path, "/_sim/") || r.URL.Path == "/_sim") && !s.Admit(w, r) {
		return
	}
	switch {
	case s.Inspector.Owns(r):
		s.Inspector.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, piano.AdminPrefix):
		s.Piano.ServeHTTP(w, r)
	case r.URL.Path == "/_sim/reset" && r.Method == http.MethodPost:
		s.Piano.Reset()
		s.CleverTap.ServeHTTP(w, r)
	case !strings.HasPrefix(r.URL.Path, "/_sim/") && s.Piano.Owns(r):
		s.Piano.ServeHTTP(w, r)
	case inspector.WantsPage(r): // a browser at the root of a host that is not CleverTap's
		http.Redirect(w, r, inspector.Prefix, http.StatusFound)
	default:
		s.CleverTap.ServeHTTP(w, r)
	}
}

// Client is a CleverTap client wired to this simulator in-process.
func (s *Simulator) Client() *clevertap.Client {
	c := s.CleverTap.Client()
	c.HTTP.Transport = clevertap.InProcessTransport{Handler: s}
	return c
}

// Admit answers a request to /_sim/ the admin guard refuses, and reports whether it was admitted: for a server
// that serves more of /_sim/ around the simulator (the lint proxy's report).
func (s *Simulator) Admit(w http.ResponseWriter, r *http.Request) bool {
	if status, reason := s.guard.Refusal(r); status != 0 {
		httpjson.Error(w, status, "%s", reason)
		return false
	}
	return true
}
