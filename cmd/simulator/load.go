package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/envflag"
	"github.com/ctharness/ctharness/internal/profiling"
	"github.com/ctharness/ctharness/simulator/load"
	"github.com/ctharness/ctharness/simulator/sources/vendors"
)

const loadUsage = `usage: simulator load --source S [--to URL] [--rate R] [--duration D] [--users N] [flags]

Sends many distinct webhooks of one vendor, in its real format and signed as it signs, to a loopback target and
reports how many were acknowledged and how fast. Bounded: at most 10m and 10,000,000 webhooks; loopback only.
  simulator load --source revenuecat --rate 2000 --duration 10s --users 1000
  simulator load --source purchasely --rate 0 --concurrency 64 --duration 5s      (as fast as it goes)`

// runLoad is `simulator load`.
func runLoad(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulator load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, loadUsage); fs.PrintDefaults() }
	var o load.Options
	var events string
	var asJSON bool
	fs.StringVar(&o.Source, "source", "", "revenuecat, purchasely or appsflyer")
	to := fs.String("to", "", "webhook URL (default http://127.0.0.1:8080/webhooks/<source>)")
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
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if err := envflag.Parse(fs, args, "SIMULATOR_LOAD", getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("load: unexpected argument %q", fs.Arg(0))
	}
	if _, err := vendors.Lookup(o.Source); err != nil {
		return fmt.Errorf("load: --source: %w", err)
	}
	if o.Credential.Value == "" {
		o.Credential = harness.DefaultCredential(o.Source)
	}
	o.Target = *to
	if o.Target == "" {
		o.Target = "http://127.0.0.1:8080/webhooks/" + o.Source
	}
	if events != "" {
		o.Events = strings.Split(events, ",")
	}
	// the generator shares the machine with what it measures: less GC leaves more CPU to the target
	profiling.RelaxGC(getenv)
	rep, err := load.Run(ctx, o)
	if err != nil && rep.Sent == 0 {
		return fmt.Errorf("load: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printLoadReport(stdout, rep)
	}
	if err != nil {
		return exitError{code: 1, err: fmt.Errorf("load interrupted: %w", err)}
	}
	if rep.Refused > 0 {
		return exitError{code: 1, err: fmt.Errorf("load: %d of %d webhooks were not acknowledged", rep.Refused, rep.Sent)}
	}
	return nil
}

func printLoadReport(w io.Writer, r load.Report) {
	rate := "as fast as possible"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%g/s", r.Rate)
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
