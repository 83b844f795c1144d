package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/relay/config"
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
start the relay on NEWDIR afterwards. With --outbox-dsn (RELAY_OUTBOX_DSN) it moves them into a Postgres outbox
instead, in one transaction, and marks the data dir as moved so that no relay starts on it again.`,
		Example: `  relay outbox check --data-dir data
  relay outbox salvage --data-dir data --to data2
  RELAY_OUTBOX_DSN=postgres://relay@127.0.0.1:5432/relay relay outbox salvage --data-dir data2`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return cli.Usagef("outbox: expected check or salvage") },
	}
	var dataDir, to, dsn, configPath string
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
		Use:   "salvage --to NEWDIR | --outbox-dsn DSN",
		Short: "Copy everything readable into a new outbox in NEWDIR, or move it into a Postgres outbox",
		Args:  cobra.NoArgs,
		Example: `  relay outbox salvage --data-dir data --to salvaged
  RELAY_OUTBOX_DSN=postgres://relay@127.0.0.1:5432/relay relay outbox salvage --data-dir salvaged`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// --to on the command line wins over a DSN in the environment (a relay's environment may hold one)
			switch {
			case to != "" && cmd.Flags().Changed("outbox-dsn"):
				return cli.Usagef("outbox salvage: expected --to NEWDIR or --outbox-dsn, not both")
			case to == "":
				cfg, err := loadConfig(configPath, dsn)
				if err != nil {
					return err
				}
				if cfg.Outbox.Driver != "postgres" {
					return cli.Usagef("outbox salvage: expected --to NEWDIR, the directory of the new outbox, or " +
						"--outbox-dsn (RELAY_OUTBOX_DSN), a Postgres outbox")
				}
				return moveOutbox(cmd, dataDir, cfg.Outbox)
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
	salvage.Flags().StringVar(&configPath, "config", "", "YAML config file naming the Postgres outbox (outbox.dsn, "+
		"outbox.allow_async_commit)")
	salvage.Flags().StringVar(&dsn, "outbox-dsn", "", "move it into the Postgres outbox there instead (a secret: "+
		"prefer RELAY_OUTBOX_DSN)")
	cmd.AddCommand(check, salvage)
	return cmd
}

// moveOutbox moves the bbolt outbox in dataDir into the Postgres outbox o names, then marks dataDir as moved.
func moveOutbox(cmd *cobra.Command, dataDir string, o config.Outbox) error {
	from, rep, err := outbox.ReadToMove(dataDir)
	if err != nil {
		return cli.Usage(err)
	}
	defer from.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Minute)
	defer cancel()
	to, err := postgres.Open(ctx, postgres.Options{DSN: o.DSN, Migrate: true, StatementTimeout: o.StatementTimeout,
		AllowAsyncCommit: o.AllowAsyncCommit})
	if err != nil {
		return cli.Unreachable(err)
	}
	// closed only after the data dir is marked: a move that committed is never reported as nothing moved
	defer to.Close()
	moved, err := to.Move(ctx, from)
	if err != nil {
		return cli.Failed(fmt.Errorf("moving %s into %s: %w (nothing was moved)", rep.Path, to.Where(), err))
	}
	if err := outbox.MarkMoved(dataDir, to.Where(), time.Now()); err != nil {
		return cli.Failed(fmt.Errorf("moved into %s, but could not mark %s as moved (%w): do not start a relay on "+
			"it, its jobs would be sent twice", to.Where(), dataDir, err))
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "moved into %s: %d pending jobs (%d of them uploads in doubt), %d dead letters, %d event ids; "+
		"%d damaged places could not be moved\n", to.Where(), moved.Jobs, moved.InDoubt, moved.Dead, moved.Seen,
		len(rep.Damage))
	if moved.Duplicates > 0 {
		fmt.Fprintf(out, "%d jobs were not moved: the Postgres outbox already knew their webhooks (a vendor's "+
			"redelivery, or a copy of this outbox moved before), and delivers them from there\n", moved.Duplicates)
	}
	if moved.Waiting > 0 {
		fmt.Fprintf(out, "the outbox already held %d jobs: the moved ones are queued after them\n", moved.Waiting)
	}
	fmt.Fprintf(out, "%s is marked as moved: start the relays with the Postgres outbox\n", dataDir)
	return nil
}
