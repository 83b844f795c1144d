// Command readback is a verification written once for CleverTap's read API: it downloads every event of a name
// in a date range (Get Events, page by page), checks that no record comes twice and that Get Event Count agrees,
// and optionally that the number is the one expected. It runs against the simulator and, by changing the base
// URL and the credentials, against a real account:
//
//	go run ./examples/readback --base-url http://127.0.0.1:8081/eu1 --account SIM-EU1-0001 --passcode sim-eu1-pass \
//	    --event rc_renewal_event --from 20251202 --to 20251202 --expect 1
//	CT_PASSCODE=... go run ./examples/readback --base-url https://eu1.api.clevertap.com --account <id> \
//	    --event rc_renewal_event --from 20251202 --to 20251202
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "readback:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("readback", flag.ContinueOnError)
	fs.SetOutput(stdout)
	baseURL := fs.String("base-url", "", "CleverTap's regional API root, e.g. https://eu1.api.clevertap.com, or "+
		"the simulator's with the region, e.g. http://127.0.0.1:8081/eu1")
	account := fs.String("account", getenv("CT_ACCOUNT_ID"), "account id (default $CT_ACCOUNT_ID)")
	passcode := fs.String("passcode", getenv("CT_PASSCODE"), "passcode (default $CT_PASSCODE)")
	event := fs.String("event", "", "the event name to read back, e.g. rc_renewal_event")
	today := clevertap.Day(time.Now().UTC())
	from := fs.Int("from", today, "first day, YYYYMMDD in the account's time zone")
	to := fs.Int("to", today, "last day, YYYYMMDD (included)")
	expect := fs.Int("expect", -1, "the number of events expected (default: any)")
	batch := fs.Int("batch-size", 100, "records per page (CleverTap's maximum is 5000)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *baseURL == "" || *event == "":
		return errors.New("--base-url and --event are required")
	case *account == "" || *passcode == "":
		return errors.New("--account and --passcode (or $CT_ACCOUNT_ID and $CT_PASSCODE) are required")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	c := clevertap.NewClient(*baseURL)
	creds := clevertap.Credentials{AccountID: *account, Passcode: *passcode}
	q := clevertap.Query{EventName: *event, From: *from, To: *to}
	seen := map[string]bool{}
	var duplicates []string
	err := c.GetEvents(ctx, "", creds, q, clevertap.PageOptions{BatchSize: *batch, NoProfile: true, NoEvents: true},
		func(r clevertap.EventRecord) error {
			key, _ := json.Marshal(r)
			if seen[string(key)] {
				duplicates = append(duplicates, string(key))
			}
			seen[string(key)] = true
			return nil
		})
	if err != nil {
		return fmt.Errorf("Get Events: %w", err)
	}
	downloaded := len(seen) + len(duplicates)
	counted, err := c.CountEvents(ctx, "", creds, q)
	if err != nil {
		return fmt.Errorf("Get Event Count: %w", err)
	}
	fmt.Fprintf(stdout, "%s from %d to %d: %d downloaded, %d counted\n", *event, *from, *to, downloaded, counted)
	var problems []string
	if len(duplicates) > 0 {
		problems = append(problems, fmt.Sprintf("%d record(s) identical to another (uploaded twice?), e.g. %s",
			len(duplicates), duplicates[0]))
	}
	if counted != downloaded {
		problems = append(problems, fmt.Sprintf("Get Event Count says %d, the download has %d", counted, downloaded))
	}
	if *expect >= 0 && downloaded != *expect {
		problems = append(problems, fmt.Sprintf("expected %d event(s), found %d", *expect, downloaded))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
