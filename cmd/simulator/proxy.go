package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctharness/ctharness/internal/adminguard"
	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/inspector"
	"github.com/ctharness/ctharness/simulator/proxy"
)

// proxyFlags are `simulator proxy`'s flags.
type proxyFlags struct {
	listen, upstream, upstreamCA, accounts, capture, pseudonymKey, failOn, junit, jsonFile string
	allowedHosts, logLevel                                                                 string
	upstreamTimeout                                                                        time.Duration
	maxBody                                                                                int64
	maxConnections                                                                         int
	pseudonymise, quiet                                                                    bool
}

// ciFlags are what a CI run asks of a report: what fails it and where to write it.
type ciFlags struct{ failOn, junit, jsonFile string }

func newProxyCmd(getenv func(string) string) *cobra.Command {
	var f proxyFlags
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Stand in front of the real CleverTap: forward unchanged, flag refused records, lint, measure drift",
		Long: `Serve a CleverTap base URL (region by host or /<region>/ prefix, as the fake takes them) that forwards
every request to the real CleverTap byte for byte with the caller's credentials, brings the real answer back byte
for byte, and checks each exchange with the fake's own rules: records CleverTap refused inside an HTTP 200, what
CleverTap never says (lint), and where the fake would have answered otherwise (drift). The inspector, tail and
GET /_sim/proxy/report show it; --capture keeps every exchange for simulator replay. At shutdown the report is
printed; with --fail-on the proxy exits 1 when the report holds what it names. See docs/proxy.md.`,
		Args: cobra.NoArgs,
		Example: `  simulator proxy
  simulator proxy --capture staging.jsonl --pseudonymise --fail-on refused,drift
  simulator proxy --upstream http://127.0.0.1:8081/{region}`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProxy(cmd.Context(), f, getenv, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8082", "address to listen on")
	fs.StringVar(&f.upstream, "upstream", proxy.DefaultUpstream,
		"the real CleverTap's base URL, {region} where the region goes")
	fs.StringVar(&f.upstreamCA, "upstream-ca", "", "PEM file of a CA to trust for the upstream besides the system's")
	fs.DurationVar(&f.upstreamTimeout, "upstream-timeout", time.Minute,
		"how long one upstream exchange may take before 504")
	fs.StringVar(&f.accounts, "accounts", "", "the proxy's view of your accounts (YAML, as serve takes): limits, "+
		"discarded events; default: each account as first seen with an answer other than 401")
	fs.StringVar(&f.capture, "capture", "", "append every exchange to this file, one JSON line each, credentials "+
		"redacted")
	fs.BoolVar(&f.pseudonymise, "pseudonymise", false,
		"replace identities, emails and phone numbers in the capture with keyed pseudonyms")
	fs.StringVar(&f.pseudonymKey, "pseudonym-key", "",
		"the key of the pseudonyms (default: a new random key each run; give one to match pseudonyms across runs)")
	fs.Int64Var(&f.maxBody, "max-body-bytes", 16<<20, "largest request body forwarded before 413")
	fs.IntVar(&f.maxConnections, "max-connections", simulator.DefaultMaxConnections,
		"open connections held at most; beyond, 503 and the connection closed")
	fs.StringVar(&f.allowedHosts, "allowed-hosts", "", adminguard.FlagHelp)
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: debug (one line per exchange), info, warn, error")
	fs.BoolVar(&f.quiet, "quiet", false, "do not print the report at shutdown")
	addCIFlags(fs.StringVar, &f.failOn, &f.junit, &f.jsonFile)
	cmd.AddCommand(newProxyReportCmd(getenv))
	return cmd
}

func addCIFlags(str func(*string, string, string, string), failOn, junit, jsonFile *string) {
	str(failOn, "fail-on", "", "exit 1 when the report holds any of: "+strings.Join(proxy.FailOn, ", ")+
		" (comma-separated)")
	str(junit, "junit", "", "write the report as JUnit XML to this file")
	str(jsonFile, "json", "", "write the report as JSON to this file (- for stdout)")
}

func runProxy(ctx context.Context, f proxyFlags, getenv func(string) string, stdout, stderr io.Writer) error {
	failOn, err := proxy.ParseFailOn(f.failOn)
	if err != nil {
		return cli.Usage(err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return cli.Usagef("--log-level: expected debug, info, warn or error, got %q", f.logLevel)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var cfg simulator.Config
	if f.accounts != "" {
		if cfg, err = simulator.LoadConfigFile(f.accounts); err != nil {
			return cli.Usage(err)
		}
	} else {
		cfg.Accounts = []clevertap.Account{} // learned from the traffic
	}
	view, err := simulator.New(cfg, fake.Options{Version: version, AllowedHosts: []string{f.allowedHosts},
		MaxBodyBytes: f.maxBody})
	if err != nil {
		return cli.Usage(err)
	}
	view.MaxConnections = f.maxConnections
	var roots []*x509.Certificate
	if f.upstreamCA != "" {
		if roots, err = readCerts(f.upstreamCA); err != nil {
			return cli.Usagef("--upstream-ca: %w", err)
		}
	}
	opts := proxy.Options{Upstream: f.upstream, Timeout: f.upstreamTimeout, MaxBodyBytes: f.maxBody, View: view,
		LearnAccounts: f.accounts == "", Logger: logger,
		Transport: proxy.NewTransport(roots, f.upstreamTimeout)}
	if f.capture != "" {
		file, err := os.OpenFile(f.capture, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return cli.Usagef("--capture: %w", err)
		}
		defer file.Close()
		opts.Capture = file
	}
	if f.pseudonymise {
		opts.Pseudonymise = []byte(f.pseudonymKey)
		if f.pseudonymKey == "" {
			opts.Pseudonymise = make([]byte, 32)
			_, _ = rand.Read(opts.Pseudonymise)
		}
	} else if f.pseudonymKey != "" {
		return cli.Usagef("--pseudonym-key: given without --pseudonymise")
	}
	p, err := proxy.New(opts)
	if err != nil {
		return cli.Usage(err)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return listenError("--listen", f.listen, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "simulator %s proxy listening on %s, forwarding to %s (report: %s%s, inspector: %s%s)\n",
		version, base, f.upstream, base, proxy.ReportPath, base, inspector.Prefix)
	if err := serveUntilDone(ctx, []net.Listener{ln}, p); err != nil {
		return err
	}
	p.Close() // every answered exchange judged before the report
	return finishReport(p.Report(), ciFlags{failOn: f.failOn, junit: f.junit, jsonFile: f.jsonFile}, failOn, f.quiet,
		getenv, stdout)
}

// finishReport prints a proxy or replay report, writes its JUnit and JSON, annotates it under GitHub Actions, and
// fails when it holds what --fail-on names.
func finishReport(r proxy.Report, ci ciFlags, failOn []string, quiet bool, getenv func(string) string,
	stdout io.Writer) error {
	if !quiet && ci.jsonFile != "-" {
		fmt.Fprint(stdout, r.String())
	}
	failures := r.Failures(failOn)
	if getenv("GITHUB_ACTIONS") == "true" {
		for _, f := range failures {
			fmt.Fprintf(stdout, "::error title=simulator proxy::%s\n", annotationEscape.Replace(f))
		}
	}
	if ci.junit != "" {
		if err := writeProxyJUnit(ci.junit, r, failOn); err != nil {
			return cli.Usagef("--junit: %w", err)
		}
	}
	if ci.jsonFile != "" {
		raw, _ := json.MarshalIndent(r, "", "  ")
		raw = append(raw, '\n')
		if ci.jsonFile == "-" {
			_, _ = stdout.Write(raw)
		} else if err := os.WriteFile(ci.jsonFile, raw, 0o644); err != nil {
			return cli.Usagef("--json: %w", err)
		}
	}
	if len(failures) > 0 {
		return cli.Failed(errors.New(strings.Join(failures, "; ")))
	}
	return nil
}

var annotationEscape = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")

// writeProxyJUnit writes one test case per --fail-on kind, failed when the report holds it.
func writeProxyJUnit(path string, r proxy.Report, failOn []string) error {
	suite := junitSuite{Name: "simulator proxy", Tests: len(failOn)}
	for _, kind := range failOn {
		c := junitCase{Name: kind, ClassName: "proxy"}
		if f := r.Failures([]string{kind}); len(f) > 0 {
			suite.Failures++
			c.Failure = &junitFailure{Message: f[0], Text: r.String()}
		}
		suite.Cases = append(suite.Cases, c)
	}
	raw, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{suite}}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), raw...), 0o644)
}

// readCerts reads the certificates of a PEM file.
func readCerts(path string) ([]*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: expected PEM certificates, found none", path)
	}
	return out, nil
}

func newProxyReportCmd(getenv func(string) string) *cobra.Command {
	var url string
	var ci ciFlags
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Print a running proxy's report; with --fail-on, exit 1 when it holds what is named",
		Args:  cobra.NoArgs,
		Example: `  simulator proxy report
  simulator proxy report --proxy http://127.0.0.1:8082 --json proxy-report.json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			failOn, err := proxy.ParseFailOn(ci.failOn)
			if err != nil {
				return cli.Usage(err)
			}
			r, err := fetchProxyReport(cmd.Context(), url)
			if err != nil {
				return err
			}
			return finishReport(r, ci, failOn, false, getenv, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&url, "proxy", "http://127.0.0.1:8082", "the running proxy's base URL")
	addCIFlags(cmd.Flags().StringVar, &ci.failOn, &ci.junit, &ci.jsonFile)
	return cmd
}

func fetchProxyReport(ctx context.Context, base string) (proxy.Report, error) {
	var r proxy.Report
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+proxy.ReportPath, nil)
	if err != nil {
		return r, cli.Usagef("--proxy: %w", err)
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return r, cli.Unreachable(fmt.Errorf("the proxy at %s could not be reached: %w (start it with simulator "+
			"proxy)", base, err))
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if res.StatusCode != http.StatusOK {
		return r, cli.Failed(fmt.Errorf("GET %s%s: %d %s", base, proxy.ReportPath, res.StatusCode,
			clip.Printable(clip.Text(string(body), 300))))
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, cli.Failed(fmt.Errorf("GET %s%s: expected the proxy's report, got %s", base, proxy.ReportPath,
			clip.Printable(clip.Text(string(body), 300))))
	}
	return r, nil
}

func newReplayCmd(getenv func(string) string) *cobra.Command {
	var accounts, fixtures string
	var ci ciFlags
	cmd := &cobra.Command{
		Use:   "replay CAPTURE",
		Short: "Play a proxy's capture against the fake, offline, and report its drift from the recorded answers",
		Args:  cobra.ExactArgs(1),
		Example: `  simulator replay examples/proxy/capture.jsonl
  simulator replay examples/proxy/capture.jsonl --accounts examples/accounts.yaml --fail-on drift`,
		RunE: func(cmd *cobra.Command, args []string) error {
			failOn, err := proxy.ParseFailOn(ci.failOn)
			if err != nil {
				return cli.Usage(err)
			}
			var cfg simulator.Config
			if accounts != "" {
				if cfg, err = simulator.LoadConfigFile(accounts); err != nil {
					return cli.Usage(err)
				}
			} else {
				cfg.Accounts = []clevertap.Account{}
			}
			view, err := simulator.New(cfg, fake.Options{Version: version})
			if err != nil {
				return cli.Usage(err)
			}
			file, err := os.Open(args[0])
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return cli.Usagef("capture file %s not found", args[0])
				}
				return cli.Usage(err)
			}
			defer file.Close()
			r, err := proxy.Replay(file, view.CleverTap, fixtures)
			if err != nil {
				return cli.Usagef("%s: %w", args[0], err)
			}
			return finishReport(r, ci, failOn, false, getenv, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&accounts, "accounts", "",
		"the fake's accounts (YAML): limits and discarded events; default: each captured account")
	cmd.Flags().StringVar(&fixtures, "fixtures", "", "write each exchange that drifts to this directory as a "+
		"fixture: the request, CleverTap's answer and the fake's")
	addCIFlags(cmd.Flags().StringVar, &ci.failOn, &ci.junit, &ci.jsonFile)
	return cmd
}
