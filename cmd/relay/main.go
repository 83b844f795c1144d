// Command relay turns RevenueCat, Purchasely and AppsFlyer webhooks into CleverTap (and Piano) uploads, the way
// each vendor's console integration does, durably and idempotently.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ctharness/ctharness/internal/envflag"
	"github.com/ctharness/ctharness/internal/profiling"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/relay/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "relay:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status (a damaged outbox found by `relay outbox check`).
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

// run is the whole program: "relay [flags]" serves, "relay health" checks a running relay.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "health" {
		return runHealth(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "outbox" {
		return runOutbox(args[1:], getenv, stdout, stderr)
	}
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "",
		"YAML config file (default: the built-in config for the simulator's default accounts)")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve webhooks, /metrics and /admin on")
	dataDir := fs.String("data-dir", "./data", "directory of the durable outbox")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	printConfig := fs.Bool("print-config", false, "print the default config and exit")
	adminToken := fs.String("admin-token", "",
		"the token the admin routes ask for (Authorization: Bearer ...); default: a random one kept in <data-dir>/"+
			service.AdminTokenFile)
	startEmpty := fs.Bool("outbox-start-empty", false,
		"when the outbox was emptied or is damaged, set it aside and start with an empty one (what it held is lost)")
	pprofAddr := fs.String("pprof", "",
		"serve Go's pprof profiles on this loopback address, e.g. 127.0.0.1:6060 (off by default)")
	fs.Usage = func() {
		fmt.Fprintln(stderr,
			"usage: relay [flags]   |   relay health [--url URL]   |   relay outbox check|salvage [flags]\n\n"+
				"Every flag has an environment twin RELAY_<FLAG>; flags win.")
		fs.PrintDefaults()
	}
	if err := envflag.Parse(fs, args, "RELAY", getenv); err != nil {
		return err
	}
	if *printConfig {
		_, err := stdout.Write(config.DefaultYAML)
		return err
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	cfg := config.Default()
	if *configPath != "" {
		if cfg, err = config.Load(*configPath); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	// the relay's live heap is small (queues; bbolt's pages are mapped outside the heap)
	profiling.RelaxGC(getenv)
	if *pprofAddr != "" {
		stop, err := profiling.Serve(*pprofAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	svc, err := service.Open(service.Options{Config: cfg, DataDir: *dataDir, Logger: log, Client: &http.Client{},
		StartEmpty: *startEmpty, AdminToken: *adminToken})
	if err != nil {
		return err
	}
	// started before it listens: a relay that cannot resume its outbox never takes a webhook
	if err := svc.Start(ctx); err != nil {
		svc.Close()
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		svc.Close()
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	srv := svc.HTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(svc.Listener(ln)) }()
	fmt.Fprintf(stdout, "relay listening on http://%s (outbox %s)\n", ln.Addr(), *dataDir)
	for _, name := range svc.Sources() {
		fmt.Fprintf(stdout, "  POST http://%s/webhooks/%s\n", ln.Addr(), name)
	}
	fmt.Fprintf(stdout, "  GET  http://%s/metrics\n", ln.Addr())
	tokenFrom := "--admin-token / RELAY_ADMIN_TOKEN"
	if *adminToken == "" {
		tokenFrom = filepath.Join(*dataDir, service.AdminTokenFile)
	}
	fmt.Fprintf(stdout, "  GET  http://%s/admin/deadletters   (Authorization: Bearer <the token in %s>)\n", ln.Addr(),
		tokenFrom)
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	if cerr := svc.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: expected debug, info, warn or error, got %q", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: expected text or json, got %q", format)
}

// runHealth exits 0 when a relay answers /readyz (images have no shell or curl).
func runHealth(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "relay base URL")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := envflag.Parse(fs, args, "RELAY_HEALTH", getenv); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(*url, "/")+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not healthy: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: HTTP %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
