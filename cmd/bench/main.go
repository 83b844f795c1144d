// Command bench prints the harness's performance table (make bench): each figure with a baseline measured in the
// same run and the ratio. "bench serve" is the baselines' server, started by bench itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ctharness/ctharness/bench"
	"github.com/ctharness/ctharness/internal/profiling"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "serve" {
		return serve(ctx, args[1:], stderr)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o bench.Options
	fs.StringVar(&o.Simulator, "simulator", "bin/simulator", "the simulator binary (make build)")
	fs.StringVar(&o.Relay, "relay", "bin/relay", "the relay binary (make build)")
	fs.StringVar(&o.Repo, "repo", ".", "the repository root (for the e2e suite)")
	fs.IntVar(&o.Uploads, "uploads", 1000, "1000-record uploads of the ingest figure")
	fs.IntVar(&o.Webhooks, "webhooks", 1_000_000, "webhooks of the relay's saturation run")
	fs.Float64Var(&o.AckRate, "ack-rate", 2000, "rate of the ack latency run, webhooks/s")
	fs.DurationVar(&o.AckDuration, "ack-duration", 10*time.Second, "length of the ack latency run")
	fs.IntVar(&o.Concurrency, "concurrency", 256, "connections of the saturation runs")
	fs.IntVar(&o.Repeats, "repeats", 3, "fresh relays the ack latency is measured on (the figure is the worst)")
	fs.BoolVar(&o.SyncProbe, "sync-probe", false, "run a bare sync loop beside each ack latency run on disk "+
		"(was the disk stalling for others too?)")
	fs.IntVar(&o.Procs, "procs", 6, "Ginkgo processes of the e2e figure")
	fs.IntVar(&o.ProxyUploads, "proxy-uploads", 500, "1000-record uploads of the proxy's latency figures, each way")
	fs.IntVar(&o.ProxyExchanges, "proxy-exchanges", 1_000_000, "one-record exchanges of the proxy's memory figure")
	fs.IntVar(&o.PostgresWebhooks, "postgres-webhooks", 100_000, "webhooks of each Postgres saturation run")
	skip := fs.String("skip", "", "figures to leave out, comma-separated: ingest, relay, postgres, proxy, e2e")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *skip != "" {
		o.Skip = strings.Split(*skip, ",")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	o.Self, o.Progress = self, stderr
	// this process is the load generator; the baselines ("bench serve") keep Go's default
	profiling.RelaxGC(os.Getenv)
	figures, err := bench.Run(ctx, o)
	bench.Print(stdout, figures)
	return err
}

// serve runs a baseline server until interrupted.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	handler := fs.String("handler", "", "ingest (encoding/json decode + fixed answer) or noop (read and answer 200)")
	listen := fs.String("listen", "127.0.0.1:0", "loopback address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var h http.Handler
	switch *handler {
	case "ingest":
		h = bench.IngestBaseline()
	case "noop":
		h = bench.NoOpWebhook()
	default:
		return fmt.Errorf("--handler: expected ingest or noop, got %q", *handler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.Handle("/", h)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
