// Package harness starts the stack the suites run against, or points at one that is already running:
// HARNESS_MODE=inprocess (default) starts it in this process on 127.0.0.1 ports; HARNESS_MODE=external uses
// the URLs in HARNESS_SIMULATOR_URL (and, later, HARNESS_RELAY_URL).
package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// Mode is how the suites reach the stack.
type Mode string

const (
	InProcess Mode = "inprocess"
	External  Mode = "external"
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
	default:
		return "", fmt.Errorf("HARNESS_MODE=%q: expected inprocess or external", m)
	}
}

// Stack is a running simulator the suites talk to over HTTP.
type Stack struct {
	SimulatorURL string
	stop         func(context.Context) error
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
		stack = &Stack{SimulatorURL: strings.TrimSuffix(getenv("HARNESS_SIMULATOR_URL"), "/")}
	default:
		var err error
		if stack, err = startInProcess(); err != nil {
			return nil, err
		}
	}
	if err := waitHealthy(ctx, stack.SimulatorURL); err != nil {
		_ = stack.Stop(ctx)
		return nil, err
	}
	return stack, nil
}

func startInProcess() (*Stack, error) {
	sim, err := simulator.New(simulator.Config{}, clevertap.Options{Version: "suite"})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Stack{SimulatorURL: "http://" + ln.Addr().String(), stop: srv.Shutdown}, nil
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
