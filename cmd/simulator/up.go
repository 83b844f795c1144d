package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/adminguard"
	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/scenarios"
	"github.com/ctharness/ctharness/simulator/inspector"
)

// upFlags are `simulator up`'s flags.
type upFlags struct {
	listen, relayListen, dataDir, logLevel, fixtures, relayToken, allowedHosts string
	labels                                                                     []string
	once                                                                       bool
	parallel                                                                   int
}

func newUpCmd() *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "The whole stack in one process (fake CleverTap + Piano, relay); plays the built-in scenarios, then serves",
		Long: `up starts the fake CleverTap and Piano (--listen) and the relay (--relay-listen) in one process, plays every
built-in scenario through every source it names, prints the report, and keeps serving until interrupted
(--once: exits with the report's status instead). "make run" is "simulator up".`,
		Example: `  simulator up
  simulator up --once --label refund
  simulator up --listen 127.0.0.1:9081 --relay-listen 127.0.0.1:9080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return up(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8081", "address of the fake CleverTap and Piano")
	fs.StringVar(&f.relayListen, "relay-listen", "127.0.0.1:8080", "address of the relay")
	fs.StringVar(&f.dataDir, "data-dir", "", "relay outbox directory (default: a temporary one)")
	fs.StringVar(&f.relayToken, "relay-admin-token", harness.DevAdminToken,
		"the relay's admin token (the default is the development stack's, accepted on loopback only)")
	fs.BoolVar(&f.once, "once", false, "exit after the report, with its status")
	fs.StringArrayVar(&f.labels, "label", nil, "play only scenarios with this label (repeatable: any of them)")
	fs.StringVar(&f.fixtures, "fixtures", "", "directory that scenario webhook files are relative to")
	fs.IntVar(&f.parallel, "parallel", 8, "runs played at the same time")
	fs.StringVar(&f.allowedHosts, "allowed-hosts", "", adminguard.FlagHelp+" (the simulator's and the relay's)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "relay log level: debug, info, warn, error")
	return cmd
}

func up(ctx context.Context, f upFlags, stdout, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return cli.Usagef("--log-level: expected debug, info, warn or error, got %q", f.logLevel)
	}
	if f.relayToken == harness.DevAdminToken && !loopback(f.relayListen) {
		return cli.Usagef("--relay-listen %s is reachable from other machines: set --relay-admin-token (the "+
			"default token is the development stack's, for loopback only)", f.relayListen)
	}
	if _, err := adminguard.New(f.allowedHosts); err != nil {
		return cli.Usage(err)
	}
	all, err := scenarios.LoadBuiltIn()
	if err != nil {
		return err
	}
	jobs, err := selectRuns(all, f.labels, "")
	if err != nil {
		return err
	}
	cfg := config.Default()
	harness.QuickRetries(&cfg)
	st, err := harness.StartInProcess(ctx, harness.Options{SimulatorAddr: f.listen, RelayAddr: f.relayListen,
		DataDir: f.dataDir, Relay: &cfg, AdminToken: f.relayToken, AllowedHosts: []string{f.allowedHosts},
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), Version: version})
	if err != nil {
		var le *harness.ListenError
		if errors.As(err, &le) {
			flag := map[string]string{"simulator": "--listen", "relay": "--relay-listen"}[le.Server]
			return listenError(flag, le.Addr, le.Err)
		}
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "fake CleverTap + Piano on %s   relay on %s\ninspector: %s%s\n\n", st.SimulatorURL,
		st.RelayURL, st.SimulatorURL, inspector.Prefix)
	target := scenarios.Target{SimulatorURL: st.SimulatorURL, RelayURL: st.RelayURL,
		RelayAdminToken: st.RelayAdminToken, FixtureRoot: f.fixtures}
	st.Simulator.Inspector.SetPlayer(scenarios.Player{Target: target, List: all})
	results := playAll(ctx, jobs, target, f.parallel, false, stdout, stderr)
	for _, r := range results {
		st.Simulator.Inspector.Record(scenarios.RunOf(r))
	}
	if f.once {
		if !allPassed(results) {
			return cli.Failed(fmt.Errorf("%d of %d runs failed", len(results)-passed(results), len(results)))
		}
		return nil
	}
	fmt.Fprintf(stdout, `
Still serving. Try:
  open %s%s (the inspector: what arrives, live)
  simulator tail
  simulator emit revenuecat INITIAL_PURCHASE --user u1 --clevertap-id ct-1
  simulator run examples/scenarios/my-trial.yaml
  curl -s %s/_sim/events | head
  curl -s -H 'Authorization: Bearer %s' %s/admin/deadletters
Ctrl-C to stop.
`, st.SimulatorURL, inspector.Prefix, st.SimulatorURL, adminTokenShown(f.relayToken), st.RelayURL)
	<-ctx.Done()
	return nil
}

// adminTokenShown is the token to print: the development default as it is, a chosen one never.
func adminTokenShown(token string) string {
	if token == harness.DevAdminToken {
		return token
	}
	return "<your --relay-admin-token>"
}

// loopback says whether an address listens on the loopback interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
