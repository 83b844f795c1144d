// Command simulator serves the fake CleverTap and the fake Piano collector.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "simulator:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status (e.g. a failed health check or report).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var e exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 2
}

const usage = `usage: simulator <command> [flags]

commands:
  serve    serve the fake CleverTap (every region) and the fake Piano collector
  emit     send one RevenueCat, Purchasely or AppsFlyer webhook, as the vendor sends it
  up       fake CleverTap + Piano + relay in one process; plays the built-in scenarios, then keeps serving
  run      play scenario files against a running stack (--relay URL --simulator URL)
  load     send many webhooks of one vendor to a local relay at a rate and report acks and latencies
  health   exit 0 when a simulator answers /_sim/health (for container health checks)

Run "simulator <command> -h" for a command's flags. Every flag has an environment twin SIMULATOR_<FLAG>.`

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("expected a command: serve, emit, up, run, load or health")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "emit":
		return runEmit(ctx, args[1:], getenv, stdout, stderr)
	case "health":
		return runHealth(ctx, args[1:], getenv, stdout, stderr)
	case "up":
		return runUp(ctx, args[1:], getenv, stdout, stderr)
	case "run":
		return runScenarios(ctx, args[1:], getenv, stdout, stderr)
	case "load":
		return runLoad(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q: expected serve, emit, up, run, load or health", args[0])
}
