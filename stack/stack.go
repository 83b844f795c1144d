// Package stack starts the whole harness in one process: the fake CleverTap and Piano (simulator) and the relay
// with its default config pointed at them. `simulator up` and the suites' in-process mode use it.
package stack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/relay/service"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// Options say where to listen.
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
}

// Stack is the running harness.
type Stack struct {
	SimulatorURL string
	RelayURL     string
	Simulator    *simulator.Simulator
	Relay        *service.Service
	closers      []func()
}

// MaxHeaderBytes bounds request headers as the binaries do (64 KiB; beyond it Go answers 431).
const MaxHeaderBytes = 64 << 10

// QuickRetries shortens the relay's backoff so an injected outage costs milliseconds, not minutes.
func QuickRetries(cfg *config.Config) {
	cfg.Delivery.MinBackoff, cfg.Delivery.MaxBackoff = 5*time.Millisecond, 100*time.Millisecond
}

// Start brings up the simulator and the relay.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.SimulatorAddr == "" {
		opts.SimulatorAddr = "127.0.0.1:0"
	}
	if opts.RelayAddr == "" {
		opts.RelayAddr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stack{}
	fail := func(err error) (*Stack, error) {
		s.Close()
		return nil, err
	}
	sim, err := simulator.New(simulator.Config{}, clevertap.Options{Version: opts.Version})
	if err != nil {
		return nil, err
	}
	s.Simulator = sim
	simLn, err := net.Listen("tcp", opts.SimulatorAddr)
	if err != nil {
		return fail(fmt.Errorf("simulator: %w", err))
	}
	s.SimulatorURL = "http://" + simLn.Addr().String()
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: MaxHeaderBytes}
	go func() { _ = simSrv.Serve(simLn) }()
	s.closers = append(s.closers, func() { _ = simSrv.Close() })

	cfg := config.Default()
	if opts.Relay != nil {
		cfg = *opts.Relay
	}
	cfg.CleverTap.Endpoint, cfg.Piano.Endpoint = s.SimulatorURL+"/{region}", s.SimulatorURL+"/piano"
	dir := opts.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ctharness-relay-"); err != nil {
			return fail(err)
		}
		s.closers = append(s.closers, func() { os.RemoveAll(dir) })
	}
	relayLn, err := net.Listen("tcp", opts.RelayAddr)
	if err != nil {
		return fail(fmt.Errorf("relay: %w", err))
	}
	svc, err := service.Open(service.Options{Config: cfg, DataDir: dir, Logger: opts.Logger, Client: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		relayLn.Close()
		return fail(err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := svc.Start(runCtx); err != nil {
		cancel()
		svc.Close()
		relayLn.Close()
		return fail(err)
	}
	s.Relay = svc
	s.RelayURL = "http://" + relayLn.Addr().String()
	relaySrv := &http.Server{Handler: svc, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: MaxHeaderBytes}
	go func() { _ = relaySrv.Serve(relayLn) }()
	// closed in reverse: the relay's listener, then its delivery, then the simulator
	s.closers = append(s.closers, func() { cancel(); _ = svc.Close() }, func() { _ = relaySrv.Close() })
	return s, nil
}

// Close stops everything Start started.
func (s *Stack) Close() error {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
	return nil
}
