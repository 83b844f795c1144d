package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ctharness/ctharness/internal/certs"
	"github.com/ctharness/ctharness/internal/envflag"
	"github.com/ctharness/ctharness/internal/profiling"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/piano"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulator serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	accountsFile := fs.String("accounts", "",
		"accounts file (YAML); default: one account per region plus an EU sandbox account")
	journalLimit := fs.Int("journal-limit", 10000, "requests kept in the journal (/_sim/requests)")
	eventLimit := fs.Int("event-limit", 100000, "records and profiles kept (/_sim/events); the oldest go first")
	maxBody := fs.Int64("max-body-bytes", 8<<20, "largest upload body before 413")
	maxConcurrent := fs.Int("max-concurrent-uploads", 15, "upload requests in flight per account before 429")
	maxConcurrentReads := fs.Int("max-concurrent-reads", 3,
		"read requests (events, profiles, counts, now, delete, demerge) in flight per account before 429")
	tokenLimitInMixed := fs.Bool("token-limit-in-mixed-uploads", false,
		"apply the 100-token limit to uploads that mix tokens with other records too")
	cursorTTL := fs.Duration("cursor-ttl", 4*time.Hour, "how long a read cursor or count req_id lives")
	cursorIdleTTL := fs.Duration("cursor-idle-ttl", time.Hour, "how long a read cursor lives unused")
	cursorNotReady := fs.Int("cursor-not-ready-polls", 0,
		"page requests of a new cursor answered \"still in progress\" (code 2) first")
	countDelay := fs.Duration("count-delay", 0, "how long a count answers partial before its result")
	countImmediate := fs.Bool("count-immediate", false, "answer a ready count at once instead of partial first")
	readErrorsHTTP := fs.Bool("read-errors-with-http-status", false,
		"send the read API's query errors with their code as HTTP status (default: HTTP 200, status fail)")
	unknownPlatform := fs.String("unknown-platform", "Web",
		"platformInfo's platform for an objectId no token or ID shape places")
	maxConnections := fs.Int("max-connections", simulator.DefaultMaxConnections,
		"open connections held at most; beyond, 503 and the connection closed")
	logLevel := fs.String("log-level", "warn", "log level: debug (one line per request), info, warn, error")
	quiet := fs.Bool("quiet", false, "do not print the accounts and the example on start")
	tlsListen := fs.String("tls-listen", "",
		"also serve HTTPS here (e.g. 0.0.0.0:443), with a certificate for every CleverTap host and Piano domain")
	tlsDir := fs.String("tls-dir", "./certs",
		"where the harness's CA (ca.pem, to trust) and the server certificate are kept or made")
	tlsHosts := fs.String("tls-hosts", "localhost,127.0.0.1,simulator",
		"extra names for the server certificate, comma-separated")
	pprofAddr := fs.String("pprof", "",
		"serve Go's pprof profiles on this loopback address, e.g. 127.0.0.1:6061 (off by default)")
	if err := envflag.Parse(fs, args, "SIMULATOR", getenv); err != nil {
		return err
	}
	if *pprofAddr != "" {
		stop, err := profiling.Serve(*pprofAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: expected debug, info, warn or error, got %q", *logLevel)
	}
	var cfg simulator.Config
	if *accountsFile != "" {
		var err error
		if cfg, err = simulator.LoadConfigFile(*accountsFile); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if *cursorNotReady < 0 || *countDelay < 0 || *maxConcurrentReads < 1 {
		return fmt.Errorf("--cursor-not-ready-polls, --count-delay: expected 0 or more; --max-concurrent-reads: "+
			"expected 1 or more; got %d, %s, %d", *cursorNotReady, *countDelay, *maxConcurrentReads)
	}
	sim, err := simulator.New(cfg, clevertap.Options{
		JournalLimit: *journalLimit, EventLimit: *eventLimit, MaxBodyBytes: *maxBody,
		MaxConcurrentUploads: *maxConcurrent, MaxConcurrentReads: *maxConcurrentReads,
		TokenLimitInMixedUploads: *tokenLimitInMixed, CursorTTL: *cursorTTL, CursorIdleTTL: *cursorIdleTTL,
		CursorNotReadyPolls: *cursorNotReady, CountDelay: *countDelay, CountImmediate: *countImmediate,
		ReadErrorsWithHTTPStatus: *readErrorsHTTP, UnknownPlatform: *unknownPlatform,
		Version: version, Logger: logger,
	})
	if err != nil {
		return err
	}
	if *maxConnections < 1 {
		return fmt.Errorf("--max-connections: expected at least 1, got %d", *maxConnections)
	}
	sim.MaxConnections = *maxConnections
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	listeners := []net.Listener{ln}
	if *tlsListen != "" {
		hosts := append(tlsHostnames(cfg), strings.Split(*tlsHosts, ",")...)
		pair, err := certs.Ensure(*tlsDir, hosts)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--tls-dir: %w", err)
		}
		tln, err := net.Listen("tcp", *tlsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--tls-listen %s: %w", *tlsListen, err)
		}
		listeners = append(listeners, tls.NewListener(tln, &tls.Config{Certificates: []tls.Certificate{pair},
			MinVersion: tls.VersionTLS12}))
		fmt.Fprintf(stdout, "simulator %s listening on https://%s for %s (trust %s)\n", version, tln.Addr(),
			strings.Join(hosts[:3], ", ")+", ...", filepath.Join(*tlsDir, certs.CAFile))
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "simulator %s listening on %s\n", version, base)
	if !*quiet {
		printWelcome(stdout, base, sim)
	}
	return serveUntilDone(ctx, listeners, sim)
}

// tlsHostnames are CleverTap's API hosts (every region, the legacy ones) and the Piano collection domains.
func tlsHostnames(cfg simulator.Config) []string {
	hosts := clevertap.Hostnames()
	sites := cfg.Piano.Sites
	if sites == nil {
		sites = piano.DefaultSites()
	}
	for _, s := range sites {
		hosts = append(hosts, s.Domain)
	}
	return hosts
}

// serveUntilDone serves every listener until the context ends, then shuts down gracefully.
func serveUntilDone(ctx context.Context, listeners []net.Listener, sim *simulator.Simulator) error {
	srv := sim.HTTPServer()
	errc := make(chan error, len(listeners))
	for _, ln := range listeners {
		go func() { errc <- srv.Serve(sim.Listener(ln)) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func printWelcome(w io.Writer, base string, sim *simulator.Simulator) {
	fmt.Fprintln(w,
		"\nCleverTap accounts (upload to "+base+"/<region>/1/upload, or with Host: <region>.api.clevertap.com):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  REGION\tACCOUNT ID\tPASSCODE\tTOKEN")
	for _, a := range sim.CleverTap.Accounts() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.Region, a.ID, strings.Join(a.Passcodes, ","), a.Token)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nPiano sites (POST "+base+"/piano/<path>?s=<site>&idclient=<id>, or with Host: <domain>):")
	for _, s := range sim.Piano.Sites() {
		fmt.Fprintf(w, "  site %s on %s, %d declared events\n", s.ID, s.Domain, len(s.Events))
	}
	example := sim.CleverTap.Accounts()[0]
	for _, a := range sim.CleverTap.Accounts() {
		if a.Region == clevertap.DefaultRegion {
			example = a
			break
		}
	}
	fmt.Fprintf(w, `
Try it:
  curl -s -X POST %s/%s/1/upload \
    -H 'X-CleverTap-Account-Id: %s' -H 'X-CleverTap-Passcode: %s' \
    -H 'Content-Type: application/json' \
    -d '{"d":[{"type":"event","identity":"user-1","ts":%d,"evtName":"rc_trial_started_event","evtData":{"amount":0,"currency":"USD"}}]}'
  curl -s '%s/_sim/events?account=%s'

Admin API: %s/_sim/health, /_sim/events, /_sim/requests, /_sim/profiles, /_sim/faults, /_sim/wait, /_sim/reset
`, base, example.Region, example.ID, example.Passcodes[0], time.Now().Unix(), base, example.ID, base)
}
