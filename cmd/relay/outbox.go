package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/relay/outbox"
	"github.com/ctharness/ctharness/relay/outbox/postgres"
	"github.com/spf13/cobra"
)

func newOutboxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "outbox check|salvage",
		Short: "Check a damaged outbox, or salvage what it holds into a new one",
		Long: `check reads the outbox without opening it as a database (a damaged file cannot crash it) and says what it
holds and what is damaged: exit 0 whole, 1 damaged, 2 not readable at all. With --outbox-dsn (RELAY_OUTBOX_DSN) it
checks a Postgres outbox: every job decodes and its seal holds, and what is in doubt (marked by a replica gone).
salvage copies every readable job (with its id), dead letter and remembered event id into a new outbox in NEWDIR;
start the relay on NEWDIR afterwards.`,
		Example: `  relay outbox check --data-dir data
  relay outbox salvage --data-dir data --to data2`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return cli.Usagef("outbox: expected check or salvage") },
	}
	var dataDir, to, dsn string
	var asJSON bool
	check := &cobra.Command{
		Use:     "check",
		Short:   "Say what the outbox holds and what is damaged (exit 0 whole, 1 damaged, 2 not readable)",
		Args:    cobra.NoArgs,
		Example: "  relay outbox check --data-dir data --json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(dataDir, outbox.FileName)
			var rep outbox.Report
			var err error
			if dsn != "" {
				rep, err = postgres.Check(cmd.Context(), dsn)
				path = rep.Path
				if err != nil {
					return cli.Unreachable(err)
				}
			} else if rep, err = outbox.Check(path); err != nil {
				return cli.Usage(err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				_ = enc.Encode(rep)
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), rep)
			}
			if !rep.OK() {
				return cli.Failed(fmt.Errorf("outbox %s is damaged", path))
			}
			return nil
		},
	}
	check.Flags().StringVar(&dataDir, "data-dir", "./data", "directory of the outbox")
	check.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	check.Flags().StringVar(&dsn, "outbox-dsn", "", "check the Postgres outbox there instead (a secret: prefer "+
		"RELAY_OUTBOX_DSN)")
	salvage := &cobra.Command{
		Use:     "salvage --to NEWDIR",
		Short:   "Copy everything readable into a new outbox in NEWDIR",
		Args:    cobra.NoArgs,
		Example: "  relay outbox salvage --data-dir data --to salvaged",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return cli.Usagef("outbox salvage: expected --to NEWDIR, the directory of the new outbox")
			}
			rep, err := outbox.Salvage(filepath.Join(dataDir, outbox.FileName), to)
			if err != nil {
				return cli.Usage(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "salvaged into %s: %d pending jobs, %d dead letters, %d event ids; %d "+
				"damaged places could not be copied\nstart the relay with --data-dir %s\n", to, rep.Pending, rep.Dead,
				rep.Seen, len(rep.Damage), to)
			return nil
		},
	}
	salvage.Flags().StringVar(&dataDir, "data-dir", "./data", "directory of the outbox")
	salvage.Flags().StringVar(&to, "to", "", "the new outbox's directory (must not hold one)")
	cmd.AddCommand(check, salvage)
	return cmd
}
