package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// newHealthCmd checks a running simulator; images have no shell or curl, so compose health checks call this.
func newHealthCmd() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "health",
		Short:   "Exit 0 when a simulator answers /_sim/health, 1 when not (for container health checks)",
		Args:    cobra.NoArgs,
		Example: "  simulator health\n  simulator health --timeout 1s",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := clevertap.NewClient(url).Health(ctx); err != nil {
				return cli.Failed(fmt.Errorf("not healthy: %w", err))
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", defaultSimulatorURL, "simulator base URL")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}
