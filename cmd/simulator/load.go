package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/profiling"
	"github.com/ctharness/ctharness/internal/redact"
	"github.com/ctharness/ctharness/internal/suggest"
	"github.com/ctharness/ctharness/simulator/load"
	"github.com/ctharness/ctharness/simulator/sources/vendors"
	"github.com/spf13/cobra"
)

func newLoadCmd() *cobra.Command {
	var o load.Options
	var events, relayURL, to, jsonFile string
	cmd := &cobra.Command{
		Use:   "load --source S [flags]",
		Short: "Send many webhooks of one vendor to a relay at a rate and report acks and latencies",
		Long: `load sends many distinct webhooks of one vendor, in its real format and signed as it signs, to a loopback
relay (by default the one "make run" starts, with its default credential) and reports how many were
acknowledged and how fast. Bounded: at most 10m and 10,000,000 webhooks; loopback only.`,
		Example: `  simulator load --source revenuecat --rate 200 --duration 2s --users 100
  simulator load --source purchasely --rate 0 --concurrency 64 --duration 2s   # as fast as it goes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdout := cmd.OutOrStdout()
			if _, err := vendors.Lookup(o.Source); err != nil {
				return cli.Usagef("load: --source: %w%s", err, suggest.DidYouMean(o.Source, vendors.Names()))
			}
			if o.Credential.Value == "" {
				o.Credential = harness.DefaultCredential(o.Source)
				fmt.Fprintln(stdout, "(--credential: the default relay config's, as `make run` uses)")
			}
			o.Target = to
			if o.Target == "" {
				o.Target = strings.TrimSuffix(relayURL, "/") + "/webhooks/" + o.Source
			}
			if events != "" {
				o.Events = strings.Split(events, ",")
			}
			if err := o.Validate(); err != nil {
				return cli.Usagef("load: %w", err)
			}
			if err := reachable(cmd.Context(), "the relay", o.Target, startTheStack); err != nil {
				return err
			}
			// the generator shares the machine with what it measures: less GC leaves more CPU to the target
			profiling.RelaxGC(os.Getenv)
			rep, err := load.Run(cmd.Context(), o)
			if err != nil && rep.Sent == 0 {
				return cli.Usagef("load: %w", err)
			}
			if jsonFile != "-" {
				printLoadReport(stdout, rep)
			}
			if err := writeJSON(jsonFile, stdout, rep); err != nil {
				return err
			}
			if err != nil {
				return cli.Failed(fmt.Errorf("load interrupted: %w", err))
			}
			if rep.Refused > 0 {
				return cli.Failed(fmt.Errorf("load: %d of %d webhooks were not acknowledged", rep.Refused, rep.Sent))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Source, "source", "", "revenuecat, purchasely or appsflyer")
	completeWith(cmd, "source", vendors.Names()...)
	fs.StringVar(&relayURL, "relay", defaultRelayURL, "the relay: webhooks go to <relay>/webhooks/<source>")
	fs.StringVar(&to, "to", "", "the full webhook URL, instead of the relay's route")
	fs.Float64Var(&o.Rate, "rate", 1000,
		"webhooks per second on a fixed schedule; 0 sends as fast as --concurrency allows")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to send (at most 10m)")
	fs.IntVar(&o.Count, "count", 0, "at most this many webhooks (default rate × duration)")
	fs.IntVar(&o.Users, "users", 1000, "distinct users the webhooks belong to, in turn (0: one per webhook)")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "webhooks in flight at most")
	fs.StringVar(&events, "events", "",
		"comma-separated event types to send in turn (default: a production mix for the source)")
	fs.StringVar(&o.Credential.Value, "credential", "",
		"RevenueCat Authorization value, Purchasely secret or AppsFlyer token (default: the relay's default config)")
	fs.BoolVar(&o.Retry, "retry", true, "retry refused webhooks on the vendor's schedule, compressed by --time-scale")
	fs.Float64Var(&o.TimeScale, "time-scale", 0.001,
		"real seconds per vendor second for retries (0.001: RevenueCat's 5 minutes take 0.3 s)")
	fs.StringVar(&o.RunID, "run-id", "", "suffix of event and user ids (default random, so reruns are not duplicates)")
	fs.StringVar(&o.EventIDs, "event-ids", load.IDsOrdered,
		"ordered (load-<run>-e<n>) or uuid (RevenueCat's and Purchasely's shape, in no order: what a dedupe index "+
			"meets)")
	fs.StringVar(&jsonFile, "json", "", "also write the report as JSON to this file (- for standard output alone)")
	return cmd
}

// writeJSON writes a report as JSON to file ("-": standard output; "": nowhere).
func writeJSON(file string, stdout io.Writer, v any) error {
	if file == "" {
		return nil
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	out = append(out, '\n')
	if file == "-" {
		_, err = stdout.Write(out)
		return err
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		return cli.Usagef("--json: %w", err)
	}
	return nil
}

// startTheStack is reachable's hint for the stack's own servers.
const startTheStack = "start the stack with `make run` (or `simulator up`), or say where it is"

// reachable checks that something answers at a URL's host, so that a server that is not running is told apart
// from a failure (exit 3, saying which URL and, in hint, how to start it).
func reachable(ctx context.Context, what, target, hint string) error {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return cli.Usagef("%s: expected an http(s) URL, got %q", what, redact.URL(target))
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"https": "443"}[u.Scheme]+
			map[string]string{"http": "80"}[u.Scheme])
	}
	d := net.Dialer{Timeout: 3 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return cli.Unreachable(fmt.Errorf("%s at %s cannot be reached (%v): %s", what, redact.URL(target), errors.Unwrap(err),
			hint))
	}
	return conn.Close()
}
func printLoadReport(w io.Writer, r load.Report) {
	rate := "as fast as possible"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%g/s", r.Rate)
	}
	if r.EventIDs == load.IDsUUID {
		rate += ", UUID event ids"
	}
	fmt.Fprintf(w, "%s load to %s (run %s, %s)\n", r.Source, r.Target, r.RunID, rate)
	fmt.Fprintf(w, "  webhooks   sent %d, acknowledged %d, refused %d, retried %d (%d attempts)\n", r.Sent, r.Acked,
		r.Refused, r.Retried, r.Attempts)
	var statuses []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.Statuses {
			if !yield(k) {
				return
			}
		}
	}) {
		statuses = append(statuses, fmt.Sprintf("%s×%d", k, r.Statuses[k]))
	}
	fmt.Fprintf(w, "  answers    %s\n", strings.Join(statuses, " "))
	fmt.Fprintf(w, "  throughput %.0f acknowledged/s over %s\n", r.Throughput, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  ack time   p50 %s  p90 %s  p99 %s  max %s\n", r.Latency.P50.Round(time.Microsecond),
		r.Latency.P90.Round(time.Microsecond),
		r.Latency.P99.Round(time.Microsecond), r.Latency.Max.Round(time.Microsecond))
	if r.Late > 0 {
		fmt.Fprintf(w,
			"  late       %d webhooks left more than 10ms after their time (the target or the generator could not keep the "+
				"rate)\n", r.Late)
	}
}
