// Package service assembles the relay: the configured sources, the durable outbox, the dispatcher and the
// metrics, behind one http.Handler (routes in routes.go). It is what cmd/relay runs and what the suites start
// in-process.
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctharness/ctharness/internal/adminguard"

	"github.com/ctharness/ctharness/internal/listener"
	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/relay/delivery"
	"github.com/ctharness/ctharness/relay/metrics"
	"github.com/ctharness/ctharness/relay/outbox"
	"github.com/ctharness/ctharness/relay/outbox/postgres"
)

// Options are what the service needs besides its config.
type Options struct {
	Config  config.Config
	DataDir string
	Logger  *slog.Logger
	// Client sends to CleverTap and Piano (default: a plain http.Client); tests pass an in-process transport.
	Client *http.Client
	// Now is the clock for signature windows (default time.Now).
	Now func() time.Time
	// StartEmpty sets an emptied or damaged outbox aside and starts a new one instead of refusing to start.
	StartEmpty bool
	// NoMigrate starts on a Postgres outbox only if its schema is already this relay's (relay migrate).
	NoMigrate bool
	// AdminToken guards the admin routes (Authorization: Bearer <token>); empty makes a random one, written to
	// AdminTokenFile in the data dir for local tools.
	AdminToken string
	// AllowedHosts are the Host names the admin routes answer besides loopback names and IP addresses
	// (internal/adminguard); webhooks, /healthz, /readyz and /metrics answer every host.
	AllowedHosts []string
}

// AdminTokenFile is where a relay without a configured admin token keeps the one it made (mode 0600).
const AdminTokenFile = "admin-token"

// Service is a running relay.
type Service struct {
	built      config.Built
	sources    map[string]relay.Source
	store      outbox.Outbox
	dataDir    string
	dispatcher *delivery.Dispatcher
	metrics    *metrics.Metrics
	log        *slog.Logger
	now        func() time.Time
	handler    http.Handler
	adminToken string
	guard      *adminguard.Guard
	// inFlight holds a place per webhook being handled (intake.max_in_flight).
	inFlight chan struct{}
	// received counts webhooks, so the relay can tell when a burst is over.
	received atomic.Uint64
	// conns is the listener Listener bounded, to tell when connections are crowded.
	conns atomic.Pointer[listener.Limited]

	ready      atomic.Bool
	storeErrMu sync.Mutex
	storeErr   string
	storeErrAt time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// Open validates the config and opens the outbox; Start begins delivery.
func Open(opts Options) (*Service, error) {
	built, err := opts.Config.Build()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	guard, err := adminguard.New(opts.AllowedHosts...)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, w := range built.Warnings {
		log.Warn("config: " + w)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	// the admin token is kept there whatever keeps the outbox
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", opts.DataDir, err)
	}
	store, err := openOutbox(opts, log)
	if err != nil {
		return nil, err
	}
	token, err := adminToken(opts.AdminToken, opts.DataDir)
	if err != nil {
		store.Close()
		return nil, err
	}
	s := &Service{built: built, sources: map[string]relay.Source{}, store: store, dataDir: opts.DataDir, log: log,
		now:  now,
		done: make(chan struct{}), adminToken: token, guard: guard, inFlight: make(chan struct{}, built.Intake.MaxInFlight)}
	for _, src := range built.Sources {
		s.sources[src.Name()] = src
	}
	var dispatcher *delivery.Dispatcher
	s.metrics = metrics.New(func() map[string]int { return dispatcher.Depth() })
	dispatcher = delivery.New(built.Delivery, store, built.Endpoints, opts.Client, log, s.metrics)
	s.dispatcher = dispatcher
	s.handler = s.routes()
	return s, nil
}

// openOutbox opens the configured outbox: the bbolt file in the data dir, or the shared Postgres database.
func openOutbox(opts Options, log *slog.Logger) (outbox.Outbox, error) {
	if o := opts.Config.Outbox; o.Driver == "postgres" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return postgres.Open(ctx, postgres.Options{DSN: o.DSN, Lease: o.Lease, Migrate: !opts.NoMigrate,
			MaxConns: o.MaxConns, StatementTimeout: o.StatementTimeout, AllowAsyncCommit: o.AllowAsyncCommit})
	}
	return outbox.Open(opts.DataDir, outbox.Options{StartEmpty: opts.StartEmpty,
		SetAside: func(path, aside, why string) {
			log.Warn("started with an empty outbox as asked; the old one is set aside, and what it held will not be "+
				"delivered", "outbox", path, "set_aside_as", aside, "why", why)
		}})
}

// adminToken is the configured token, or a new random one written to the data dir.
func adminToken(configured, dataDir string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b)
	path := filepath.Join(dataDir, AdminTokenFile)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin token %s: %w", path, err)
	}
	return token, nil
}

// DataDir is where the outbox (and a made admin token) are kept.
func (s *Service) DataDir() string { return s.dataDir }

// OutboxWhere names the outbox: its file, or its database (without credentials).
func (s *Service) OutboxWhere() string { return s.store.Where() }

// AdminToken is the token the admin routes ask for.
func (s *Service) AdminToken() string { return s.adminToken }

// Start resumes the outbox's pending jobs and starts delivering and pruning. When it fails nothing runs, and
// Close only closes the outbox.
func (s *Service) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	if err := s.dispatcher.Start(ctx); err != nil {
		cancel()
		s.dispatcher.Wait()
		return err
	}
	s.cancel = cancel
	go s.prune(ctx)
	go s.releaseWhenIdle(ctx, 5*time.Second)
	s.ready.Store(true)
	return nil
}

// Handler is the HTTP side.
func (s *Service) Handler() http.Handler { return s.handler }

// ServeHTTP makes the service an http.Handler.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close stops delivery, waits for requests in flight (bounded by the delivery timeout) and closes the outbox.
// What was not delivered stays in the outbox for the next start.
func (s *Service) Close() error {
	s.ready.Store(false)
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.dispatcher.Wait()
	}
	return s.store.Close()
}

// releaseWhenIdle gives memory back to the system once a burst is over: the runtime keeps what a burst took (the
// more with GOGC at 400) and returns it over minutes; an idle relay returns it at once.
func (s *Service) releaseWhenIdle(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	seen, busy := s.received.Load(), true // start-up (the outbox's window) is a burst too
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		switch n := s.received.Load(); {
		case n != seen:
			seen, busy = n, true
		case busy:
			busy = false
			debug.FreeOSMemory()
		}
	}
}

// prune forgets old event ids once an hour (and once at start).
func (s *Service) prune(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := s.store.Prune(s.now().Add(-s.built.Intake.DedupeWindow)); err != nil {
			s.log.Error("pruning seen event ids", "err", err)
		} else if n > 0 {
			s.log.Info("forgot event ids older than the dedupe window", "count", n, "window",
				s.built.Intake.DedupeWindow.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sources names the sources served, in config order.
func (s *Service) Sources() []string {
	out := make([]string, len(s.built.Sources))
	for i, src := range s.built.Sources {
		out[i] = src.Name()
	}
	return out
}

// DeadLetters lists the dead letters.
func (s *Service) DeadLetters() ([]outbox.DeadLetter, error) { return s.store.DeadLetters() }

// RetryDeadLetter puts a dead letter back in its queue, to be sent with the current credentials.
func (s *Service) RetryDeadLetter(id uint64) (outbox.Job, error) {
	job, err := s.store.Revive(id)
	if err != nil {
		return job, err
	}
	s.dispatcher.Enqueue(job)
	return job, nil
}

// Depth reports what waits per destination.
func (s *Service) Depth() map[string]int { return s.dispatcher.Depth() }

func (s *Service) noteStoreError(err error) {
	s.storeErrMu.Lock()
	defer s.storeErrMu.Unlock()
	if err == nil {
		s.storeErr = ""
		return
	}
	s.storeErr, s.storeErrAt = err.Error(), s.now()
}

// unready says why the relay should not get traffic, or "".
func (s *Service) unready() string {
	if !s.ready.Load() {
		return "not started"
	}
	if p, ok := s.store.(interface{ Ping(context.Context) error }); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := p.Ping(ctx)
		cancel()
		if err != nil {
			return fmt.Sprintf("the outbox %s does not answer: %v", s.store.Where(), err)
		}
		s.noteStoreError(nil) // it answers again: webhooks can be stored
	}
	s.storeErrMu.Lock()
	defer s.storeErrMu.Unlock()
	if s.storeErr != "" {
		return fmt.Sprintf("the outbox could not store the last webhook (%s): %s", s.storeErrAt.Format(time.RFC3339),
			s.storeErr)
	}
	return ""
}

// errStore wraps outbox write failures so the answer says what happened.
var errStore = errors.New("could not store the webhook durably")
