package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/ctharness/ctharness/internal/envflag"
	"github.com/ctharness/ctharness/relay/outbox"
)

const outboxUsage = `usage: relay outbox check [--data-dir DIR] [--json]
       relay outbox salvage [--data-dir DIR] --to NEWDIR

check reads the outbox without opening it as a database (a damaged file cannot crash it) and says what it holds
and what is damaged: exit 0 whole, 1 damaged, 2 not readable at all.
salvage copies every readable job (with its id), dead letter and remembered event id into a new outbox in NEWDIR;
start the relay on NEWDIR afterwards.`

// runOutbox is `relay outbox check|salvage`: what to do when the relay refuses a damaged outbox.
func runOutbox(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "salvage") {
		fmt.Fprintln(stderr, outboxUsage)
		return errors.New("outbox: expected check or salvage")
	}
	verb := args[0]
	fs := flag.NewFlagSet("relay outbox "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, outboxUsage); fs.PrintDefaults() }
	dataDir := fs.String("data-dir", "./data", "directory of the outbox")
	to := fs.String("to", "", "salvage: the new outbox's directory (must not hold one)")
	asJSON := fs.Bool("json", false, "check: print the report as JSON")
	if err := envflag.Parse(fs, args[1:], "RELAY", getenv); err != nil {
		return err
	}
	path := filepath.Join(*dataDir, outbox.FileName)
	if verb == "salvage" {
		if *to == "" {
			return errors.New("outbox salvage: expected --to NEWDIR, the directory of the new outbox")
		}
		rep, err := outbox.Salvage(path, *to)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "salvaged into %s: %d pending jobs, %d dead letters, %d event ids; %d damaged places "+
			"could not be copied\nstart the relay with --data-dir %s\n", *to, rep.Pending, rep.Dead, rep.Seen,
			len(rep.Damage), *to)
		return nil
	}
	rep, err := outbox.Check(path)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		fmt.Fprintln(stdout, rep)
	}
	if !rep.OK() {
		return exitError{code: 1, err: fmt.Errorf("outbox %s is damaged", path)}
	}
	return nil
}
