// Command simulator serves the fake CleverTap and the fake Piano collector, plays the vendors, and runs scenarios.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ctharness/ctharness/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=..."; /_sim/health reports the same.
var version = "dev"

// envPrefix is the environment twins' prefix: every flag --x-y has SIMULATOR_X_Y.
const envPrefix = "SIMULATOR"

// The stack `make run` (simulator up) starts: emit, load and run default to it.
const (
	defaultRelayURL     = "http://127.0.0.1:8080"
	defaultSimulatorURL = "http://127.0.0.1:8081"
)

func main() {
	version = cli.Version(version)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, w := range cli.UnknownEnv(newRoot(os.Getenv), envPrefix, os.Environ()) {
		fmt.Fprintln(os.Stderr, w)
	}
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.Exit("simulator", err, os.Stderr))
}

// run is the whole program; main only wires the process to it. The error carries the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cli.Execute(ctx, newRoot(getenv), args, envPrefix, getenv, stdout, stderr)
}

// newRoot is the command tree; getenv is the environment the commands read beyond their flags' twins.
func newRoot(getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "simulator",
		Short: "Fake CleverTap and Piano, the vendors' emitters, and scenarios played end to end",
		Long: `simulator serves a fake CleverTap (every region) and a fake Piano collector, sends RevenueCat, Purchasely
and AppsFlyer webhooks as the vendors do, and plays purchase scenarios against a relay.

Every flag has an environment twin SIMULATOR_<FLAG> (--journal-limit: SIMULATOR_JOURNAL_LIMIT); a flag given on
the command line wins. Exit codes: 0 ok, 1 what was checked failed, 2 a flag, argument or file is wrong (or
nothing was selected), 3 the stack cannot be reached, 4 the disk is full.`,
		Version: version,
		Example: `  simulator up                      # the whole stack on :8081 and :8080, the built-in scenarios played
  simulator emit revenuecat RENEWAL # one webhook to that stack's relay
  simulator run examples/scenarios/my-trial.yaml   # a scenario against it`,
	}
	root.SetVersionTemplate("simulator {{.Version}}\n")
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(cmd.ErrOrStderr())
		_ = cmd.Help()
		return cli.Usagef("expected a command: serve, up, tail, emit, run, load, health, proxy or replay")
	}
	root.AddCommand(newServeCmd(), newEmitCmd(), newUpCmd(), newTailCmd(getenv), newRunCmd(getenv), newLoadCmd(),
		newHealthCmd(), newProxyCmd(getenv), newReplayCmd(getenv))
	return root
}
