package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/certs"
	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/syncbuf"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// tlsUpstream is a fake CleverTap over TLS with a certificate from a test CA in dir (dir/ca.pem to trust), which
// discards the event "Gone".
func tlsUpstream(t *testing.T, dir string) string {
	t.Helper()
	pair, err := certs.Ensure(dir, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	accounts := clevertap.DefaultAccounts()
	for i := range accounts {
		accounts[i].DiscardedEvents = []string{"Gone"}
	}
	real, err := fake.New(fake.Options{Accounts: accounts})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: real, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String() + "/{region}"
}

// simulator proxy as a user runs it: trusting a private CA, capturing, gating on refused records; the running
// proxy's report from simulator proxy report; the capture replayed offline.
func TestProxyCommandForwardsReportsAndFailsOnRefused(t *testing.T) {
	dir := t.TempDir()
	upstream := tlsUpstream(t, dir)
	capture, report := filepath.Join(dir, "capture.jsonl"), filepath.Join(dir, "report.json")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"proxy", "--listen", "127.0.0.1:0", "--upstream", upstream, "--upstream-ca",
			filepath.Join(dir, certs.CAFile), "--capture", capture, "--fail-on", "refused", "--json", report},
			func(string) string { return "" }, &stdout, &stderr)
	}()
	listening := regexp.MustCompile(`proxy listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(5 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the proxy did not start; stderr: %s", stderr.String())
		}
	}
	creds := clevertap.Credentials{AccountID: "SIM-IN1-0001", Passcode: "sim-in1-pass"}
	resp, _, err := clevertap.NewClient(base).Upload(ctx, "in1", creds,
		map[string]any{"type": "event", "identity": "u", "ts": 1700000000, "evtName": "Gone", "evtData": map[string]any{}})
	if err != nil || resp.Status != "fail" || len(resp.Unprocessed) != 1 || resp.Unprocessed[0].Code != 528 {
		t.Fatalf("expected the upstream's refusal of the discarded event (528) through the proxy, got %+v %v", resp, err)
	}
	var out syncbuf.Buffer
	err = run(ctx, []string{"proxy", "report", "--proxy", base, "--fail-on", "refused"}, func(string) string { return "" },
		&out, &out)
	if cli.Code(err) != cli.ExitFailed ||
		!strings.Contains(out.String(), "CleverTap refused record 0 inside an HTTP 200") {
		t.Fatalf("expected proxy report to fail on the refused record and name it, got %v:\n%s", err, out.String())
	}
	cancel()
	if err := <-done; cli.Code(err) != cli.ExitFailed || !strings.Contains(err.Error(), "refused: CleverTap refused 1") {
		t.Fatalf("expected the proxy to exit 1 at shutdown for the refused record, got %v", err)
	}
	var r struct {
		Exchanges      int            `json:"exchanges"`
		RefusedRecords int            `json:"refused_records"`
		Drift          map[string]int `json:"drift"`
	}
	raw, _ := os.ReadFile(report)
	if err := json.Unmarshal(raw, &r); err != nil || r.Exchanges != 1 || r.RefusedRecords != 1 ||
		r.Drift["too_lenient"] != 1 {
		t.Fatalf("expected the JSON report: 1 exchange, 1 refused record, drift too lenient (the proxy's learned "+
			"view discards nothing); got %s (%v)", raw, err)
	}
	captured, _ := os.ReadFile(capture)
	if strings.Count(string(captured), "\n") != 1 || strings.Contains(string(captured), "sim-in1-pass") {
		t.Fatalf("expected one captured exchange without the passcode, got %s", captured)
	}
	out = syncbuf.Buffer{}
	fixtures := filepath.Join(dir, "fixtures")
	err = run(context.Background(), []string{"replay", capture, "--fail-on", "drift", "--fixtures", fixtures},
		func(string) string { return "" }, &out, &out)
	if cli.Code(err) != cli.ExitFailed || !strings.Contains(out.String(), "too_lenient") {
		t.Fatalf("expected the replay to show and fail on the drift, got %v:\n%s", err, out.String())
	}
	var fixture struct {
		CleverTap struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		} `json:"clevertap"`
		Fake struct {
			Body string `json:"body"`
		} `json:"fake"`
	}
	raw, _ = os.ReadFile(filepath.Join(fixtures, "line-1-too_lenient.json"))
	if err := json.Unmarshal(raw, &fixture); err != nil || !strings.Contains(fixture.CleverTap.Body, `"code":528`) ||
		!strings.Contains(fixture.Fake.Body, `"status":"success"`) {
		t.Fatalf("expected a fixture with CleverTap's 528 and the fake's success, got %s (%v)", raw, err)
	}
	out = syncbuf.Buffer{}
	err = run(context.Background(), []string{"replay", filepath.Join(dir, "nope.jsonl")},
		func(string) string { return "" }, &out, &out)
	if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), "capture file") {
		t.Fatalf("expected a missing capture named, exit 2, got %v", err)
	}
}
