package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/envflag"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/relay/service"
	"github.com/ctharness/ctharness/scenarios"
)

// runUp starts the fake CleverTap + Piano and the relay in this process, plays the built-in scenarios once
// through every source, prints the report and keeps serving until interrupted (or exits with --once).
func runUp(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulator up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	simAddr := fs.String("listen", "127.0.0.1:8081", "address of the fake CleverTap and Piano")
	relayAddr := fs.String("relay-listen", "127.0.0.1:8080", "address of the relay")
	dataDir := fs.String("data-dir", "", "relay outbox directory (default: a temporary one)")
	once := fs.Bool("once", false, "exit after the report, with its status")
	label := fs.String("label", "", "play only scenarios with this label")
	fixtures := fs.String("fixtures", ".", "directory that scenario webhook files are relative to (the repository root)")
	logLevel := fs.String("log-level", "warn", "relay log level: debug, info, warn, error")
	if err := envflag.Parse(fs, args, "SIMULATOR_UP", getenv); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: expected debug, info, warn or error, got %q", *logLevel)
	}
	all, err := scenarios.LoadBuiltIn()
	if err != nil {
		return err
	}
	cfg := config.Default()
	harness.QuickRetries(&cfg)
	st, err := harness.StartInProcess(ctx, harness.Options{SimulatorAddr: *simAddr, RelayAddr: *relayAddr,
		DataDir: *dataDir, Relay: &cfg,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), Version: version})
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "fake CleverTap + Piano on %s   relay on %s\n\n", st.SimulatorURL, st.RelayURL)
	ok := playAll(ctx, filter(all, *label), scenarios.Target{SimulatorURL: st.SimulatorURL, RelayURL: st.RelayURL,
		RelayAdminToken: st.RelayAdminToken,
		FixtureRoot:     *fixtures}, stdout)
	if *once {
		if !ok {
			return exitError{code: 1, err: fmt.Errorf("some scenarios failed")}
		}
		return nil
	}
	fmt.Fprintf(stdout,
		"\nStill serving. Try:\n  go run ./cmd/simulator emit revenuecat INITIAL_PURCHASE --to %s/webhooks/revenuecat "+
			"--auth 'Bearer sim-revenuecat'\n", st.RelayURL)
	fmt.Fprintf(stdout, "  curl -s %s/_sim/events | head\n", st.SimulatorURL)
	fmt.Fprintf(stdout, "  curl -s -H \"Authorization: Bearer $(cat %s)\" %s/admin/deadletters\nCtrl-C to stop.\n",
		filepath.Join(st.Relay.DataDir(), service.AdminTokenFile), st.RelayURL)
	<-ctx.Done()
	return nil
}

// runScenarios plays scenario files against a running stack (any relay with the default config).
func runScenarios(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulator run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	relayURL := fs.String("relay", "http://127.0.0.1:8080", "relay base URL")
	simURL := fs.String("simulator", "http://127.0.0.1:8081", "simulator base URL")
	source := fs.String("source", "", "play only this source (revenuecat, purchasely, appsflyer)")
	label := fs.String("label", "", "play only scenarios with this label")
	builtIn := fs.Bool("built-in", false, "play the built-in scenarios (besides any files given)")
	fixtures := fs.String("fixtures", ".", "directory that scenario webhook files are relative to")
	relayToken := fs.String("relay-admin-token", "", "the relay's admin token, to read its dead letters")
	timeout := fs.Duration("timeout", 15*time.Second, "how long to wait for a scenario's records")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: simulator run [flags] scenario.yaml|dir ...")
		fs.PrintDefaults()
	}
	if err := envflag.Parse(fs, args, "SIMULATOR_RUN", getenv); err != nil {
		return err
	}
	list, err := scenarios.LoadPaths(fs.Args())
	if err != nil {
		return exitError{code: 2, err: err}
	}
	if *builtIn {
		more, err := scenarios.LoadBuiltIn()
		if err != nil {
			return err
		}
		list = append(list, more...)
	}
	if len(list) == 0 {
		return fmt.Errorf("expected scenario files or --built-in, got neither")
	}
	target := scenarios.Target{SimulatorURL: *simURL, RelayURL: *relayURL, RelayAdminToken: *relayToken,
		FixtureRoot: *fixtures, Timeout: *timeout}
	var only []string
	if *source != "" {
		only = []string{*source}
	}
	if !playAll(ctx, filter(list, *label), target, stdout, only...) {
		return exitError{code: 1, err: fmt.Errorf("some scenarios failed")}
	}
	return nil
}

func filter(list []*scenarios.Scenario, label string) []*scenarios.Scenario {
	if label == "" {
		return list
	}
	var out []*scenarios.Scenario
	for _, s := range list {
		if s.HasLabel(label) {
			out = append(out, s)
		}
	}
	return out
}

// playAll plays every scenario × source, several at a time (runs keep apart by their own ids), and prints
// the report in scenario order.
func playAll(ctx context.Context, list []*scenarios.Scenario, target scenarios.Target, stdout io.Writer,
	only ...string) bool {
	type job struct {
		s   *scenarios.Scenario
		src string
	}
	var jobs []job
	for _, s := range list {
		for _, src := range s.Sources {
			if len(only) == 0 || strings.EqualFold(only[0], src) {
				jobs = append(jobs, job{s, src})
			}
		}
	}
	results := make([]scenarios.Result, len(jobs))
	start := time.Now()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = scenarios.Play(ctx, j.s, j.src, target)
		})
	}
	wg.Wait()
	ok := scenarios.Report(stdout, results)
	fmt.Fprintf(stdout, "(%d runs in %s)\n", len(results), time.Since(start).Round(time.Millisecond))
	return ok
}
