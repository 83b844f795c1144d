// Package harness starts the stack the suites run against, or points at one that is already running:
// HARNESS_MODE=inprocess (default) starts the simulator and the relay in this process on 127.0.0.1 ports;
// HARNESS_MODE=external uses the URLs in HARNESS_SIMULATOR_URL and HARNESS_RELAY_URL (e.g. a docker compose
// stack).
package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/stack"
)

// Mode is how the suites reach the stack.
type Mode string

const (
	InProcess  Mode = "inprocess"
	External   Mode = "external"
	Containers Mode = "containers"
)

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
		return Containers, nil
	default:
		return "", fmt.Errorf("HARNESS_MODE=%q: expected inprocess, external or containers", m)
	}
}

// Stack is a running simulator and relay the suites talk to over HTTP.
type Stack struct {
	SimulatorURL string
	// RelayURL is empty for an external stack without HARNESS_RELAY_URL (the contract suite needs none).
	RelayURL string
	stop     func(context.Context) error
}

// Stop shuts down what Start started; for an external stack it does nothing.
func (s *Stack) Stop(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	return s.stop(ctx)
}

// Start brings up the stack for mode and waits until it answers its health route.
func Start(ctx context.Context, mode Mode, getenv func(string) string) (*Stack, error) {
	var stack *Stack
	switch mode {
	case External:
		stack = &Stack{SimulatorURL: strings.TrimSuffix(getenv("HARNESS_SIMULATOR_URL"), "/"), RelayURL: strings.TrimSuffix(getenv("HARNESS_RELAY_URL"), "/")}
	case Containers:
		var err error
		if stack, err = startContainers(ctx); err != nil {
			return nil, err
		}
	default:
		var err error
		if stack, err = startInProcess(ctx); err != nil {
			return nil, err
		}
	}
	if err := waitHealthy(ctx, stack.SimulatorURL); err != nil {
		_ = stack.Stop(ctx)
		return nil, err
	}
	return stack, nil
}

func startInProcess(ctx context.Context) (*Stack, error) {
	cfg := config.Default()
	stack.QuickRetries(&cfg)
	st, err := stack.Start(ctx, stack.Options{Relay: &cfg, Version: "suite"})
	if err != nil {
		return nil, err
	}
	return &Stack{SimulatorURL: st.SimulatorURL, RelayURL: st.RelayURL, stop: func(context.Context) error { return st.Close() }}, nil
}

func waitHealthy(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := clevertap.NewClient(url)
	for {
		err := c.Health(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("simulator at %s not healthy within 30s: %w", url, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartShared is the first function of a SynchronizedBeforeSuite: it starts the stack HARNESS_MODE asks for and
// returns its URLs, encoded for every parallel process, and the stop function to defer.
func StartShared(ctx context.Context, getenv func(string) string, needRelay bool) ([]byte, func(context.Context) error, error) {
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
	data, err := json.Marshal(URLs{Simulator: st.SimulatorURL, Relay: st.RelayURL})
	return data, st.Stop, err
}

// URLs are where the shared stack answers.
type URLs struct {
	Simulator string `json:"simulator"`
	Relay     string `json:"relay"`
}

// SharedURLs decodes what StartShared returned, in every process.
func SharedURLs(data []byte) (URLs, error) {
	var u URLs
	err := json.Unmarshal(data, &u)
	return u, err
}
