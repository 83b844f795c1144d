package harness

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/relay/service"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/inspector"
	"github.com/ctharness/ctharness/simulator/proxy"
)

// Options say where an in-process stack listens and how its relay is configured.
type Options struct {
	// SimulatorAddr and RelayAddr default to 127.0.0.1:0 (any free port); `simulator up` uses :8081 and :8080.
	SimulatorAddr string
	RelayAddr     string
	// DataDir is the relay's outbox directory; empty makes a temporary one removed on Close.
	DataDir string
	// Relay is the relay config (default: the default config); its endpoints are pointed at the simulator.
	Relay *config.Config
	// Logger receives the relay's logs (default: discarded).
	Logger  *slog.Logger
	Version string
	// AdminToken is the relay's admin token (default: a random one kept in its data directory).
	AdminToken string
	// AllowedHosts are the Host names both admin APIs answer besides loopback names and IP addresses.
	AllowedHosts []string
}

// DevAdminToken is the relay admin token of the development stack `simulator up` (and `make run`) starts on
// loopback, and what `simulator run` sends by default: the stack's own default, like its accounts' passcodes.
const DevAdminToken = "sim-relay-admin"

// ListenError says which server of a stack could not listen where it was asked to.
type ListenError struct {
	Server string // "simulator" or "relay"
	Addr   string
	Err    error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("%s: listen on %s: %v", e.Server, e.Addr, e.Err)
}
func (e *ListenError) Unwrap() error { return e.Err }

// QuickRetries shortens the relay's backoff so an injected outage costs milliseconds, not minutes.
func QuickRetries(cfg *config.Config) {
	cfg.Delivery.MinBackoff, cfg.Delivery.MaxBackoff = 5*time.Millisecond, 100*time.Millisecond
}

// StartInProcess brings up the simulator and the relay in this process.
func StartInProcess(ctx context.Context, opts Options) (*Stack, error) {
	sim, err := StartSimulator(simulator.Config{}, fake.Options{Version: opts.Version,
		AllowedHosts: opts.AllowedHosts}, opts.SimulatorAddr)
	if err != nil {
		return nil, err
	}
	cfg := config.Default()
	if opts.Relay != nil {
		cfg = *opts.Relay
	}
	relay, err := StartRelay(ctx, RelayOptions{Config: cfg, SimulatorURL: sim.URL, Addr: opts.RelayAddr,
		DataDir: opts.DataDir, Logger: opts.Logger, AdminToken: opts.AdminToken, AllowedHosts: opts.AllowedHosts})
	if err != nil {
		_ = sim.Close()
		return nil, err
	}
	stop := func(context.Context) error {
		err := relay.Close()
		_ = sim.Close()
		return err
	}
	link := &inspector.Relay{URL: relay.URL}
	if opts.AdminToken == DevAdminToken {
		link.DevToken = DevAdminToken // the development stack's, public: the inspector may offer it
	}
	sim.Simulator.Inspector.SetRelay(link)
	return &Stack{SimulatorURL: sim.URL, RelayURL: relay.URL, RelayAdminToken: relay.Service.AdminToken(),
		Simulator: sim.Simulator, Relay: relay.Service, stop: stop}, nil
}

// Simulator is the fake CleverTap and Piano serving in this process.
type Simulator struct {
	URL       string
	Simulator *simulator.Simulator
	stop      func()
}

// StartSimulator builds a simulator from an accounts config and CleverTap options and serves it on addr (default
// any free loopback port).
func StartSimulator(cfg simulator.Config, opts fake.Options, addr string) (*Simulator, error) {
	sim, err := simulator.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	url, stop, err := serve(viaHTTP(sim), addr)
	if err != nil {
		return nil, &ListenError{Server: "simulator", Addr: addr, Err: err}
	}
	return &Simulator{URL: url, Simulator: sim, stop: stop}, nil
}

// Client talks to the simulator over HTTP.
func (s *Simulator) Client() *clevertap.Client { return clevertap.NewClient(s.URL) }

// Close stops serving.
func (s *Simulator) Close() error {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
	return nil
}

// server is the relay's own server, or the simulator's or the proxy's http.Server on its bounded listener.
type server interface {
	Serve(net.Listener) error
	Close() error
}

// netHTTP is the simulator or the proxy: each builds its one http.Server and bounds its listener.
type netHTTP interface {
	HTTPServer() *http.Server
	Listener(net.Listener) net.Listener
}

type boundedHTTP struct {
	*http.Server
	bound func(net.Listener) net.Listener
}

func (b boundedHTTP) Serve(ln net.Listener) error { return b.Server.Serve(b.bound(ln)) }

func viaHTTP(s netHTTP) server { return boundedHTTP{Server: s.HTTPServer(), bound: s.Listener} }

// serve listens on addr (default any free loopback port) and serves through srv.
func serve(srv server, addr string) (string, func(), error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// RelayOptions describe a relay run in this process.
type RelayOptions struct {
	Config config.Config
	// SimulatorURL, when set, points the config's CleverTap and Piano endpoints at a simulator.
	SimulatorURL string
	// Addr defaults to any free loopback port.
	Addr string
	// DataDir is the outbox directory; empty makes a temporary one removed on Close.
	DataDir string
	// Client sends to CleverTap and Piano (default: a client with a 30 s timeout).
	Client *http.Client
	// Logger receives the relay's logs (default: discarded).
	Logger *slog.Logger
	// AdminToken is the admin token (default: a random one kept in the data directory).
	AdminToken string
	// AllowedHosts are the Host names the admin routes answer besides loopback names and IP addresses.
	AllowedHosts []string
}

// Relay is a relay serving in this process.
type Relay struct {
	URL     string
	Service *service.Service
	close   []func()
}

// StartRelay opens the relay's outbox, starts its delivery and serves it; the relay lives until Close, whatever
// becomes of ctx.
func StartRelay(ctx context.Context, o RelayOptions) (*Relay, error) {
	cfg := o.Config
	if o.SimulatorURL != "" {
		base := strings.TrimSuffix(o.SimulatorURL, "/")
		cfg.CleverTap.Endpoint, cfg.Piano.Endpoint = base+"/{region}", base+"/piano"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	r := &Relay{}
	fail := func(err error) (*Relay, error) {
		_ = r.Close()
		return nil, err
	}
	dir := o.DataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "ctharness-relay-"); err != nil {
			return nil, err
		}
		r.close = append(r.close, func() { _ = os.RemoveAll(dir) })
	}
	svc, err := service.Open(service.Options{Config: cfg, DataDir: dir, Logger: o.Logger, Client: o.Client,
		AdminToken: o.AdminToken, AllowedHosts: o.AllowedHosts})
	if err != nil {
		return fail(err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.close = append(r.close, func() { cancel(); _ = svc.Close() })
	if err := svc.Start(runCtx); err != nil {
		return fail(err)
	}
	url, stop, err := serve(svc.Server(), o.Addr)
	if err != nil {
		return fail(&ListenError{Server: "relay", Addr: o.Addr, Err: err})
	}
	r.URL, r.Service = url, svc
	r.close = append(r.close, stop)
	return r, nil
}

// Close stops serving, then delivery (what was not delivered stays in the outbox), then removes a temporary
// outbox.
func (r *Relay) Close() error {
	for i := len(r.close) - 1; i >= 0; i-- {
		r.close[i]()
	}
	r.close = nil
	return nil
}

// Proxy is a lint proxy serving in this process, with the simulator that is its view of CleverTap.
type Proxy struct {
	URL   string
	Proxy *proxy.Proxy
	stop  func()
}

// StartProxy serves a lint proxy in front of upstream (a base URL with {region}) on a free loopback port; opts
// may leave View (default: the simulator's default accounts, learned from the traffic besides) and Upstream empty.
func StartProxy(upstream string, opts proxy.Options) (*Proxy, error) {
	if opts.View == nil {
		v, err := simulator.New(simulator.Config{}, fake.Options{})
		if err != nil {
			return nil, err
		}
		opts.View, opts.LearnAccounts = v, true
	}
	opts.Upstream = upstream
	p, err := proxy.New(opts)
	if err != nil {
		return nil, err
	}
	url, stop, err := serve(viaHTTP(p), "")
	if err != nil {
		p.Close()
		return nil, &ListenError{Server: "proxy", Addr: "127.0.0.1:0", Err: err}
	}
	return &Proxy{URL: url, Proxy: p, stop: stop}, nil
}

// Close stops serving, then judges what was answered.
func (p *Proxy) Close() error {
	p.stop()
	p.Proxy.Close()
	return nil
}
