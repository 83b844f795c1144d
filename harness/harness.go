// Package harness starts the stack (the fake CleverTap and Piano, and the relay) in every mode the project
// knows: in this process (StartInProcess), as child processes (Process: kill -9 and restarts), as containers
// (the containers module, github.com/ctharness/ctharness/containers, which registers itself for
// HARNESS_MODE=containers in the suites that import it), or an external stack already
// running (HARNESS_MODE=external). A story's own relay (StartRelay) and the stacks shared by parallel Ginkgo
// processes (StartShared) start here too: it is the only place that builds servers for tests.
package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/relay/service"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// Mode is how the suites reach the stack.
type Mode string

// The modes. Containers is served by the containers module, which a suite imports to offer it.
const (
	InProcess  Mode = "inprocess"
	External   Mode = "external"
	Containers Mode = "containers"
)

// Starter starts a stack for a mode registered by another package.
type Starter func(ctx context.Context, getenv func(string) string) (*Stack, error)

var (
	startersMu sync.Mutex
	starters   = map[Mode]Starter{}
)

// RegisterMode makes a mode available to Start (the containers module registers Containers).
func RegisterMode(m Mode, s Starter) {
	startersMu.Lock()
	defer startersMu.Unlock()
	starters[m] = s
}

func registered(m Mode) (Starter, bool) {
	startersMu.Lock()
	defer startersMu.Unlock()
	s, ok := starters[m]
	return s, ok
}

// ModeFromEnv reads HARNESS_MODE.
func ModeFromEnv(getenv func(string) string) (Mode, error) {
	switch m := Mode(strings.ToLower(getenv("HARNESS_MODE"))); m {
	case "", InProcess:
		return InProcess, nil
	case External:
		if getenv("HARNESS_SIMULATOR_URL") == "" {
			return "", errors.New("HARNESS_MODE=external needs HARNESS_SIMULATOR_URL, e.g. http://127.0.0.1:8081")
		}
		return External, nil
	case Containers:
		if _, ok := registered(Containers); !ok {
			return "", errors.New("HARNESS_MODE=containers: this suite does not offer containers; the containers " +
				"module's suite plays the built-in scenarios through them (cd containers && go test ./...), and a " +
				"suite of your own offers them by importing github.com/ctharness/ctharness/containers")
		}
		return Containers, nil
	default:
		return "", fmt.Errorf("HARNESS_MODE=%q: expected inprocess, external or containers", m)
	}
}

// Stack is a running simulator and relay, reached over HTTP.
type Stack struct {
	SimulatorURL string
	// RelayURL is empty for an external stack without HARNESS_RELAY_URL (the contract suite needs none).
	RelayURL string
	// RelayAdminToken opens the relay's admin routes (HARNESS_RELAY_ADMIN_TOKEN for an external stack).
	RelayAdminToken string
	// Simulator and Relay are the servers of an in-process stack (nil otherwise).
	Simulator *simulator.Simulator
	Relay     *service.Service
	stop      func(context.Context) error
}

// NewStack wraps a stack started elsewhere (e.g. containers) with the function that stops it.
func NewStack(simulatorURL, relayURL, relayAdminToken string, stop func(context.Context) error) *Stack {
	return &Stack{SimulatorURL: simulatorURL, RelayURL: relayURL, RelayAdminToken: relayAdminToken, stop: stop}
}

// Stop shuts down what Start started; for an external stack it does nothing.
func (s *Stack) Stop(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	stop := s.stop
	s.stop = nil
	return stop(ctx)
}

// Close is Stop without a deadline (for defer and DeferCleanup).
func (s *Stack) Close() error { return s.Stop(context.Background()) }

// Start brings up the stack for mode and waits until it answers its health route.
func Start(ctx context.Context, mode Mode, getenv func(string) string) (*Stack, error) {
	var (
		st  *Stack
		err error
	)
	switch mode {
	case External:
		st = &Stack{SimulatorURL: strings.TrimSuffix(getenv("HARNESS_SIMULATOR_URL"), "/"),
			RelayURL:        strings.TrimSuffix(getenv("HARNESS_RELAY_URL"), "/"),
			RelayAdminToken: getenv("HARNESS_RELAY_ADMIN_TOKEN")}
	case InProcess:
		cfg := config.Default()
		QuickRetries(&cfg)
		st, err = StartInProcess(ctx, Options{Relay: &cfg, Version: "suite"})
	default:
		start, ok := registered(mode)
		if !ok {
			return nil, fmt.Errorf("mode %q is not available here", mode)
		}
		st, err = start(ctx, getenv)
	}
	if err != nil {
		return nil, err
	}
	if err := WaitHealthy(ctx, st.SimulatorURL, 30*time.Second); err != nil {
		_ = st.Stop(ctx)
		return nil, err
	}
	return st, nil
}

// WaitHealthy polls a simulator's health route until it answers or the timeout passes.
func WaitHealthy(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := clevertap.NewClient(url)
	for {
		err := c.Health(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("simulator at %s not healthy within %s: %w", url, timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartShared is the first function of a SynchronizedBeforeSuite: it starts the stack HARNESS_MODE asks for and
// returns its URLs, encoded for every parallel process, and the stop function to defer.
func StartShared(ctx context.Context, getenv func(string) string, needRelay bool) ([]byte, func(context.Context) error,
	error) {
	mode, err := ModeFromEnv(getenv)
	if err != nil {
		return nil, nil, err
	}
	st, err := Start(ctx, mode, getenv)
	if err != nil {
		return nil, nil, err
	}
	if needRelay && st.RelayURL == "" {
		_ = st.Stop(ctx)
		return nil, nil, errors.New("this suite needs a relay: set HARNESS_RELAY_URL with HARNESS_MODE=external")
	}
	data, err := json.Marshal(URLs{Simulator: st.SimulatorURL, Relay: st.RelayURL, RelayAdminToken: st.RelayAdminToken})
	return data, st.Stop, err
}

// URLs are where the shared stack answers.
type URLs struct {
	Simulator       string `json:"simulator"`
	Relay           string `json:"relay"`
	RelayAdminToken string `json:"relay_admin_token"`
}

// SharedURLs decodes what StartShared returned, in every process.
func SharedURLs(data []byte) (URLs, error) {
	var u URLs
	err := json.Unmarshal(data, &u)
	return u, err
}
