// Command relay turns RevenueCat, Purchasely and AppsFlyer webhooks into CleverTap (and Piano) uploads, the way
// each vendor's console integration does, durably and idempotently.
package main

import (
	"context"
	"errors"
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

	"github.com/ctharness/ctharness/internal/adminguard"
	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/profiling"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/relay/outbox/postgres"
	"github.com/ctharness/ctharness/relay/service"
	"github.com/spf13/cobra"
)

// envPrefix is the environment twins' prefix: every flag --x-y has RELAY_X_Y.
const envPrefix = "RELAY"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	version = cli.Version(version)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, w := range cli.UnknownEnv(newRoot(), envPrefix, os.Environ()) {
		fmt.Fprintln(os.Stderr, w)
	}
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.Exit("relay", err, os.Stderr))
}

// run is the whole program; main only wires the process to it. The error carries the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cli.Execute(ctx, newRoot(), args, envPrefix, getenv, stdout, stderr)
}

// relayFlags are the flags of the relay itself.
type relayFlags struct {
	config, listen, dataDir, logLevel, logFormat, adminToken, pprof, allowedHosts, outboxDSN string
	printConfig, startEmpty, noMigrate                                                       bool
}

func newRoot() *cobra.Command {
	var f relayFlags
	root := &cobra.Command{
		Use:   "relay",
		Short: "Turn RevenueCat, Purchasely and AppsFlyer webhooks into CleverTap and Piano uploads, durably",
		Long: `relay serves vendor webhooks and relays them to CleverTap (and Piano) the way each vendor's console
integration does: durably (an acknowledged webhook is in the outbox), idempotently, with retries.

Every flag has an environment twin RELAY_<FLAG> (--data-dir: RELAY_DATA_DIR); a flag given on the command line
wins. Exit codes: 0 ok, 1 what was checked failed, 2 a flag, argument or file is wrong, 3 cannot be reached,
4 the disk is full.`,
		Version: version,
		Example: `  relay                                   # the default config: the simulator's default accounts
  relay --config docker/rootfs/etc/relay/relay.yaml --data-dir data
  relay --print-config > relay.yaml       # a start for your own`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveRelay(cmd.Context(), f, os.Getenv, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	root.SetVersionTemplate("relay {{.Version}}\n")
	fs := root.Flags()
	fs.StringVar(&f.config, "config", "",
		"YAML config file (default: the built-in config for the simulator's default accounts)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to serve webhooks, /metrics and /admin on")
	fs.StringVar(&f.dataDir, "data-dir", "./data", "directory of the durable outbox")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&f.printConfig, "print-config", false, "print the default config and exit")
	fs.StringVar(&f.adminToken, "admin-token", "",
		"the token the admin routes ask for (Authorization: Bearer ...); default: a random one kept in <data-dir>/"+
			service.AdminTokenFile)
	fs.StringVar(&f.allowedHosts, "allowed-hosts", "", adminguard.FlagHelp+" (/admin; webhooks answer any host)")
	fs.BoolVar(&f.startEmpty, "outbox-start-empty", false,
		"when the outbox was emptied or is damaged, set it aside and start with an empty one (what it held is lost)")
	fs.StringVar(&f.pprof, "pprof", "",
		"serve Go's pprof profiles on this loopback address, e.g. 127.0.0.1:6060 (off by default)")
	fs.StringVar(&f.outboxDSN, "outbox-dsn", "", "keep the outbox in this PostgreSQL database, shared with other "+
		"relays (a secret: prefer RELAY_OUTBOX_DSN; sets outbox.driver postgres)")
	fs.BoolVar(&f.noMigrate, "no-migrate", false,
		"with a Postgres outbox, refuse to start unless relay migrate has brought its schema to this relay's")
	root.AddCommand(newHealthCmd(), newOutboxCmd(), newMigrateCmd())
	return root
}

// serveRelay is the relay: it starts on its outbox before it listens, and serves until the context ends.
func serveRelay(ctx context.Context, f relayFlags, getenv func(string) string, stdout, stderr io.Writer) error {
	if f.printConfig {
		_, err := stdout.Write(config.DefaultYAML)
		return err
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return cli.Usage(err)
	}
	if _, err := adminguard.New(f.allowedHosts); err != nil {
		return cli.Usage(err)
	}
	cfg, err := loadConfig(f.config, f.outboxDSN)
	if err != nil {
		return err
	}
	// the relay's live heap is small (queues; bbolt's pages are mapped outside the heap)
	profiling.RelaxGC(getenv)
	if cfg.Outbox.Driver == "bbolt" { // its commits block threads in fdatasync; Postgres' wait on the network
		profiling.SpareProc(getenv)
	}
	if f.pprof != "" {
		stop, err := profiling.Serve(f.pprof)
		if err != nil {
			return cli.Usagef("--pprof: %w", err)
		}
		defer stop()
	}
	svc, err := service.Open(service.Options{Config: cfg, DataDir: f.dataDir, Logger: log, Client: &http.Client{},
		StartEmpty: f.startEmpty, AdminToken: f.adminToken, AllowedHosts: []string{f.allowedHosts},
		NoMigrate: f.noMigrate})
	if err != nil {
		return err
	}
	// started before it listens: a relay that cannot resume its outbox never takes a webhook
	if err := svc.Start(ctx); err != nil {
		svc.Close()
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		svc.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			return cli.Usagef("--listen %s: the address is in use (another relay or stack running?); stop it, or "+
				"use another address with --listen (or RELAY_LISTEN)", f.listen)
		}
		return cli.Usagef("--listen %s: %v", f.listen, err)
	}
	srv := svc.Server()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "relay listening on http://%s (outbox %s)\n", ln.Addr(), svc.OutboxWhere())
	for _, name := range svc.Sources() {
		fmt.Fprintf(stdout, "  POST http://%s/webhooks/%s\n", ln.Addr(), name)
	}
	fmt.Fprintf(stdout, "  GET  http://%s/metrics\n", ln.Addr())
	tokenFrom := "--admin-token / RELAY_ADMIN_TOKEN"
	if f.adminToken == "" {
		tokenFrom = filepath.Join(f.dataDir, service.AdminTokenFile)
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
	return err // fasthttp's Serve returns nil once shut down
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

// newHealthCmd exits 0 when a relay answers /readyz, 1 when not (images have no shell or curl).
func newHealthCmd() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "health",
		Short:   "Exit 0 when a relay answers /readyz, 1 when not (for container health checks)",
		Args:    cobra.NoArgs,
		Example: "  relay health\n  relay health --timeout 1s",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := adminclient.New(url, "").Ready(ctx); err != nil {
				return cli.Failed(fmt.Errorf("not healthy: %w", err))
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080", "relay base URL")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

// loadConfig is the config file (or the built-in one), with --outbox-dsn (RELAY_OUTBOX_DSN) putting the outbox in
// that Postgres database.
func loadConfig(path, dsn string) (config.Config, error) {
	cfg := config.Default()
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return cfg, cli.Usagef("config: %w", err)
		}
	}
	if dsn != "" {
		cfg.Outbox.Driver, cfg.Outbox.DSN = "postgres", dsn
	}
	if _, err := cfg.Build(); err != nil {
		return cfg, cli.Usagef("config: %w", err)
	}
	return cfg, nil
}

func newMigrateCmd() *cobra.Command {
	var configPath, dsn string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring a Postgres outbox's schema to this relay's version (safe from several relays at once)",
		Long: `migrate applies the outbox schema's migrations this relay knows and the database lacks, forward only,
under a lock (relays starting together apply each once). A relay migrates at start-up too unless --no-migrate.
A database whose schema is newer than this relay knows is refused.`,
		Args: cobra.NoArgs,
		Example: `  RELAY_OUTBOX_DSN=postgres://relay@127.0.0.1:5432/relay relay migrate
  relay migrate --outbox-dsn postgres://relay@127.0.0.1:5432/relay`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath, dsn)
			if err != nil {
				return err
			}
			if cfg.Outbox.Driver != "postgres" {
				return cli.Usagef("migrate: the outbox is %s; expected outbox.driver postgres with outbox.dsn, or "+
					"--outbox-dsn (RELAY_OUTBOX_DSN)", cfg.Outbox.Driver)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			s, err := postgres.Open(ctx, postgres.Options{DSN: cfg.Outbox.DSN, Migrate: true,
				AllowAsyncCommit: cfg.Outbox.AllowAsyncCommit})
			if err != nil {
				return cli.Unreachable(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "outbox %s: schema at version %d\n", s.Where(), postgres.SchemaVersion)
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML config file with outbox.dsn")
	cmd.Flags().StringVar(&dsn, "outbox-dsn", "", "the PostgreSQL database (a secret: prefer RELAY_OUTBOX_DSN)")
	return cmd
}
