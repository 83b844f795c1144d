package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/syncbuf"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestServeAnswersUploadsAndHealth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string {
			return map[string]string{"SIMULATOR_LISTEN": "127.0.0.1:0", "SIMULATOR_COUNT_IMMEDIATE": "true",
				"SIMULATOR_READ_ERRORS_WITH_HTTP_STATUS": "true"}[k]
		}, &stdout, &stderr)
	}()
	listening := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	deadline := time.Now().Add(10 * time.Second)
	for base == "" {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("simulator did not start; stderr: %s", stderr.String())
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	// the welcome text follows the listening line in separate writes: wait for each part, do not sample once
	for _, want := range []string{"SIM-EU1-0001", "SIM-EU1-SBX1", "SIM-MEC1-0001",
		"curl -s -X POST " + base + "/eu1/1/upload"} {
		for !strings.Contains(stdout.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("expected the welcome text to contain %q, got:\n%s", want, stdout.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	c := clevertap.NewClient(base)
	resp, _, err := c.Upload(ctx, "aps3", clevertap.Credentials{AccountID: "SIM-APS3-0001", Passcode: "sim-aps3-pass"},
		map[string]any{"type": "event", "identity": "u", "ts": 1700000000, "evtName": "e", "evtData": map[string]any{}})
	if err != nil || resp.Status != "success" {
		t.Fatalf("expected a successful upload over HTTP, got %+v %v", resp, err)
	}
	// the read side's flags: a count answered at once, a query error with its code as the HTTP status
	for body, want := range map[string]string{
		`{"event_name":"e","from":20231114,"to":20231114}`: `200 {"count":1,"status":"success"}`,
		`{"event_name":"nope","from":20231114,"to":20231114}`: `400 {"status":"fail",` +
			`"error":"[\"Invalid event : nope\"]","code":400}`,
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/aps3/1/counts/events.json",
			strings.NewReader(body))
		req.Header.Set("X-CleverTap-Account-Id", "SIM-APS3-0001")
		req.Header.Set("X-CleverTap-Passcode", "sim-aps3-pass")
		res, err := c.Do(req)
		if err != nil || fmt.Sprintf("%d %s", res.StatusCode, res.Body) != want {
			t.Errorf("count %s: expected %s, got %+v %v", body, want, res, err)
		}
	}
	var out syncbuf.Buffer
	if err := run(ctx, []string{"health", "--url", base}, func(string) string { return "" }, &out,
		&out); err != nil || strings.TrimSpace(out.String()) != "ok" {
		t.Fatalf("expected health ok, got %v %q", err, out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve should stop cleanly, got %v", err)
	}
}

func TestBadInvocationsSayWhatWasExpected(t *testing.T) {
	getenv := func(string) string { return "" }
	cases := []struct {
		args []string
		want string
	}{
		{nil, "expected a command: serve, up, tail, emit, run, load, health, proxy or replay"},
		{[]string{"serev"}, `unknown command "serev" for "simulator"`},
		{[]string{"serve", "--accounts", "/nonexistent.yaml"}, "accounts file: open /nonexistent.yaml"},
		{[]string{"serve", "--log-level", "loud"}, `--log-level: expected debug, info, warn or error, got "loud"`},
		{[]string{"serve", "--listen", "256.0.0.1:1"}, "--listen 256.0.0.1:1"},
		{[]string{"serve", "--count-delay", "-1s"}, "--count-delay: expected 0 or more"},
		{[]string{"health", "--url", "http://127.0.0.1:1", "--timeout", "200ms"}, "not healthy"},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		err := run(context.Background(), tc.args, getenv, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: expected an error containing %q, got %v", tc.args, tc.want, err)
		}
	}
}

// A port already taken says which flag moves it, once.
func TestAddressInUseNamesTheFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--listen", taken}, "--listen " + taken + ": the address is in use"},
		{[]string{"up", "--listen", "127.0.0.1:0", "--relay-listen", taken},
			"--relay-listen " + taken + ": the address is in use"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), c.args, func(string) string { return "" }, &out, &out)
		if cli.Code(err) != cli.ExitUsage || err == nil || !strings.Contains(err.Error(), c.want) ||
			strings.Count(err.Error(), "simulator:") > 0 {
			t.Errorf("%v: expected exit 2 saying %q, got %d %v", c.args, c.want, cli.Code(err), err)
		}
	}
}

// A flag's help shows its type: pflag takes a `backquoted` word of the help text as the type's name instead.
func TestEveryFlagShowsItsType(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if strings.Contains(f.Usage, "`") {
				t.Errorf("%s --%s: a backquote in its help replaces its type: %q", c.CommandPath(), f.Name, f.Usage)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(func(string) string { return "" }))
}

// Completion offers the values a flag takes, not only its name.
func TestCompletionOffersFlagValues(t *testing.T) {
	for args, want := range map[string][]string{
		"__complete tail --outcome ": {"accepted", "partial", "rate_limited"},
		"__complete tail --region ":  {"eu1", "sk1"},
		"__complete run --source ":   {"revenuecat", "purchasely", "appsflyer"},
		"__complete load --source ":  {"appsflyer"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), append(strings.Fields(args), ""), func(string) string { return "" },
			&out, &out); err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		for _, w := range want {
			if !strings.Contains(out.String(), w+"\n") {
				t.Errorf("%q: expected %s offered, got %q", args, w, out.String())
			}
		}
	}
}
