package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ctharness/ctharness/internal/adminguard"
	"github.com/ctharness/ctharness/internal/certs"
	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/profiling"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/inspector"
	"github.com/ctharness/ctharness/simulator/piano"
	"github.com/spf13/cobra"
)

// serveFlags are `simulator serve`'s flags.
type serveFlags struct {
	listen, accounts, logLevel, tlsListen, tlsDir, tlsHosts, pprof, unknownPlatform, relay      string
	allowedHosts                                                                                string
	journalLimit, eventLimit, maxConcurrent, maxConcurrentReads, maxConnections, cursorNotReady int
	pageMultiple, smallBatchPage                                                                int
	maxBody, journalBytes                                                                       int64
	cursorTTL, cursorIdleTTL, countDelay                                                        time.Duration
	quiet, tokenLimitInMixed, countImmediate, readErrorsHTTP                                    bool
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the fake CleverTap (every region) and the fake Piano collector",
		Args:  cobra.NoArgs,
		Example: `  simulator serve
  simulator serve --listen 127.0.0.1:9081 --accounts examples/accounts.yaml
  SIMULATOR_COUNT_DELAY=2s simulator serve --quiet`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8081", "address to listen on")
	fs.StringVar(&f.accounts, "accounts", "",
		"accounts file (YAML); default: one account per region plus an EU sandbox account")
	fs.IntVar(&f.journalLimit, "journal-limit", 10000, "requests kept in the journal (/_sim/requests)")
	fs.Int64Var(&f.journalBytes, "journal-bytes", fake.DefaultJournalBytes,
		"memory the journal may hold, CleverTap's and Piano's each; the oldest entries go first")
	fs.IntVar(&f.eventLimit, "event-limit", 100000, "records and profiles kept (/_sim/events); the oldest go first")
	fs.Int64Var(&f.maxBody, "max-body-bytes", 8<<20, "largest upload body before 413")
	fs.IntVar(&f.maxConcurrent, "max-concurrent-uploads", 15, "upload requests in flight per account before 429")
	fs.IntVar(&f.maxConcurrentReads, "max-concurrent-reads", 3,
		"read requests (events, profiles, counts, now, delete, demerge) in flight per account before 429")
	fs.BoolVar(&f.tokenLimitInMixed, "token-limit-in-mixed-uploads", false,
		"apply the 100-token limit to uploads that mix tokens with other records too")
	fs.DurationVar(&f.cursorTTL, "cursor-ttl", 4*time.Hour, "how long a read cursor or count req_id lives")
	fs.DurationVar(&f.cursorIdleTTL, "cursor-idle-ttl", time.Hour, "how long a read cursor lives unused")
	fs.IntVar(&f.cursorNotReady, "cursor-not-ready-polls", 0,
		"page requests of a new cursor answered \"still in progress\" (code 2) first")
	fs.IntVar(&f.pageMultiple, "page-multiple", 23,
		"Get Events and Get User Profiles pages hold a multiple of this many records, as live pages do "+
			"(1: batch_size as asked)")
	fs.IntVar(&f.smallBatchPage, "small-batch-page", 989,
		"records a page holds when batch_size is under --page-multiple (one live report)")
	fs.DurationVar(&f.countDelay, "count-delay", 0, "how long a count answers partial before its result")
	fs.BoolVar(&f.countImmediate, "count-immediate", false, "answer a ready count at once instead of partial first")
	fs.BoolVar(&f.readErrorsHTTP, "read-errors-with-http-status", false,
		"send the read API's query errors with their code as HTTP status (default: HTTP 200, status fail)")
	fs.StringVar(&f.unknownPlatform, "unknown-platform", "Web",
		"platformInfo's platform for an objectId no token or ID shape places")
	fs.IntVar(&f.maxConnections, "max-connections", simulator.DefaultMaxConnections,
		"open connections held at most; beyond, 503 and the connection closed")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: debug (one line per request), info, warn, error")
	fs.BoolVar(&f.quiet, "quiet", false, "do not print the accounts and the example on start")
	fs.StringVar(&f.tlsListen, "tls-listen", "",
		"also serve HTTPS here (e.g. 0.0.0.0:443), with a certificate for every CleverTap host and Piano domain")
	fs.StringVar(&f.tlsDir, "tls-dir", "./certs", "where the harness's CA (ca.pem, to trust) and the server "+
		"certificate are kept or made")
	fs.StringVar(&f.tlsHosts, "tls-hosts", "localhost,127.0.0.1,simulator",
		"extra names for the server certificate, comma-separated")
	fs.StringVar(&f.allowedHosts, "allowed-hosts", "", adminguard.FlagHelp+"; the --tls-hosts names are admitted too")
	fs.StringVar(&f.relay, "relay", "",
		"a relay for the inspector's relay panel (status, dead letters, retry), e.g. http://127.0.0.1:8080")
	fs.StringVar(&f.pprof, "pprof", "",
		"serve Go's pprof profiles on this loopback address, e.g. 127.0.0.1:6061 (off by default)")
	return cmd
}

func serve(ctx context.Context, f serveFlags, stdout, stderr io.Writer) error {
	if f.pprof != "" {
		stop, err := profiling.Serve(f.pprof)
		if err != nil {
			return cli.Usagef("--pprof: %w", err)
		}
		defer stop()
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return cli.Usagef("--log-level: expected debug, info, warn or error, got %q", f.logLevel)
	}
	if f.cursorNotReady < 0 || f.countDelay < 0 || f.maxConcurrentReads < 1 || f.maxConnections < 1 ||
		f.pageMultiple < 1 || f.smallBatchPage < 1 || f.smallBatchPage > 5000 {
		return cli.Usagef("--cursor-not-ready-polls, --count-delay: expected 0 or more; --max-concurrent-reads, "+
			"--max-connections, --page-multiple: expected 1 or more; --small-batch-page: 1 to 5000; got %d, %s, %d, "+
			"%d, %d, %d", f.cursorNotReady, f.countDelay, f.maxConcurrentReads, f.maxConnections, f.pageMultiple,
			f.smallBatchPage)
	}
	var cfg simulator.Config
	if f.accounts != "" {
		var err error
		if cfg, err = simulator.LoadConfigFile(f.accounts); err != nil {
			return cli.Usage(err)
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	sim, err := simulator.New(cfg, fake.Options{
		JournalLimit: f.journalLimit, JournalBytes: f.journalBytes, EventLimit: f.eventLimit, MaxBodyBytes: f.maxBody,
		MaxConcurrentUploads: f.maxConcurrent, MaxConcurrentReads: f.maxConcurrentReads,
		TokenLimitInMixedUploads: f.tokenLimitInMixed, CursorTTL: f.cursorTTL, CursorIdleTTL: f.cursorIdleTTL,
		CursorNotReadyPolls: f.cursorNotReady, PageMultiple: f.pageMultiple, SmallBatchPage: f.smallBatchPage,
		CountDelay: f.countDelay, CountImmediate: f.countImmediate,
		ReadErrorsWithHTTPStatus: f.readErrorsHTTP, UnknownPlatform: f.unknownPlatform,
		Version: version, Logger: logger, AllowedHosts: []string{f.tlsHosts, f.allowedHosts},
	})
	if err != nil {
		return cli.Usage(err)
	}
	sim.MaxConnections = f.maxConnections
	if f.relay != "" {
		if u, err := url.Parse(f.relay); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cli.Usagef("--relay: expected the relay's base URL, like http://127.0.0.1:8080, got %q", f.relay)
		}
		sim.Inspector.SetRelay(&inspector.Relay{URL: f.relay})
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return listenError("--listen", f.listen, err)
	}
	listeners := []net.Listener{ln}
	if f.tlsListen != "" {
		hosts := append(tlsHostnames(cfg), strings.Split(f.tlsHosts, ",")...)
		pair, err := certs.Ensure(f.tlsDir, hosts)
		if err != nil {
			ln.Close()
			return cli.Usagef("--tls-dir: %w", err)
		}
		tln, err := net.Listen("tcp", f.tlsListen)
		if err != nil {
			ln.Close()
			return listenError("--tls-listen", f.tlsListen, err)
		}
		listeners = append(listeners, tls.NewListener(tln, &tls.Config{Certificates: []tls.Certificate{pair},
			MinVersion: tls.VersionTLS12}))
		fmt.Fprintf(stdout, "simulator %s listening on https://%s for %s (trust %s)\n", version, tln.Addr(),
			strings.Join(hosts[:3], ", ")+", ...", filepath.Join(f.tlsDir, certs.CAFile))
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "simulator %s listening on %s (inspector: %s%s)\n", version, base, base, inspector.Prefix)
	if !f.quiet {
		printWelcome(stdout, base, sim)
	}
	return serveUntilDone(ctx, listeners, sim)
}

// listenError says that an address is taken or wrong, and which flag moves it.
func listenError(flag, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return cli.Usagef("%s %s: the address is in use (another simulator or stack running?); stop it, or use "+
			"another address with %s (or its environment twin)", flag, addr, flag)
	}
	return cli.Usagef("%s %s: %v", flag, addr, err)
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

// server is what serveUntilDone serves: the simulator, or the lint proxy (their timeouts, limits and listeners).
type server interface {
	HTTPServer() *http.Server
	Listener(net.Listener) net.Listener
}

// serveUntilDone serves every listener until the context ends, then shuts down gracefully.
func serveUntilDone(ctx context.Context, listeners []net.Listener, sim server) error {
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
    -d '{"d":[{"type":"event","identity":"user-1","ts":%d,"evtName":"rc_trial_started_event","evtData":{"amount":0}}]}'
  curl -s '%s/_sim/events?account=%s'

Inspector: %s%s (live: simulator tail --url %s)
Admin API: %s/_sim/health, /_sim/events, /_sim/requests, /_sim/profiles, /_sim/faults, /_sim/wait, /_sim/reset
`, base, example.Region, example.ID, example.Passcodes[0], time.Now().Unix(), base, example.ID, base,
		inspector.Prefix, base, base)
}
