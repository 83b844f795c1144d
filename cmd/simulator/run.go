package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/internal/redact"
	"github.com/ctharness/ctharness/internal/suggest"
	"github.com/ctharness/ctharness/scenarios"
	"github.com/ctharness/ctharness/simulator/sources"
)

// runFlags are `simulator run`'s flags.
type runFlags struct {
	relay, simulator, relayToken, source, fixtures, junit, jsonFile string
	labels, webhooks, secrets                                       []string
	builtIn, writeExpect                                            bool
	timeout                                                         time.Duration
	parallel                                                        int
}

func newRunCmd(getenv func(string) string) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [scenario.yaml|dir ...] [flags]",
		Short: "Play scenario files against a running stack: the CI gate",
		Long: `run plays scenario files (and directories of them) against a running stack, by default the one "make run"
starts, and exits 0 when every run passed, 1 when one failed, 2 when a file is wrong or nothing was selected,
3 when the stack cannot be reached (checked before any run). Results print as each run ends; --junit and --json
write reports, and under GitHub Actions each failure is also an annotation on its file and line.

--webhook SOURCE=URL sends that source's webhooks to your own service instead of the reference relay (signed
with --secret SOURCE=VALUE, or SOURCE=env:NAME to read it from the environment): your service is then the
system under test and the fake CleverTap alone judges what arrived against your scenarios' expectations.`,
		Example: `  simulator run examples/scenarios/my-trial.yaml
  simulator run scenarios/ --label trial --parallel 4 --junit report.xml
  simulator run --built-in --source purchasely`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScenarios(cmd.Context(), f, args, getenv, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.relay, "relay", defaultRelayURL, "the relay's base URL")
	fs.StringVar(&f.simulator, "simulator", defaultSimulatorURL, "the simulator's base URL")
	fs.StringVar(&f.relayToken, "relay-admin-token", harness.DevAdminToken,
		"the relay's admin token, to read its dead letters (default: the one \"make run\"'s relay uses)")
	fs.StringArrayVar(&f.webhooks, "webhook", nil, "SOURCE=URL: send that source's webhooks to your service at "+
		"URL instead of the relay's /webhooks/SOURCE (repeatable)")
	fs.StringArrayVar(&f.secrets, "secret", nil, "SOURCE=VALUE or SOURCE=env:NAME: what your service expects from "+
		"the vendor: RevenueCat's Authorization value, Purchasely's shared secret, AppsFlyer's token (repeatable)")
	fs.StringVar(&f.source, "source", "", "play only this source: "+strings.Join(scenarios.Sources, ", "))
	completeWith(cmd, "source", scenarios.Sources...)
	fs.StringArrayVar(&f.labels, "label", nil, "play only scenarios with this label (repeatable: any of them)")
	fs.BoolVar(&f.builtIn, "built-in", false, "play the built-in scenarios (besides any files given)")
	fs.StringVar(&f.fixtures, "fixtures", "",
		"directory that scenario webhook files are relative to (default: the scenario file's directory, then the "+
			"current one)")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Second, "how long to wait for a scenario's records")
	fs.IntVar(&f.parallel, "parallel", 8, "runs played at the same time")
	fs.StringVar(&f.junit, "junit", "", "write a JUnit XML report to this file")
	fs.StringVar(&f.jsonFile, "json", "", "write the results as JSON to this file (- for standard output alone)")
	fs.BoolVar(&f.writeExpect, "write-expect", false, "play each file twice and write what arrived alike both "+
		"times as its expectations, marked reviewed: false until a human has read the diff")
	return cmd
}

func runScenarios(ctx context.Context, f runFlags, paths []string, getenv func(string) string, stdout,
	stderr io.Writer) error {
	list, err := scenarios.LoadPaths(paths)
	if err != nil {
		return cli.Usage(err)
	}
	if f.builtIn && f.writeExpect {
		return cli.Usagef("--write-expect writes your own files; it cannot be used with --built-in")
	}
	if f.builtIn {
		more, err := scenarios.LoadBuiltIn()
		if err != nil {
			return err
		}
		list = append(list, more...)
	}
	if len(list) == 0 {
		return cli.Usagef("nothing to play: expected scenario files or directories, or --built-in")
	}
	jobs, err := selectRuns(list, f.labels, f.source)
	if err != nil {
		return err
	}
	if f.parallel < 1 {
		return cli.Usagef("--parallel: expected 1 or more, got %d", f.parallel)
	}
	hooks, creds, err := parseWebhooks(f.webhooks, f.secrets, getenv)
	if err != nil {
		return err
	}
	if err := reachable(ctx, "the simulator", f.simulator, startTheStack); err != nil {
		return err
	}
	for _, src := range slices.Sorted(maps.Keys(hooks)) {
		if err := reachable(ctx, "your "+src+" service", hooks[src], "start it before simulator run plays"); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(jobs, func(j job) bool { return !j.s.Relay.Custom() && hooks[j.src] == "" }) {
		if err := reachable(ctx, "the relay", f.relay, startTheStack); err != nil {
			return err
		}
	}
	target := scenarios.Target{SimulatorURL: f.simulator, RelayURL: f.relay, RelayAdminToken: f.relayToken,
		FixtureRoot: f.fixtures, Timeout: f.timeout, Webhooks: hooks, Credentials: creds}
	if f.writeExpect {
		return writeExpectations(ctx, jobs, target, stdout)
	}
	results := playAll(ctx, jobs, target, f.parallel, f.jsonFile == "-", stdout, stderr)
	if getenv("GITHUB_ACTIONS") == "true" {
		annotate(stdout, results)
	}
	if f.junit != "" {
		if err := writeJUnit(f.junit, results); err != nil {
			return cli.Usagef("--junit: %w", err)
		}
	}
	if err := writeJSON(f.jsonFile, stdout, results); err != nil {
		return err
	}
	if !allPassed(results) {
		return cli.Failed(fmt.Errorf("%d of %d runs failed", len(results)-passed(results), len(results)))
	}
	return nil
}

// job is one scenario played through one source.
type job struct {
	s   *scenarios.Scenario
	src string
}

// selectRuns is every scenario × source the labels and the source select; a label or source no scenario has is
// an error (a typo must not select nothing and pass).
func selectRuns(list []*scenarios.Scenario, labels []string, source string) ([]job, error) {
	var known []string
	for _, s := range list {
		for _, l := range s.Labels {
			if !slices.Contains(known, l) {
				known = append(known, l)
			}
		}
	}
	slices.Sort(known)
	for _, l := range labels {
		if !slices.Contains(known, l) {
			return nil, cli.Usagef("--label %q: no scenario has it%s; labels: %s", l, suggest.DidYouMean(l, known),
				strings.Join(known, ", "))
		}
	}
	if source != "" && !slices.Contains(scenarios.Sources, source) {
		return nil, cli.Usagef("--source %q: expected one of %s%s", source, strings.Join(scenarios.Sources, ", "),
			suggest.DidYouMean(source, scenarios.Sources))
	}
	var jobs []job
	for _, s := range list {
		if len(labels) > 0 && !slices.ContainsFunc(labels, s.HasLabel) {
			continue
		}
		for _, src := range s.Sources {
			if source == "" || source == src {
				jobs = append(jobs, job{s, src})
			}
		}
	}
	if len(jobs) == 0 {
		return nil, cli.Usagef("nothing selected: no scenario with label %s plays source %s",
			strings.Join(labels, " or "), source)
	}
	return jobs, nil
}

// playAll plays the runs, parallel at a time (runs keep apart by their own ids), prints each result as it ends
// and a progress line every few seconds, then the failures in detail.
func playAll(ctx context.Context, jobs []job, target scenarios.Target, parallel int, quiet bool, stdout,
	stderr io.Writer) []scenarios.Result {
	if quiet {
		stdout = io.Discard
	}
	results := make([]scenarios.Result, len(jobs))
	start := time.Now()
	var mu sync.Mutex
	done := 0
	fmt.Fprintf(stdout, "playing %d run(s), %d at a time\n", len(jobs), parallel)
	if len(target.Webhooks) > 0 {
		describeTarget(stdout, jobs, target)
	}
	stopProgress := progress(stderr, func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("… %d of %d runs done after %s", done, len(jobs), time.Since(start).Round(time.Second))
	})
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := scenarios.Play(ctx, j.s, j.src, target)
			mu.Lock()
			defer mu.Unlock()
			results[i], done = r, done+1
			status := "pass"
			if !r.Passed {
				status = "FAIL"
			}
			fmt.Fprintf(stdout, "%-4s  %s × %s  (%d webhooks, %s)\n", status, r.Scenario, r.Source, r.Webhooks,
				r.Took.Round(time.Millisecond))
		})
	}
	wg.Wait()
	stopProgress()
	scenarios.ReportFailures(stdout, results)
	fmt.Fprintf(stdout, "\n%d of %d passed (%d runs in %s)\n", passed(results), len(results), len(results),
		time.Since(start).Round(time.Millisecond))
	return results
}

// progress prints line() every 5 s until stopped: long runs say they are alive.
func progress(w io.Writer, line func() string) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintln(w, line())
			case <-quit:
				return
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

func passed(results []scenarios.Result) int {
	n := 0
	for _, r := range results {
		if r.Passed {
			n++
		}
	}
	return n
}

func allPassed(results []scenarios.Result) bool { return passed(results) == len(results) }

// annotate prints a GitHub Actions error annotation for each failed run, on its file and line.
func annotate(w io.Writer, results []scenarios.Result) {
	escape := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
	for _, r := range results {
		if r.Passed {
			continue
		}
		msg := "failed"
		if len(r.Problems) > 0 {
			msg = r.Problems[0]
		}
		fmt.Fprintf(w, "::error file=%s,line=%d,title=%s::%s\n", escape.Replace(r.File), max(1, r.Line),
			escape.Replace(r.Scenario+" × "+r.Source), strings.NewReplacer("%", "%25", "\r", "%0D", "\n",
				"%0A").Replace(msg))
	}
}

// JUnit XML, as CI systems read it: one test case per scenario × source.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string  `xml:"name,attr"`
	ClassName string  `xml:"classname,attr"`
	File      string  `xml:"file,attr,omitempty"`
	Line      int     `xml:"line,attr,omitempty"`
	Time      float64 `xml:"time,attr"`
	// Properties say where the webhooks went and whose the expectations are
	Properties []junitProperty `xml:"properties>property"`
	Failure    *junitFailure   `xml:"failure,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(file string, results []scenarios.Result) error {
	suite := junitSuite{Name: "simulator run", Tests: len(results)}
	for _, r := range results {
		c := junitCase{Name: r.Scenario + " × " + r.Source, ClassName: r.Source, File: r.File, Line: r.Line,
			Time: r.Took.Seconds(), Properties: []junitProperty{{"system_under_test", r.SystemUnderTest},
				{"expectations", r.Expectations}}}
		suite.Time += r.Took.Seconds()
		if !r.Passed {
			suite.Failures++
			var b strings.Builder
			scenarios.ReportFailures(&b, []scenarios.Result{r})
			msg := "failed"
			if len(r.Problems) > 0 {
				msg = r.Problems[0]
			}
			c.Failure = &junitFailure{Message: msg, Text: b.String()}
		}
		suite.Cases = append(suite.Cases, c)
	}
	out, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{suite}}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append([]byte(xml.Header), append(out, '\n')...), 0o644)
}

// writeExpectations plays each run twice and writes into each file what arrived alike both times.
func writeExpectations(ctx context.Context, jobs []job, target scenarios.Target, stdout io.Writer) error {
	byFile := map[string]map[string]scenarios.Observed{}
	for _, j := range jobs {
		first, res := scenarios.Observe(ctx, j.s, j.src, target)
		if len(res.Problems) > 0 {
			return cli.Failed(fmt.Errorf("%s × %s could not be played: %s", j.s.Name, j.src,
				strings.Join(res.Problems, "; ")))
		}
		second, _ := scenarios.Observe(ctx, j.s, j.src, target)
		if byFile[j.s.File] == nil {
			byFile[j.s.File] = map[string]scenarios.Observed{}
		}
		obs := scenarios.Stable(first, second)
		byFile[j.s.File][j.src] = obs
		fmt.Fprintf(stdout, "%s × %s: %d CleverTap record(s), %d Piano event(s), %d dead letter(s)\n", j.s.Name, j.src,
			len(obs.CleverTap), len(obs.Piano), len(obs.DeadLetters))
	}
	for _, file := range slices.Sorted(maps.Keys(byFile)) {
		if err := scenarios.WriteExpectations(file, byFile[file]); err != nil {
			return cli.Usagef("writing %s: %w", file, err)
		}
		fmt.Fprintf(stdout, "wrote %s (reviewed: false): read the diff, then remove that line; until then it fails\n",
			file)
	}
	return nil
}

// parseWebhooks reads --webhook SOURCE=URL and --secret SOURCE=VALUE|env:NAME.
func parseWebhooks(webhooks, secrets []string, getenv func(string) string) (map[string]string,
	map[string]sources.Credential, error) {
	hooks := map[string]string{}
	for _, w := range webhooks {
		source, raw, err := sourceValue("--webhook", w, "URL")
		if err != nil {
			return nil, nil, err
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, cli.Usagef("--webhook %s: expected an http:// or https:// URL, got %q", source, redact.URL(raw))
		}
		hooks[source] = raw
	}
	creds := map[string]sources.Credential{}
	for _, s := range secrets {
		source, value, err := sourceValue("--secret", s, "VALUE")
		if err != nil {
			return nil, nil, err
		}
		if name, ok := strings.CutPrefix(value, "env:"); ok {
			if value = getenv(name); value == "" {
				return nil, nil, cli.Usagef("--secret %s=env:%s: the variable %s is empty or unset", source, name, name)
			}
		}
		if hooks[source] == "" {
			return nil, nil, cli.Usagef("--secret %s: only your own service takes your secret; give --webhook %s=URL "+
				"too (the reference relay takes its config's)", source, source)
		}
		creds[source] = sources.Credential{Value: value}
	}
	return hooks, creds, nil
}

// sourceValue splits SOURCE=VALUE and checks the source.
func sourceValue(flag, arg, what string) (string, string, error) {
	source, value, found := strings.Cut(arg, "=")
	if !found || value == "" {
		shown := redact.URL(arg)
		if flag == "--secret" {
			shown = clip.Secret(arg)
		}
		return "", "", cli.Usagef("%s: expected SOURCE=%s, got %q", flag, what, shown)
	}
	if !slices.Contains(scenarios.Sources, source) {
		return "", "", cli.Usagef("%s %q: expected one of %s%s", flag, source, strings.Join(scenarios.Sources, ", "),
			suggest.DidYouMean(source, scenarios.Sources))
	}
	return source, value, nil
}

// describeTarget says, before anything plays, where each source's webhooks go and whose expectations judge them.
func describeTarget(w io.Writer, jobs []job, target scenarios.Target) {
	var seen []string
	yours, builtIn := 0, 0
	for _, j := range jobs {
		if !slices.Contains(seen, j.src) {
			seen = append(seen, j.src)
		}
		if j.s.BuiltIn {
			builtIn++
		} else {
			yours++
		}
	}
	for _, src := range seen {
		fmt.Fprintf(w, "%s webhooks -> %s\n", src, target.SystemUnderTest(src))
	}
	fmt.Fprintf(w, "expectations: %d run(s) of your files, %d of the built-in scenarios; the fake CleverTap at %s "+
		"is the judge (no relay is asked about your service)\n", yours, builtIn, target.SimulatorURL)
}
